"""The flags that set what a key may do, shared by `weir keys create` and `weir keys update`, and the KeyUpdate
they make. Each is left as it is when its flag is not given; the word `none` (`never` for --expires) clears one."""

from __future__ import annotations

import argparse
import time

from msgspec import UNSET, UnsetType

from weir.config.validate import TIER_LIMITS
from weir.service import values
from weir.service.errors import Invalid
from weir.store.records import ApiKey, KeyUpdate

CLEAR = "none"
# The service's names for these inputs, as this command line spells them (in messages)
FLAGS = {
    "tier": "--tier",
    "models": "--models",
    "ip_allow": "--ip-allow",
    "expires_at": "--expires",
    "max_price_microcents": "--max-price-usd",
    "spend_limit_microcents": "--spend-limit-usd",
    "spend_period": "--spend-period",
    **{f"limits.{name}": "--" + name.replace("_", "-") for name in TIER_LIMITS},
}


def add_key_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what the key may do (none: back to its tier's)")
    group.add_argument("--tier", help="its tier ([[tiers]]); none: auth.default_tier")
    group.add_argument("--models", help="comma-separated ids, aliases or globs (claude-*) narrowing its tier's")
    group.add_argument("--ip-allow", help="comma-separated CIDRs or addresses it may be used from; none: any")
    group.add_argument("--expires", help="30d, 12h, an ISO 8601 time or epoch ms; never: no expiry")
    group.add_argument(
        "--max-price-usd", metavar="USD", help="the most one call may cost (X-Weir-Max-Price-Microcents overrides it)"
    )
    group.add_argument("--spend-limit-usd", metavar="USD", help="the most its calls may cost per --spend-period")
    group.add_argument("--spend-period", help="day, week, month (UTC) or total (default total); none: total")
    for name in TIER_LIMITS:
        group.add_argument("--" + name.replace("_", "-"), dest=name, metavar="N", help="its own value over its tier's")


def key_settings(args: argparse.Namespace, current: ApiKey | None) -> KeyUpdate:
    """The changes the flags ask for (`current`: the key as it is, whose own limits the limit flags change)."""
    tier = UNSET if args.tier is None else (None if args.tier == CLEAR else args.tier)
    models = UNSET if args.models is None else (None if args.models == CLEAR else values.items(args.models))
    ip_allow = UNSET if args.ip_allow is None else (None if args.ip_allow == CLEAR else values.items(args.ip_allow))
    expires = UNSET if args.expires is None else values.expiry(args.expires, "expires_at", int(time.time() * 1000))
    max_price: int | None | UnsetType = UNSET
    if args.max_price_usd is not None:
        max_price = None if args.max_price_usd == CLEAR else values.usd(args.max_price_usd, "max_price_microcents")
    spend_limit: int | None | UnsetType = UNSET
    if args.spend_limit_usd is not None:
        spend_limit = (
            None if args.spend_limit_usd == CLEAR else values.usd(args.spend_limit_usd, "spend_limit_microcents")
        )
    period = UNSET if args.spend_period is None else (None if args.spend_period == CLEAR else args.spend_period)
    limits: dict[str, int] | None | UnsetType = UNSET
    given = {name: getattr(args, name) for name in TIER_LIMITS if getattr(args, name) is not None}
    if given:
        own: dict[str, int] = dict(current.limits or {}) if current is not None else {}
        for name, text in given.items():
            if text == CLEAR:
                own.pop(name, None)
            elif text.isdigit():
                own[name] = int(text)
            else:
                raise Invalid(f"limits.{name}", f"expected a whole number or {CLEAR}, got {text!r}")
        limits = own or None
    return KeyUpdate(
        tier=tier,
        models=models,
        ip_allow=ip_allow,
        expires_at=expires,
        limits=limits,
        max_price_microcents=max_price,
        spend_limit_microcents=spend_limit,
        spend_period=period,
    )
