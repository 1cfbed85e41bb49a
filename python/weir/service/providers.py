"""Providers as operators see them: pause and resume (kept in the store, applied by every worker and replica within
`auth.key_cache_ttl_seconds`), and their state, including the breaker and key states each worker publishes."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from weir.config import Config
from weir.redact import redact_url
from weir.store._common import now_ms
from weir.store.base import Store

# A worker publishes its health every key_cache_ttl_seconds; rows older than this many intervals are of workers
# that stopped, and are left out.
STALE_INTERVALS = 3
BREAKER_ORDER = {"closed": 0, "half_open": 1, "open": 2}
KEY_ORDER = {"ok": 0, "cooling": 1, "retired": 2}


class UnknownProvider(Exception):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no provider named {name!r}; configured: {', '.join(known) or 'none'}")


class ProviderView(msgspec.Struct, kw_only=True):
    name: str
    dialect: str
    base_url: str
    paused: bool
    reason: str | None
    keys: list[str]  # per configured key (by index): ok | cooling | retired, the worst any worker reports
    routes: list[dict[str, str]]  # {"model", "breaker"}: the worst state any worker reports
    workers: int  # workers that reported in the last few intervals


def _known(config: Config, name: str) -> None:
    names = [p.name for p in config.providers]
    if name not in names:
        raise UnknownProvider(name, names)


async def pause(store: Store, config: Config, name: str, reason: str | None) -> None:
    _known(config, name)
    await store.set_provider_paused(name, True, reason or "paused by the operator")


async def resume(store: Store, config: Config, name: str) -> None:
    """Resume a provider; its retired and cooling keys are usable again too."""
    _known(config, name)
    await store.set_provider_paused(name, False)


async def states(store: Store, config: Config) -> list[ProviderView]:
    paused = {s.name: s for s in await store.list_provider_states()}
    since = now_ms() - int(STALE_INTERVALS * max(config.auth.key_cache_ttl_seconds, 1.0) * 1000)
    health: dict[str, list[dict[str, Any]]] = {}
    for row in await store.list_provider_health(since):
        health.setdefault(row.provider, []).append(orjson.loads(row.health))
    views = []
    for provider in config.providers:
        reports = health.get(provider.name, [])
        keys = ["ok"] * len(provider.api_keys)
        routes: dict[str, str] = {}
        for report in reports:
            for i, state in enumerate(report.get("keys", [])[: len(keys)]):
                keys[i] = max(keys[i], state, key=lambda s: KEY_ORDER.get(s, 0))
            for route in report.get("routes", []):
                model = route.get("model", "")
                seen = routes.get(model, "closed")
                routes[model] = max(seen, route.get("breaker", "closed"), key=lambda s: BREAKER_ORDER.get(s, 0))
        if not reports:
            models = [m.id for m in config.models if any(r.provider == provider.name for r in m.routes)]
            routes = {model: "closed" for model in models}
        state = paused.get(provider.name)
        views.append(
            ProviderView(
                name=provider.name,
                dialect=provider.dialect,
                base_url=redact_url(provider.base_url),
                paused=bool(state and state.paused),
                reason=state.reason if state and state.paused else None,
                keys=keys,
                routes=[{"model": model, "breaker": breaker} for model, breaker in routes.items()],
                workers=len(reports),
            )
        )
    return views
