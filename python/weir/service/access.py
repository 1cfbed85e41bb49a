"""The rules of a key's settings (tier, own limits, model list, IP allow-list, expiry, price cap, spend limit),
checked once here for every front end. An operator may set anything the configuration allows; a key owner
(the management API's /v1/account) only what narrows its key: a tier the account is allowed, limits no higher than
the tier's, and the rest."""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from weir.config import Config, Tier
from weir.config.validate import TIER_LIMITS, limit_problem, model_pattern_problem, network_problem
from weir.service.errors import Invalid
from weir.store.records import Account, KeyUpdate

MAX_LIST = 100  # entries in a key's model list or IP allow-list
SPEND_PERIODS = ("day", "week", "month", "total")


def tier_named(config: Config, name: str) -> Tier:
    for tier in config.tiers:
        if tier.name == name:
            return tier
    known = ", ".join(t.name for t in config.tiers) or "none is configured ([[tiers]] in weir.toml)"
    raise Invalid("tier", f"no tier named {name!r} (tiers: {known})", code="tier_not_found")


def check(changes: KeyUpdate, config: Config) -> None:
    """Refuse (Invalid, naming the setting) what no key may have."""
    if isinstance(changes.tier, str):
        tier_named(config, changes.tier)
    if isinstance(changes.limits, dict):
        for name, value in changes.limits.items():
            if name not in TIER_LIMITS:
                raise Invalid(f"limits.{name}", f"is not a limit (limits: {', '.join(TIER_LIMITS)})")
            if (reason := limit_problem(value)) is not None:
                raise Invalid(f"limits.{name}", reason)
        if changes.limits and config.server.workers > 1 and not config.storage.redis_url:
            raise Invalid(
                "limits",
                f"server.workers is {config.server.workers} and storage.redis_url is not set: in-process limits live "
                "in one worker's memory, so each worker would admit the key's whole limit. Set storage.redis_url "
                "first",
            )
    if isinstance(changes.models, list):
        names = {name for m in config.models for name in (m.id, *m.aliases)}
        _list_size(changes.models, "models")
        for i, pattern in enumerate(changes.models):
            if (reason := model_pattern_problem(pattern, names)) is not None:
                raise Invalid(f"models[{i}]", reason)
    if isinstance(changes.ip_allow, list):
        _list_size(changes.ip_allow, "ip_allow")
        if not changes.ip_allow:
            raise Invalid("ip_allow", "an empty allow-list would refuse every address; clear it to allow any")
        for i, cidr in enumerate(changes.ip_allow):
            if (reason := network_problem(cidr)) is not None:
                raise Invalid(f"ip_allow[{i}]", reason)
    if isinstance(changes.expires_at, int) and changes.expires_at < 0:
        raise Invalid("expires_at", "must be a time (Unix epoch milliseconds)")
    for field in ("max_price_microcents", "spend_limit_microcents"):
        value = getattr(changes, field)
        if value is not UNSET and value is not None and (isinstance(value, bool) or value < 1):
            raise Invalid(field, f"must be at least 1 (clear it for none), got {value!r}")
    if isinstance(changes.spend_period, str) and changes.spend_period not in SPEND_PERIODS:
        raise Invalid("spend_period", f"must be one of {', '.join(SPEND_PERIODS)}, got {changes.spend_period!r}")


def check_owner(changes: KeyUpdate, account: Account, tier: Tier | None) -> None:
    """What a key owner may not do besides what no one may: give a tier the account is not allowed, or limits
    above the key's tier's (`tier`: the key's tier after this change, with the settings in effect)."""
    if isinstance(changes.tier, str) and changes.tier not in (account.allowed_tiers or []):
        allowed = ", ".join(account.allowed_tiers or []) or "none: ask the operator"
        raise Invalid("tier", f"this account may not give its keys the tier {changes.tier!r} (allowed: {allowed})")
    if isinstance(changes.limits, dict) and changes.limits:
        for limit, value in changes.limits.items():
            ceiling = getattr(tier, limit, None) if tier is not None else None
            if ceiling is not None and isinstance(value, int) and value > ceiling:
                raise Invalid(f"limits.{limit}", f"may be at most the tier's {ceiling}, got {value}")


def is_empty(changes: KeyUpdate) -> bool:
    return all(v is UNSET for v in msgspec.structs.astuple(changes))


def _list_size(values: list[str], param: str) -> None:
    if len(values) > MAX_LIST:
        raise Invalid(param, f"holds at most {MAX_LIST} entries, got {len(values)}")
