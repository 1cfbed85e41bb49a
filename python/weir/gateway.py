"""The running gateway: every long-lived component, opened at start-up and closed at shutdown."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from weir.billing.wallets import Wallets
from weir.config import Config
from weir.pipeline.authenticate import Authenticator
from weir.pipeline.route import ModelTable
from weir.pipeline.settle import Settler
from weir.store import open_store
from weir.store.base import Store
from weir.upstreams.provider import Upstream

log = logging.getLogger("weir")


def load_pepper(config: Config) -> bytes:
    """The HMAC pepper: from the config, else a random one kept in the data directory (made on first use)."""
    if config.auth.pepper:
        return config.auth.pepper.encode()
    path = config.data_path / "pepper"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(fresh)
    return fresh


def self_url(config: Config) -> str:
    host = config.server.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"


class Gateway:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.wallets = Wallets()
        self.upstreams = {
            p.name: Upstream(p, self_url(config) + "/_demo/v1" if p.base_url == "builtin:echo" else None)
            for p in config.providers
        }
        self.models = ModelTable(config, self.upstreams)
        self.extra_key_headers = frozenset(h.lower().encode() for h in config.auth.extra_key_headers)
        self._store: Store | None = None
        self._auth: Authenticator | None = None
        self._settler: Settler | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "the gateway is not open"
        return self._store

    @property
    def auth(self) -> Authenticator:
        assert self._auth is not None, "the gateway is not open"
        return self._auth

    @property
    def settler(self) -> Settler:
        assert self._settler is not None, "the gateway is not open"
        return self._settler

    async def open(self) -> None:
        Path(self.config.data_path).mkdir(parents=True, exist_ok=True)
        store = await open_store(self.config.storage.url)
        await store.migrate()
        self._store = store
        cfg = self.config
        self._auth = Authenticator(store, load_pepper(cfg), self.wallets, cfg.auth.key_cache_ttl_seconds)
        self._settler = Settler(
            store,
            self.wallets,
            queue_size=cfg.storage.usage_queue_size,
            batch_size=cfg.storage.usage_batch_size,
        )
        self._settler.start()

    async def close(self) -> None:
        if self._settler is not None:
            await self._settler.close()
        for upstream in self.upstreams.values():
            await upstream.aclose()
        if self._store is not None:
            await self._store.close()
