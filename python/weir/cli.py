"""The `weir` command: serve, accounts, keys, models, migrate. Errors go to stderr with a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from weir import __version__, server
from weir.admin.tokens import digest
from weir.config import (
    DEMO_MODEL,
    Config,
    ConfigError,
    load_config,
    self_url,
    usd_to_microcents,
    validate_admin_tokens,
)
from weir.service import Service, migrate, open_service, values, views
from weir.service.errors import Invalid, ServiceError
from weir.store.base import StoreError
from weir.store.records import AccountUpdate, KeyKind

DEMO_ACCOUNT = "demo"
DEMO_BALANCE_USD = "10"
# The service's names for inputs, as this command line spells them (in messages)
_FLAGS = {"balance": "--balance-usd", "amount": "USD", "note": "--note", "idempotency_key": "--idempotency-key"}


class CommandError(Exception):
    pass


def _config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None) or os.environ.get("WEIR_CONFIG") or None
    return str(Path(path).resolve()) if path else None


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _service_call(config: Config, action: Callable[[Service], Awaitable[None]]) -> None:
    async def run() -> None:
        async with open_service(config) as service:
            await action(service)

    asyncio.run(run())


def cmd_accounts(args: argparse.Namespace, config: Config) -> None:
    async def run(service: Service) -> None:
        accounts = service.accounts
        if args.action == "create":
            account = await accounts.create(args.name, values.usd(args.balance_usd, "balance"))
        elif args.action == "show":
            account = await accounts.get(args.name)
        elif args.action in ("disable", "enable"):
            found = await accounts.get(args.name)
            account = await accounts.update(found.id, AccountUpdate(disabled=args.action == "disable"))
        else:
            amount = values.usd(args.usd, "amount")
            found = await accounts.get(args.name)
            account = (await accounts.topup(found.id, amount, args.note, args.idempotency_key)).account
        _print_json(views.account_json(account))

    _service_call(config, run)


def cmd_keys(args: argparse.Namespace, config: Config) -> None:
    async def run(service: Service) -> None:
        if args.action == "create":
            kind: KeyKind = "management" if args.management else "inference"
            account = await service.accounts.get(args.account)
            made = await service.keys.create(account.id, kind, args.name)
            article = "an" if kind == "inference" else "a"
            sys.stderr.write(f"Created {article} {kind} key for {args.account!r}. It is shown once; store it now.\n")
            sys.stdout.write(made.plaintext + "\n")
        elif args.action == "list":
            account = await service.accounts.get(args.account)
            _print_json([views.key_json(k) for k in await service.keys.list(account.id)])
        else:
            revoked = await service.keys.revoke(args.key_id)
            sys.stdout.write(f"revoked {revoked.id}\n")

    _service_call(config, run)


def cmd_models(args: argparse.Namespace, config: Config) -> None:
    """The configured models with the prices they are billed at (service.views.model_json)."""
    _print_json([views.model_json(m) for m in config.models])


def cmd_providers(args: argparse.Namespace, config: Config) -> None:
    async def run(service: Service) -> None:
        catalog = service.catalog
        if args.action == "pause":
            await catalog.pause(args.name, args.reason)
            sys.stdout.write(f"paused {args.name}; every worker stops using it within the key cache TTL\n")
        elif args.action == "resume":
            await catalog.resume(args.name)
            sys.stdout.write(f"resumed {args.name}; its keys are usable again\n")
        else:
            _print_json([views.provider_json(view) for view in await catalog.providers()])

    _service_call(config, run)


def cmd_admin(args: argparse.Namespace, config: Config | None) -> None:
    """`weir admin hash-token`: the token on standard input, as `[admin] tokens` may hold it (its SHA-256)."""
    token = sys.stdin.readline().strip()
    problems = validate_admin_tokens([token], "the token")
    if problems:
        raise CommandError(problems[0])
    sys.stdout.write(digest(token) + "\n")


def cmd_migrate(args: argparse.Namespace, config: Config) -> None:
    applied = asyncio.run(migrate(config))
    sys.stdout.write(f"applied migrations: {applied}\n" if applied else "the database is up to date\n")


async def _bootstrap_demo(config: Config) -> str | None:
    """On first start of the embedded defaults: a demo account with a balance and a key (printed once)."""
    async with open_service(config) as service:
        if await service.accounts.find(DEMO_ACCOUNT) is not None:
            return None
        account = await service.accounts.create(DEMO_ACCOUNT, usd_to_microcents(Decimal(DEMO_BALANCE_USD), "demo"))
        return (await service.keys.create(account.id, "inference", "demo")).plaintext


def _demo_banner(config: Config, key: str | None) -> str:
    """What the embedded defaults print at start: the demo models, the key (first start only) and a curl to try,
    written as the README's recipes are (WEIR and WEIR_KEY), so that it can be pasted into a shell as it is."""
    demo = ", ".join(m.id for m in config.models)
    lines = [
        "",
        f"Weir {__version__} on embedded defaults: SQLite at {config.storage.url}",
        f"Demo models, every one answered by the built-in echo upstream (no real provider): {demo}",
    ]
    if key is None:
        lines.append(f"The demo account exists; make it a key with: weir keys create --account {DEMO_ACCOUNT}")
        lines.append("Try it, with that key:")
    else:
        lines.append(f"Created the account {DEMO_ACCOUNT!r} with ${DEMO_BALANCE_USD} and this key (shown once):")
        lines.append(f"  {key}")
        lines.append("Try it:")
    body = f'{{"model":"{DEMO_MODEL}","stream":true,"messages":[{{"role":"user","content":"hello weir"}}]}}'
    lines += [
        f"  export WEIR={self_url(config)} WEIR_KEY={key or 'sk-weir_...'}",
        '  curl -N $WEIR/v1/chat/completions -H "Authorization: Bearer $WEIR_KEY" \\',
        f"    -H 'Content-Type: application/json' -d '{body}'",
        "",
    ]
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace, config_path: str | None) -> None:
    for env, value in (("WEIR_HOST", args.host), ("WEIR_PORT", args.port), ("WEIR_WORKERS", args.workers)):
        if value is not None:
            os.environ[env] = str(value)
    config = load_config(config_path)
    if config_path:
        os.environ["WEIR_CONFIG"] = config_path
    else:
        os.environ.pop("WEIR_CONFIG", None)
    try:
        address_lock = server.claim_address(config.server.host, config.server.port)  # held until serve returns
    except server.AddressInUse as exc:
        raise CommandError(str(exc)) from exc
    try:
        if config.is_demo:
            sys.stderr.write(_demo_banner(config, asyncio.run(_bootstrap_demo(config))) + "\n")
        else:
            _service_call(config, _noop)  # migrate once, before the workers start
        if config.server.workers > 1:
            metrics_dir = config.data_path / f"prometheus-{config.server.port}"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        server.serve(config)
    finally:
        if address_lock is not None:
            address_lock.close()


