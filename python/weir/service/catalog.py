"""The catalog: models as configured (with the prices they are billed at, and whether the operator disabled them),
tiers, and providers, with the operator's pause and what every worker sees of their routes' breakers and their
keys.

A pause, a disabled model and a model's prices set by the operator are kept in the store (the configuration's
prices are the seed, and what a reset goes back to); every worker and replica applies them within
`auth.key_cache_ttl_seconds` (weir.upstreams.sync), and publishes its health there as often."""

from __future__ import annotations

import msgspec
import orjson

from weir.config import Config, Model, Price, Provider, price_problems
from weir.service.errors import Invalid, NotFound
from weir.store._common import now_ms
from weir.store.base import Store
from weir.store.records import ModelState, ProviderHealth, ProviderState

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


class ModelView(msgspec.Struct, frozen=True):
    model: Model  # with the prices it is billed at now: the operator's, when set, else the configuration's
    disabled: bool
    reason: str | None  # why, when disabled ("disabled in the configuration" for enabled = false)
    prices_set: bool = False  # the operator set its prices (`weir models price`); False: the configuration's


CONFIG_DISABLED = "disabled in the configuration (enabled = false)"


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

    async def model_views(self) -> list[ModelView]:
        """Every configured model with its state: enabled, or disabled (by the configuration or the operator)."""
        states = {s.id: s for s in await self._store.list_model_states()}
        return [_model_view(m, states.get(m.id)) for m in self._config.models]

    async def model_view(self, name: str) -> ModelView:
        model = self.model(name)
        return next(view for view in await self.model_views() if view.model.id == model.id)

    async def disable_model(self, name: str, reason: str | None = None) -> ModelView:
        """Refuse every call to the model (403 model_disabled, with `reason`) on every worker and replica."""
        model = self.model(name)
        if reason is not None and len(reason) > MAX_REASON:
            raise Invalid("reason", f"must be at most {MAX_REASON} characters, got {len(reason)}")
        await self._store.set_model_disabled(model.id, True, reason)
        return await self.model_view(model.id)

    async def enable_model(self, name: str) -> ModelView:
        model = self.model(name)
        if not model.enabled:
            raise Invalid(
                "model",
                f"{model.id!r} is {CONFIG_DISABLED}; set enabled = true there and restart",
                code="model_disabled",
            )
        await self._store.set_model_disabled(model.id, False)
        return await self.model_view(model.id)

    async def set_prices(self, name: str, changes: dict[str, float | None]) -> ModelView:
        """Bill the model at new prices on every worker and replica (within auth.key_cache_ttl_seconds): `changes`
        maps Price fields (USD per 1M tokens; image per image, character per 1M characters, second per second) to
        their new values, the others keep the prices it is billed at now; None for cached_input or cache_write
        means "the input price". A call is billed at the prices it was admitted at."""
        model = self.model(name)
        unknown = sorted(set(changes) - set(Price.__struct_fields__))
        if unknown:
            raise Invalid(unknown[0], f"is not a price; the prices are {', '.join(Price.__struct_fields__)}")
        for field, value in changes.items():
            if value is None and field not in ("cached_input", "cache_write"):
                raise Invalid(field, "must be a number (only cached_input and cache_write may be null: the input's)")
        current = (await self.model_view(model.id)).model.price
        price = msgspec.structs.replace(current, **changes)
        if problems := price_problems(price, "price"):
            raise Invalid(problems[0].split(":", 1)[0], problems[0].split(": ", 1)[1])
        await self._store.set_model_price(model.id, msgspec.json.encode(price).decode())
        return await self.model_view(model.id)

    async def reset_prices(self, name: str) -> ModelView:
        """Bill the model at its configured prices again."""
        model = self.model(name)
        await self._store.set_model_price(model.id, None)
        return await self.model_view(model.id)

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


def _model_view(model: Model, state: ModelState | None) -> ModelView:
    prices_set = False
    if state is not None and state.price is not None:
        try:
            model = msgspec.structs.replace(model, price=msgspec.json.decode(state.price, type=Price))
            prices_set = True
        except (msgspec.DecodeError, ValueError):  # never written so by Weir; billing keeps the configured ones too
            pass
    if not model.enabled:
        return ModelView(model, True, CONFIG_DISABLED, prices_set)
    if state is not None and state.disabled:
        return ModelView(model, True, state.reason, prices_set)
    return ModelView(model, False, None, prices_set)
