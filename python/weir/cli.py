"""The `weir` command: serve, accounts, keys, models, providers, migrate. Errors go to stderr with a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec
import orjson

from weir import __version__, keys, server
from weir.config import DEMO_MODEL, Config, ConfigError, Price, load_config, self_url, usd_to_microcents
from weir.keys import load_pepper
from weir.redact import redact_url
from weir.service import providers
from weir.store import open_store, provision
from weir.store.base import NotFound as StoreNotFound
from weir.store.base import Store, StoreError
from weir.store.records import KeyKind

DEMO_ACCOUNT = "demo"
DEMO_BALANCE_USD = "10"


class CommandError(Exception):
    pass


def _config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None) or os.environ.get("WEIR_CONFIG") or None
    return str(Path(path).resolve()) if path else None


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _usd(value: str, what: str) -> int:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise CommandError(f"{what}: {value!r} is not a number") from exc
    if not amount.is_finite():
        raise CommandError(f"{what}: {value!r} is not a number")
    try:
        return usd_to_microcents(amount, what)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


async def _with_store(config: Config, action: Callable[[Store], Awaitable[None]]) -> None:
    config.data_path.mkdir(parents=True, exist_ok=True)
    store = await open_store(config.storage.url)
    try:
        await provision.prepare(store, config.data_path, redact_url(config.storage.url), create=False)
        await action(store)
    finally:
        await store.close()


def _account_json(account: Any) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "balance_microcents": account.balance_microcents,
        "balance_usd": str(Decimal(account.balance_microcents) / 100_000_000),
        "created_at": account.created_at,
    }


async def _create_key(store: Store, config: Config, account: str, kind: KeyKind, name: str | None) -> str:
    found = await store.get_account(account)
    if found is None:
        raise CommandError(f"no account named {account!r}")
    plaintext, parsed = keys.generate(kind)
    await store.create_key(found.id, parsed.key_id, keys.secret_hmac(load_pepper(config), parsed.secret), kind, name)
    return plaintext


def cmd_accounts(args: argparse.Namespace, config: Config) -> None:
    async def run(store: Store) -> None:
        if args.action == "create":
            balance = _usd(args.balance_usd, "--balance-usd")
            if balance < 0:
                raise CommandError("--balance-usd: must not be negative")
            _print_json(_account_json(await store.create_account(args.name, balance)))
        elif args.action == "show":
            account = await store.get_account(args.name)
            if account is None:
                raise CommandError(f"no account named {args.name!r}")
            _print_json(_account_json(account))
        else:
            amount = _usd(args.usd, "USD")
            if amount <= 0:
                raise CommandError("USD: a top-up must be greater than 0")
            try:
                _print_json(_account_json(await store.topup(args.name, amount, "cli top-up")))
            except StoreNotFound as exc:
                raise CommandError(f"no account named {args.name!r}") from exc

    asyncio.run(_with_store(config, run))


def cmd_keys(args: argparse.Namespace, config: Config) -> None:
    async def run(store: Store) -> None:
        if args.action == "create":
            kind: KeyKind = "management" if args.management else "inference"
            plaintext = await _create_key(store, config, args.account, kind, args.name)
            article = "an" if kind == "inference" else "a"
            sys.stderr.write(f"Created {article} {kind} key for {args.account!r}. It is shown once; store it now.\n")
            sys.stdout.write(plaintext + "\n")
        elif args.action == "list":
            account = await store.get_account(args.account)
            if account is None:
                raise CommandError(f"no account named {args.account!r}")
            rows = await store.list_keys(account.id)
            _print_json(
                [
                    {
                        "id": k.id,
                        "kind": k.kind,
                        "name": k.name,
                        "created_at": k.created_at,
                        "revoked_at": k.revoked_at,
                        "last_used_at": k.last_used_at,
                    }
                    for k in rows
                ]
            )
        else:
            key_id = args.key_id
            parsed = keys.parse(key_id)
            if parsed is not None:  # a whole key was given: revoke it by its id
                key_id = parsed.key_id
            if not await store.revoke_key(key_id):
                raise CommandError(f"no active key with id {key_id!r}")
            sys.stdout.write(f"revoked {key_id}\n")

    asyncio.run(_with_store(config, run))


def _media_prices(price: Price) -> dict[str, float]:
    units = {"image": price.image, "character": price.character, "second": price.second}
    return {unit: value for unit, value in units.items() if value}


def cmd_models(args: argparse.Namespace, config: Config) -> None:
    """The configured models with the prices they are billed at: cached_input and cache_write are shown resolved
    (to the input price when not configured), media prices only where set."""
    rows = []
    for m in config.models:
        p = m.price
        tokens = {
            "input": p.input,
            "output": p.output,
            "cached_input": p.input if p.cached_input is None else p.cached_input,
            "cache_write": p.input if p.cache_write is None else p.cache_write,
        }
        row: dict[str, Any] = {"id": m.id, "aliases": m.aliases, "price_usd_per_1m_tokens": tokens}
        if media := _media_prices(p):
            row["price_usd_per_unit"] = media  # image: per image; character: per 1M characters; second: per second
        row["routes"] = [{"provider": r.provider, "model": r.model} for r in m.routes]
        rows.append(row)
    _print_json(rows)


def cmd_providers(args: argparse.Namespace, config: Config) -> None:
    async def run(store: Store) -> None:
        try:
            if args.action == "pause":
                await providers.pause(store, config, args.name, args.reason)
                sys.stdout.write(f"paused {args.name}; every worker stops using it within the key cache TTL\n")
            elif args.action == "resume":
                await providers.resume(store, config, args.name)
                sys.stdout.write(f"resumed {args.name}; its keys are usable again\n")
            else:
                _print_json([msgspec.to_builtins(view) for view in await providers.states(store, config)])
        except providers.UnknownProvider as exc:
            raise CommandError(str(exc)) from exc

    asyncio.run(_with_store(config, run))


def cmd_migrate(args: argparse.Namespace, config: Config) -> None:
    async def run() -> None:
        config.data_path.mkdir(parents=True, exist_ok=True)
        store = await open_store(config.storage.url)
        try:
            applied = await provision.prepare(store, config.data_path, redact_url(config.storage.url), create=True)
        finally:
            await store.close()
        sys.stdout.write(f"applied migrations: {applied}\n" if applied else "the database is up to date\n")

    asyncio.run(run())


async def _bootstrap_demo(config: Config) -> str | None:
    """On first start of the embedded defaults: a demo account with a balance and a key (printed once)."""
    result: list[str] = []

    async def run(store: Store) -> None:
        if await store.get_account(DEMO_ACCOUNT) is not None:
            return
        await store.create_account(DEMO_ACCOUNT, usd_to_microcents(Decimal(DEMO_BALANCE_USD), "demo"))
        result.append(await _create_key(store, config, DEMO_ACCOUNT, "inference", "demo"))

    await _with_store(config, run)
    return result[0] if result else None


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
            asyncio.run(_with_store(config, _noop))  # migrate once, before the workers start
        if config.server.workers > 1:
            metrics_dir = config.data_path / f"prometheus-{config.server.port}"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        server.serve(config)
    finally:
        if address_lock is not None:
            address_lock.close()


async def _noop(store: Store) -> None:
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_path = _config_path(args)
    try:
        if args.command == "serve":
            cmd_serve(args, config_path)
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
    except (CommandError, StoreError, ValueError) as exc:
        sys.stderr.write(f"weir: error: {exc}\n")
        return 1
    return 0
