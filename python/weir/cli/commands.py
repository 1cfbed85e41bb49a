"""The commands on accounts, keys, models, tiers and providers (on the service layer), `weir admin`, `weir migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec
from cryptography.fernet import Fernet
from msgspec import UNSET, UnsetType

from weir.admin.tokens import digest
from weir.cli.key_flags import key_settings
from weir.cli.parser import PRICE_FLAGS
from weir.cli.run import CommandError, print_json, service_call
from weir.config import TIER_LIMITS, Config, validate_admin_tokens
from weir.service import Service, migrate, values, views
from weir.store.records import AccountUpdate, KeyKind


def cmd_accounts(args: argparse.Namespace, config: Config) -> None:
    async def run(service: Service) -> None:
        accounts = service.accounts
        if args.action == "create":
            account = await accounts.create(args.name, values.usd(args.balance_usd, "balance"))
            if args.rate_multiplier is not None or args.allowed_tiers is not None:
                account = await accounts.update(account.id, account_changes(args))
        elif args.action == "update":
            found = await accounts.get(args.name)
            account = await accounts.update(found.id, account_changes(args))
        elif args.action == "show":
            account = await accounts.get(args.name)
        elif args.action in ("disable", "enable"):
            found = await accounts.get(args.name)
            account = await accounts.update(found.id, AccountUpdate(disabled=args.action == "disable"))
        else:
            amount = values.usd(args.usd, "amount")
            found = await accounts.get(args.name)
            account = (await accounts.topup(found.id, amount, args.note, args.idempotency_key)).account
        print_json(views.account_json(account))

    service_call(config, run)


def account_changes(args: argparse.Namespace) -> AccountUpdate:
    """--rate-multiplier and --allowed-tiers (`none`: no tiers), each left as it is when not given."""
    rate = UNSET if args.rate_multiplier is None else values.multiplier(args.rate_multiplier, "--rate-multiplier")
    tiers: list[str] | None | UnsetType = UNSET
    if args.allowed_tiers is not None:
        tiers = None if args.allowed_tiers == "none" else values.items(args.allowed_tiers)
    return AccountUpdate(rate_multiplier_ppm=rate, allowed_tiers=tiers)


def cmd_keys(args: argparse.Namespace, config: Config) -> None:
    async def run(service: Service) -> None:
        if args.action == "create":
            kind: KeyKind = "management" if args.management else "inference"
            account = await service.accounts.get(args.account)
            settings = key_settings(args, None)
            made = await service.keys.create(account.id, kind, args.name, settings)
            article = "an" if kind == "inference" else "a"
            sys.stderr.write(f"Created {article} {kind} key for {args.account!r}. It is shown once; store it now.\n")
            sys.stdout.write(made.plaintext + "\n")
        elif args.action == "list":
            account = await service.accounts.get(args.account)
            print_json([views.key_json(k) for k in await service.keys.list(account.id)])
        elif args.action == "show":
            print_json(views.key_json(await service.keys.get(args.key_id)))
        elif args.action == "update":
            current = await service.keys.get(args.key_id)
            changes = key_settings(args, current)
            if args.name is not None:
                changes = msgspec.structs.replace(changes, name=args.name or None)
            print_json(views.key_json(await service.keys.update(args.key_id, changes)))
        else:
            revoked = await service.keys.revoke(args.key_id)
            sys.stdout.write(f"revoked {revoked.id}\n")

    service_call(config, run)


def cmd_models(args: argparse.Namespace, config: Config) -> None:
    """The configured models with the prices they are billed at and their state (service.views.model_json)."""

    async def run(service: Service) -> None:
        catalog = service.catalog
        if args.action == "disable":
            view = await catalog.disable_model(args.id, args.reason)
            sys.stdout.write(f"disabled {view.model.id}; every worker refuses it within the key cache TTL\n")
        elif args.action == "enable":
            view = await catalog.enable_model(args.id)
            sys.stdout.write(f"enabled {view.model.id}\n")
        elif args.action == "price":
            changes = _prices(args)
            view = await (catalog.reset_prices(args.id) if args.reset else catalog.set_prices(args.id, changes))
            print_json(views.model_json(view.model, view))
        else:
            print_json([views.model_json(v.model, v) for v in await catalog.model_views()])

    service_call(config, run)


def _prices(args: argparse.Namespace) -> dict[str, float | None]:
    """`weir models price`'s flags as price changes (the service checks the values)."""
    changes: dict[str, float | None] = {}
    for flag in PRICE_FLAGS:
        text = getattr(args, flag.replace("-", "_"))
        if text is None:
            continue
        field = flag.replace("-", "_")
        if text == "input" and field in ("cached_input", "cache_write"):
            changes[field] = None
            continue
        try:
            changes[field] = float(text)
        except ValueError:
            raise CommandError(f"--{flag}: must be an amount in USD, got {text!r}") from None
    if not changes and not args.reset:
        raise CommandError("give at least one price (--input, --output, ...) or --reset")
    if changes and args.reset:
        raise CommandError("--reset goes back to the configured prices: give it alone")
    return changes


def cmd_tiers(args: argparse.Namespace, config: Config) -> None:
    """The configured tiers with the settings in effect (`auth.default_tier` marked); `set` and `reset` change
    them on every worker and replica within auth.key_cache_ttl_seconds."""
    default = config.auth.default_tier

    async def run(service: Service) -> None:
        tiers = service.tiers
        if args.action == "set":
            print_json(views.tier_view_json(await tiers.update(args.name, _tier_settings(args)), default))
        elif args.action == "reset":
            print_json(views.tier_view_json(await tiers.reset(args.name), default))
        else:
            print_json([views.tier_view_json(view, default) for view in await tiers.views()])

    service_call(config, run)


def _tier_settings(args: argparse.Namespace) -> dict[str, Any]:
    """`weir tiers set`'s flags as setting changes (the service checks the values)."""
    changes: dict[str, Any] = {}
    if args.description is not None:
        changes["description"] = args.description
    if args.models is not None:
        changes["models"] = None if args.models == "all" else values.items(args.models)
    for name in TIER_LIMITS:
        text = getattr(args, name)
        if text is not None:
            changes[name] = None if text == "none" else _whole(text, name)
    if args.price_multiplier is not None:
        try:
            changes["price_multiplier"] = float(args.price_multiplier)
        except ValueError:
            raise CommandError(f"--price-multiplier: must be a number, got {args.price_multiplier!r}") from None
    if not changes:
        raise CommandError("give at least one setting (--description, --models, --requests-per-minute, ...)")
    return changes


def _whole(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"--{name.replace('_', '-')}: must be a whole number or none, got {text!r}") from None


def cmd_byok(args: argparse.Namespace, config: Config) -> None:
    """An account's own provider keys; `set` reads the key from standard input, so that it is in no shell history
    and no process list."""
    if args.action == "keygen":
        sys.stdout.write(Fernet.generate_key().decode() + "\n")
        return
    secret = sys.stdin.readline() if args.action == "set" else ""

    async def run(service: Service) -> None:
        account = await service.accounts.get(args.account)
        if args.action == "set":
            await service.byok.set(account.id, args.provider, secret)
            sys.stdout.write(f"stored {args.account}'s own key for {args.provider} (encrypted)\n")
        elif args.action == "list":
            print_json([views.byok_json(entry) for entry in await service.byok.list(account.id)])
        else:
            await service.byok.delete(account.id, args.provider)
            sys.stdout.write(f"deleted {args.account}'s own key for {args.provider}\n")

    service_call(config, run)


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
            print_json([views.provider_json(view) for view in await catalog.providers()])

    service_call(config, run)


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
