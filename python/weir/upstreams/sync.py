"""Provider and model state shared through the store: every worker and replica applies the operator's pauses (and
"bring the keys back" commands) and disabled models within one interval, and publishes what it sees of its
routes' breakers and its keys, which live in its own memory, so that `weir providers list` can show them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence

import orjson

from weir.store.base import Store, StoreError
from weir.store.records import ModelState, TierState
from weir.upstreams.health import Breaker
from weir.upstreams.provider import Upstream

log = logging.getLogger("weir.upstreams")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class ProviderSync:
    def __init__(
        self,
        store: Store,
        upstreams: dict[str, Upstream],
        routes: Sequence[tuple[str, str, Breaker]],
        interval: float,
        worker: str = WORKER_ID,
        on_models: Callable[[list[ModelState]], None] | None = None,
        on_tiers: Callable[[list[TierState]], None] | None = None,
    ) -> None:
        """`on_models` is given every model's state at each refresh (disabled models, prices), `on_tiers` every
        tier's stored settings."""
        self._store = store
        self._on_models = on_models
        self._on_tiers = on_tiers
        self._upstreams = upstreams
        self._routes = routes  # (provider, model id, breaker) of every configured route
        self._interval = max(interval, 0.5)
        self._worker = worker
        # keys_reset_at of each provider as last read: a later one brings its keys back. Read the first time, a reset
        # is history (this worker's keys are fresh); after that, a provider without a row has seen none (0), so
        # that the first resume of a provider never paused before still brings its keys back.
        self._reset_seen: dict[str, int] = {}
        self._read_once = False
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def refresh(self) -> None:
        """Apply the store's provider and model states now, then publish this worker's health. Raises StoreError."""
        for state in await self._store.list_provider_states():
            upstream = self._upstreams.get(state.name)
            if upstream is None:
                continue
            upstream.paused = (state.reason or "paused by the operator") if state.paused else None
            seen = self._reset_seen.get(state.name, 0 if self._read_once else None)
            if seen is not None and state.keys_reset_at > seen:
                upstream.keys.restore()
                log.info("provider %s: every key is usable again (operator command)", state.name)
            self._reset_seen[state.name] = state.keys_reset_at
        self._read_once = True
        if self._on_models is not None:
            self._on_models(await self._store.list_model_states())
        if self._on_tiers is not None:
            self._on_tiers(await self._store.list_tier_states())
        await self._store.put_provider_health(self._worker, self.health())

    def health(self) -> dict[str, str]:
        now = time.monotonic()
        routes: dict[str, list[dict[str, str]]] = {name: [] for name in self._upstreams}
        for provider, model, breaker in self._routes:
            routes.setdefault(provider, []).append({"model": model, "breaker": breaker.state})
        return {
            name: orjson.dumps(
                {"routes": routes.get(name, []), "keys": [key.state(now) for key in upstream.keys.keys]}
            ).decode()
            for name, upstream in self._upstreams.items()
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="weir-provider-sync")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except StoreError as exc:
                if not self._failing:
                    log.warning("provider state could not be read from the store (kept as it was): %s", exc)
                self._failing = True
            else:
                self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