async def _noop(service: Service) -> None:
    return None


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
    keys_.add_parser("list", parents=[common], help="list an account's keys").add_argument("--account", required=True)
    keys_.add_parser("revoke", parents=[common], help="revoke a key by its id").add_argument("key_id")

    models = sub.add_parser("models", parents=[common], help="configured models").add_subparsers(
        dest="action", required=True
    )
    models.add_parser("list", parents=[common], help="list models, aliases, prices and routes")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_path = _config_path(args)
    try:
        if args.command == "serve":
            cmd_serve(args, config_path)
            return 0
        if args.command == "admin":  # needs no configuration
            cmd_admin(args, None)
            return 0
        config = load_config(config_path)
        handlers = {
            "accounts": cmd_accounts,
            "keys": cmd_keys,
            "models": cmd_models,
            "providers": cmd_providers,
            "migrate": cmd_migrate,
        }
        handlers[args.command](args, config)
    except ConfigError as exc:
        sys.stderr.write(f"weir: {exc}\n")
        return 2
    except Invalid as exc:
        name = exc.param or ""
        sys.stderr.write(f"weir: error: {_FLAGS.get(name, name)}: {exc.reason}\n")
        return 1
    except (CommandError, ServiceError, StoreError, ValueError) as exc:
        sys.stderr.write(f"weir: error: {exc}\n")
        return 1
    return 0
