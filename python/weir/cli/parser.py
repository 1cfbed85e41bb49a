"""The command line's grammar."""

from __future__ import annotations

import argparse

from weir import __version__
from weir.cli.key_flags import add_key_flags
from weir.config.validate import TIER_LIMITS

PRICE_FLAGS = {  # `weir models price` flag -> what its price is for
    "input": "per 1M input tokens",
    "output": "per 1M output tokens",
    "cached-input": "per 1M cache-read tokens ('input': the input price)",
    "cache-write": "per 1M cache-write tokens ('input': the input price)",
    "image": "per generated image",
    "character": "per 1M characters of speech input",
    "second": "per second of transcribed audio",
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="path to weir.toml (default: $WEIR_CONFIG)")
    parser = argparse.ArgumentParser(prog="weir", description="Weir, an LLM API gateway.", parents=[common])
    parser.add_argument("--version", action="version", version=f"weir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)

    accounts = sub.add_parser("accounts", parents=[common], help="wallet accounts").add_subparsers(
        dest="action", required=True
    )
    create = accounts.add_parser("create", parents=[common], help="create an account")
    create.add_argument("name")
    create.add_argument("--balance-usd", default="0")
    update = accounts.add_parser("update", parents=[common], help="change an account's multiplier or allowed tiers")
    update.add_argument("name")
    for one in (create, update):
        one.add_argument("--rate-multiplier", metavar="X", help="its prices times X (0.8, 1.25; default 1)")
        one.add_argument(
            "--allowed-tiers", metavar="A,B", help="the tiers its owner may give its keys; none: only the operator"
        )
    accounts.add_parser("show", parents=[common], help="show an account as JSON").add_argument("name")
    topup = accounts.add_parser("topup", parents=[common], help="add money to an account")
    topup.add_argument("name")
    topup.add_argument("usd")
    topup.add_argument("--note", default="cli top-up", help="kept in the ledger (default: cli top-up)")
    topup.add_argument("--idempotency-key", help="a retry with the same key is applied once")
    accounts.add_parser("disable", parents=[common], help="refuse every key of the account").add_argument("name")
    accounts.add_parser("enable", parents=[common], help="accept the account's keys again").add_argument("name")

    keys_ = sub.add_parser("keys", parents=[common], help="API keys").add_subparsers(dest="action", required=True)
    kcreate = keys_.add_parser("create", parents=[common], help="create a key (printed once, on the last line)")
    kcreate.add_argument("--account", required=True)
    kcreate.add_argument("--management", action="store_true", help="a management key instead of an inference key")
    kcreate.add_argument("--name", help="a label for the key")
    add_key_flags(kcreate)
    keys_.add_parser("list", parents=[common], help="list an account's keys").add_argument("--account", required=True)
    keys_.add_parser("show", parents=[common], help="show a key's settings as JSON").add_argument("key_id")
    kupdate = keys_.add_parser("update", parents=[common], help="change a key's name, tier, limits, models...")
    kupdate.add_argument("key_id")
    kupdate.add_argument("--name", help="a label for the key ('' removes it)")
    add_key_flags(kupdate)
    keys_.add_parser("revoke", parents=[common], help="revoke a key by its id").add_argument("key_id")

    models = sub.add_parser("models", parents=[common], help="configured models").add_subparsers(
        dest="action", required=True
    )
    models.add_parser("list", parents=[common], help="list models, aliases, prices, routes and states")
    disable = models.add_parser("disable", parents=[common], help="refuse every call to a model (403 model_disabled)")
    disable.add_argument("id", help="the model's id or an alias")
    disable.add_argument("--reason", help="given to callers in the error")
    models.add_parser("enable", parents=[common], help="accept calls to a disabled model again").add_argument("id")
    price = models.add_parser(
        "price", parents=[common], help="bill a model at new prices on every worker (those not given are kept)"
    )
    price.add_argument("id", help="the model's id or an alias")
    for flag, unit in PRICE_FLAGS.items():
        price.add_argument(f"--{flag}", metavar="USD", help=unit)
    price.add_argument("--reset", action="store_true", help="go back to the prices in the configuration")
    tiers = sub.add_parser("tiers", parents=[common], help="configured tiers").add_subparsers(
        dest="action", required=True
    )
    tiers.add_parser("list", parents=[common], help="list tiers with their models, limits and price multipliers")
    tset = tiers.add_parser(
        "set", parents=[common], help="change a tier's settings on every worker (those not given are kept)"
    )
    tset.add_argument("name", help="a configured tier")
    tset.add_argument("--description", help="shown to key owners")
    tset.add_argument("--models", help="comma-separated ids, aliases or globs (claude-*); all: every model")
    for name in TIER_LIMITS:
        tset.add_argument("--" + name.replace("_", "-"), dest=name, metavar="N", help="none: unlimited")
    tset.add_argument("--price-multiplier", metavar="X", help="its keys pay the models' prices times this")
    tiers.add_parser("reset", parents=[common], help="a tier's settings from the configuration again").add_argument(
        "name"
    )
    byok = sub.add_parser("byok", parents=[common], help="accounts' own provider keys").add_subparsers(
        dest="action", required=True
    )
    byok_set = byok.add_parser("set", parents=[common], help="store an account's own key (read from standard input)")
    byok_list = byok.add_parser("list", parents=[common], help="the providers an account has its own key for")
    byok_delete = byok.add_parser("delete", parents=[common], help="forget an account's own key for a provider")
    for one in (byok_set, byok_list, byok_delete):
        one.add_argument("--account", required=True)
    for one in (byok_set, byok_delete):
        one.add_argument("--provider", required=True)
    byok.add_parser("keygen", parents=[common], help="print a new billing.byok_key")
    providers_ = sub.add_parser("providers", parents=[common], help="upstream providers").add_subparsers(
        dest="action", required=True
    )
    pause = providers_.add_parser("pause", parents=[common], help="stop sending calls to a provider")
    pause.add_argument("name")
    pause.add_argument("--reason", help="shown to operators, and in the error when every route is paused")
    providers_.add_parser("resume", parents=[common], help="use a paused provider again").add_argument("name")
    providers_.add_parser("list", parents=[common], help="providers with pause, breaker and key states")
    sub.add_parser("migrate", parents=[common], help="apply database migrations")
    admin = sub.add_parser("admin", parents=[common], help="operator tokens").add_subparsers(
        dest="action", required=True
    )
    admin.add_parser(
        "hash-token", parents=[common], help="read a token from stdin; print what [admin] tokens may hold instead"
    )
    return parser
