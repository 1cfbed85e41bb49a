"""The JSON shape of each thing the service returns, one function each, shared by the CLI, the HTTP API and (later)
the console, so that they cannot drift apart. Money is integer microcents, with a USD figure beside it for reading;
times are Unix epoch milliseconds. No view ever holds a key's secret or its HMAC."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from weir.billing.meter import microcents_to_usd
from weir.config import Model, Price, Tier
from weir.config.validate import TIER_LIMITS
from weir.redact import redact_url
from weir.service.catalog import ModelView, ProviderView
from weir.service.tiers import TierView
from weir.store.records import Account, ApiKey, ByokEntry, LedgerEntry, TopUp, UsageGroup, UsageRecord

_MICROCENTS_PER_USD = 100_000_000


def usd_text(microcents: int) -> str:
    """An exact USD figure, as a string (balances and ledger amounts)."""
    return str(Decimal(microcents) / _MICROCENTS_PER_USD)


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "balance_microcents": account.balance_microcents,
        "balance_usd": usd_text(account.balance_microcents),
        "disabled": account.disabled,
        "rate_multiplier": account.rate_multiplier_ppm / 1_000_000,
        "allowed_tiers": account.allowed_tiers or [],
        "created_at": account.created_at,
    }


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "kind": key.kind,
        "name": key.name,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
        "tier": key.tier,  # null: auth.default_tier
        "limits": key.limits or {},  # its own, over its tier's
        "models": key.models,  # null: its tier's; a list narrows them
        "ip_allow": key.ip_allow,  # null: any address
        "expires_at": key.expires_at,
        "max_price_microcents": key.max_price_microcents,
        "spend_limit_microcents": key.spend_limit_microcents,
        "spend_period": key.spend_period,
    }


def ledger_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "amount_microcents": entry.amount_microcents,
        "amount_usd": usd_text(entry.amount_microcents),
        "balance_after_microcents": entry.balance_after_microcents,
        "request_id": entry.request_id,
        "note": entry.note,
        "idempotency_key": entry.idempotency_key,
        "created_at": entry.created_at,
    }


def topup_json(topup: TopUp) -> dict[str, Any]:
    return {
        "ledger_entry": ledger_json(topup.entry),
        "account": account_json(topup.account),
        "replayed": topup.replayed,
    }


def usage_json(record: UsageRecord) -> dict[str, Any]:
    """One call as its usage record says: the shape of the generation lookup (`GET /v1/generations/{id}`), of
    every usage list and of the CSV export. `cost` is USD, for reading; `cost_microcents` is what was charged."""
    return {
        "id": record.request_id,
        "model": record.model,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "status": record.status,
        "stream": record.stream,
        "input_tokens": record.input_tokens,
        "cached_tokens": record.cached_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "output_tokens": record.output_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "images": record.images,
        "characters": record.characters,
        "audio_ms": record.audio_ms,
        "cost_microcents": record.cost_microcents,
        "cost": microcents_to_usd(record.cost_microcents),
        "multiplier": record.multiplier_ppm / 1_000_000,
        "usage_estimated": record.usage_estimated,
        "byok": record.byok,
        "duration_ms": record.duration_ms,
        "ttfb_ms": record.ttfb_ms,
        "key_id": record.key_id,
        "account_id": record.account_id,
        "created_at": record.created_at,
    }


USAGE_FIELDS = tuple(usage_json(UsageRecord("", 0, "", "", "", "", 0, 0, 0, 0, 0, 0, 0, None, False, 0)))


def group_json(group: UsageGroup, group_by: str) -> dict[str, Any]:
    return {
        group_by: group.group,
        "calls": group.calls,
        "input_tokens": group.input_tokens,
        "cached_tokens": group.cached_tokens,
        "cache_write_tokens": group.cache_write_tokens,
        "output_tokens": group.output_tokens,
        "reasoning_tokens": group.reasoning_tokens,
        "cost_microcents": group.cost_microcents,
        "cost": microcents_to_usd(group.cost_microcents),
    }


def _media_prices(price: Price) -> dict[str, float]:
    units = {"image": price.image, "character": price.character, "second": price.second}
    return {unit: value for unit, value in units.items() if value}


def model_json(model: Model, view: ModelView | None = None) -> dict[str, Any]:
    """A configured model with the prices it is billed at: cached_input and cache_write resolved (to the input
    price when not configured), media prices only where set; with its state when `view` is given."""
    p = model.price
    tokens = {
        "input": p.input,
        "output": p.output,
        "cached_input": p.input if p.cached_input is None else p.cached_input,
        "cache_write": p.input if p.cache_write is None else p.cache_write,
    }
    row: dict[str, Any] = {"id": model.id, "aliases": model.aliases, "price_usd_per_1m_tokens": tokens}
    if media := _media_prices(p):
        row["price_usd_per_unit"] = media  # image: per image; character: per 1M characters; second: per second
    row["routes"] = [{"provider": r.provider, "model": r.model} for r in model.routes]
    if view is not None:
        row["disabled"] = view.disabled
        row["disabled_reason"] = view.reason
        row["prices_set"] = view.prices_set  # the operator's prices (weir models price); false: the configuration's
    return row


def tier_json(tier: Tier) -> dict[str, Any]:
    """A tier as configured: its limits (absent: unlimited), its models (null: every model), its price multiplier."""
    limits = {name: getattr(tier, name) for name in TIER_LIMITS if getattr(tier, name) is not None}
    return {
        "name": tier.name,
        "description": tier.description,
        "models": tier.models,
        "limits": limits,
        "price_multiplier": tier.price_multiplier,
    }


def tier_view_json(view: TierView, default: str | None) -> dict[str, Any]:
    """A tier with the settings in effect; `default`: auth.default_tier; `settings_set`: the operator's settings."""
    return {**tier_json(view.tier), "default": view.tier.name == default, "settings_set": view.settings_set}


BREAKER_ORDER = {"closed": 0, "half_open": 1, "open": 2}
KEY_ORDER = {"ok": 0, "cooling": 1, "retired": 2}


def _worst(states: list[str], order: dict[str, int]) -> str:
    return max(states, key=lambda state: order.get(state, 0))


def provider_json(view: ProviderView) -> dict[str, Any]:
    """A provider as configured (never its keys or headers), its pause, each live worker's health, and the worst
    state any of them reports per route (`routes`) and per key (`key_states`)."""
    p, state = view.provider, view.state
    routes: dict[str, list[str]] = {}
    keys: list[list[str]] = [[] for _ in p.api_keys]
    for worker in view.workers:
        for route in worker.routes:
            routes.setdefault(route.get("model", ""), []).append(route.get("breaker", "closed"))
        for i, key_state in enumerate(worker.keys[: len(keys)]):
            keys[i].append(key_state)
    return {
        "name": p.name,
        "dialect": p.dialect,
        "base_url": redact_url(p.base_url),
        "keys": len(p.api_keys),
        "key_states": [_worst(seen, KEY_ORDER) if seen else "ok" for seen in keys],
        "routes": [{"model": model, "breaker": _worst(seen, BREAKER_ORDER)} for model, seen in routes.items()],
        "paused": state is not None and state.paused,
        "reason": state.reason if state is not None else None,
        "keys_reset_at": state.keys_reset_at if state is not None else None,
        "updated_at": state.updated_at if state is not None else None,
        "workers": [
            {"worker": w.worker, "updated_at": w.updated_at, "routes": w.routes, "keys": w.keys} for w in view.workers
        ],
    }


def byok_json(entry: ByokEntry) -> dict[str, Any]:
    return {"provider": entry.provider, "created_at": entry.created_at, "updated_at": entry.updated_at}
