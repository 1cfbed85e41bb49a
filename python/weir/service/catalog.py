"""The catalog: models as configured (with the prices they are billed at) and providers, with the operator's
pause and what every worker sees of their routes' breakers and their keys.

A pause is kept in the store; every worker and replica applies it within `auth.key_cache_ttl_seconds`
(weir.upstreams.sync), and publishes its health there as often."""

from __future__ import annotations

import msgspec
import orjson

from weir.config import Config, Model, Provider
from weir.service.errors import Invalid, NotFound
from weir.store._common import now_ms
from weir.store.base import Store
from weir.store.records import ProviderHealth, ProviderState

MAX_REASON = 500


class WorkerHealth(msgspec.Struct, frozen=True):
    worker: str
    updated_at: int
    routes: list[dict[str, str]]  # [{"model", "breaker": closed | open | half_open}]
    keys: list[str]  # per configured key, in order: ok | cooling | retired


class ProviderView(msgspec.Struct, frozen=True):
    provider: Provider
    state: ProviderState | None  # None: never paused or resumed
    workers: list[WorkerHealth]  # those that published within the health window


class Catalog:
    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config
        self._providers = {p.name: p for p in config.providers}
        # A worker publishes its health every key_cache_ttl_seconds (at least every 0.5 s); one silent for three
        # intervals is gone.
        self.health_window_ms = int(max(3 * config.auth.key_cache_ttl_seconds, 5.0) * 1000)

    def models(self) -> list[Model]:
        return list(self._config.models)

    def model(self, name: str) -> Model:
        for model in self._config.models:
            if name == model.id or name in model.aliases:
                return model
        raise NotFound(f"no model named {name!r}", code="model_not_found")

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise NotFound(f"no provider named {name!r} is configured", code="provider_not_found")
        return provider

    async def providers(self) -> list[ProviderView]:
        states = {s.name: s for s in await self._store.list_provider_states()}
        health = await self._store.list_provider_health(now_ms() - self.health_window_ms)
        return [_view(p, states.get(p.name), health) for p in self._config.providers]

    async def provider(self, name: str) -> ProviderView:
        self._provider(name)
        return next(view for view in await self.providers() if view.provider.name == name)

    async def pause(self, name: str, reason: str | None = None) -> ProviderView:
        self._provider(name)
        if reason is not None and len(reason) > MAX_REASON:
            raise Invalid("reason", f"must be at most {MAX_REASON} characters, got {len(reason)}")
        await self._store.set_provider_paused(name, True, reason)
        return await self.provider(name)

    async def resume(self, name: str) -> ProviderView:
        """Resume a provider, and bring back every key of it that was retired or cooling."""
        self._provider(name)
        await self._store.set_provider_paused(name, False)
        return await self.provider(name)


def _view(provider: Provider, state: ProviderState | None, health: list[ProviderHealth]) -> ProviderView:
    workers = []
    for row in health:
        if row.provider != provider.name:
            continue
        try:
            published = orjson.loads(row.health)
        except orjson.JSONDecodeError:
            continue
        workers.append(WorkerHealth(row.worker, row.updated_at, published.get("routes", []), published.get("keys", [])))
    return ProviderView(provider, state, workers)
