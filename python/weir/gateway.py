"""The running gateway: every long-lived component, opened at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

from cryptography.fernet import Fernet

from weir.background import stop
from weir.billing.reservations import Reservations
from weir.billing.spend import KeySpend
from weir.billing.wallets import Wallets
from weir.config import Config, self_url
from weir.keys import load_pepper
from weir.limits import Limiter, open_limiter
from weir.observability.metrics import flush_all, flush_every
from weir.pipeline.access import Tiers
from weir.pipeline.admit import Admission
from weir.pipeline.authenticate import Authenticator
from weir.pipeline.byok import AccountKeys
from weir.pipeline.conversations import Conversations
from weir.pipeline.exchange import Exchange
from weir.pipeline.route import ModelTable, Router
from weir.pipeline.settle import Settler
from weir.redact import redact_url
from weir.store import open_store, provision
from weir.store.base import Store, StoreError
from weir.store.health import WriteHealth
from weir.upstreams.provider import Upstream
from weir.upstreams.sync import ProviderSync
from weir.upstreams.transport import Transport

log = logging.getLogger("weir")

# The cyclic garbage collector, tuned for a server: what start-up made lives as long as the worker, so it is moved
# out of the collector's sight (gc.freeze), and the youngest generation is collected after 20,000 allocations
# instead of 700: a call allocates a few hundred objects, nearly all freed by reference counting when it ends,
# and each young collection also walks every call in flight (measured: ~3% of a unary call's CPU at 64 calls in
# flight, bench/run compare).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Gateway:
    def __init__(self, config: Config, transports: dict[str, Transport] | None = None) -> None:
        """`transports`: per provider name, a transport to use instead of the aiohttp one (tests)."""
        self.config = config
        self.wallets = Wallets()
        given = transports or {}
        self.upstreams = {
            p.name: Upstream(
                p, self_url(config) + "/_demo/v1" if p.base_url == "builtin:echo" else None, given.get(p.name)
            )
            for p in config.providers
        }
        self.models = ModelTable(config, self.upstreams)
        self.router = Router(config.routing)
        self.tiers = Tiers(config)
        self.limiter: Limiter = open_limiter(config, limits_in_use=self.tiers.any_limits)
        self.extra_key_headers = frozenset(h.lower().encode() for h in config.auth.extra_key_headers)
        self._store: Store | None = None
        self._health: WriteHealth | None = None
        self._auth: Authenticator | None = None
        self._settler: Settler | None = None
        self._reservations: Reservations | None = None
        self._conversations: Conversations | None = None
        self._exchange: Exchange | None = None
        self._sync: ProviderSync | None = None
        self._flusher: asyncio.Task[None] | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "the gateway is not open"
        return self._store

    @property
    def health(self) -> WriteHealth:
        assert self._health is not None, "the gateway is not open"
        return self._health

    @property
    def auth(self) -> Authenticator:
        assert self._auth is not None, "the gateway is not open"
        return self._auth

    @property
    def settler(self) -> Settler:
        assert self._settler is not None, "the gateway is not open"
        return self._settler

    @property
    def exchange(self) -> Exchange:
        assert self._exchange is not None, "the gateway is not open"
        return self._exchange

    @property
    def conversations(self) -> Conversations:
        assert self._conversations is not None, "the gateway is not open"
        return self._conversations

    async def open(self) -> None:
        cfg = self.config
        Path(cfg.data_path).mkdir(parents=True, exist_ok=True)
        store = await open_store(cfg.storage.url)
        await provision.prepare(store, cfg.data_path, redact_url(cfg.storage.url), create=False)
        self._store = store
        self._health = WriteHealth(store)
        self._auth = Authenticator(store, load_pepper(cfg), self.wallets, cfg.auth.key_cache_ttl_seconds, self.tiers)
        billing = cfg.billing
        self._reservations = Reservations(
            store,
            ttl_seconds=billing.hold_ttl_seconds,
            slice_calls=billing.slice_calls,
            idle_seconds=billing.slice_idle_seconds,
        )
        self._settler = Settler(
            store,
            self.wallets,
            queue_size=cfg.storage.usage_queue_size,
            batch_size=cfg.storage.usage_batch_size,
            health=self._health,
            holder=self._reservations.holder,
        )
        self._settler.start()
        self._exchange = Exchange(
            models=self.models,
            router=self.router,
            wallets=self.wallets,
            settler=self._settler,
            server=cfg.server,
            admission=Admission(
                self.limiter, self.wallets, self._reservations, KeySpend(store, cfg.auth.key_cache_ttl_seconds)
            ),
            byok=None
            if billing.byok_key is None
            else AccountKeys(store, Fernet(billing.byok_key.encode()), cfg.auth.key_cache_ttl_seconds),
            byok_fee_percent=billing.byok_fee_percent,
        )
        self.limiter.start()
        self._reservations.start()
        self._conversations = Conversations(store, retention_days=cfg.storage.response_retention_days)
        self._conversations.start()
        routes = [(r.upstream.name, m.id, r.breaker) for m in self.models.models for r in m.routes]
        self._sync = ProviderSync(
            store,
            self.upstreams,
            routes,
            cfg.auth.key_cache_ttl_seconds,
            on_models=self.models.apply_states,
            on_tiers=self.tiers.apply_states,
        )
        try:
            await self._sync.refresh()  # a paused provider stays paused across a restart
        except StoreError as exc:
            log.warning("provider and model state could not be read at start-up: %s", exc)
        self._sync.start()
        self._flusher = asyncio.create_task(flush_every(), name="weir-metrics-flush")
        tune_gc()

    async def close(self) -> None:
        flusher, self._flusher = self._flusher, None
        await stop(flusher)
        if self._sync is not None:
            await self._sync.close()
        if self._conversations is not None:
            await self._conversations.close()
        if self._settler is not None:
            # most of the time granian gives a stopping worker: the rest is for the holds, sessions and the store
            await self._settler.close(self.config.server.shutdown_timeout_seconds * 0.8)
        if self._reservations is not None:
            await self._reservations.close()  # after the last usage commit: what is left of each slice goes back
        await self.limiter.close()
        flush_all()
        for upstream in self.upstreams.values():
            await upstream.aclose()
        if self._store is not None:
            await self._store.close()
