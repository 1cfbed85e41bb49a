"""The one service layer: accounts, keys, top-ups, usage and the catalog, called by the CLI, the management HTTP
API (weir.admin) and, later, the console. Front ends parse their input and render the results (views.py gives each
thing its one JSON shape) and the errors (errors.py); the rules, the store calls, key hashing and the pepper are
here. Changes reach every worker and replica through the store, within `auth.key_cache_ttl_seconds`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from weir.config import Config
from weir.keys import load_pepper
from weir.redact import redact_url
from weir.service.accounts import Accounts
from weir.service.byok import Byok
from weir.service.catalog import Catalog
from weir.service.keys import Keys
from weir.service.tiers import Tiers
from weir.service.usage import Usage
from weir.store import open_store, provision
from weir.store.base import Store

__all__ = ["Service", "migrate", "open_service"]


class Service:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._pepper: bytes | None = None
        self.accounts = Accounts(store, config)
        self.tiers = Tiers(store, config)
        self.keys = Keys(store, self.pepper, config, self.tiers)
        self.usage = Usage(store)
        self.catalog = Catalog(store, config)
        self.byok = Byok(store, config)

    def pepper(self) -> bytes:
        """The HMAC pepper, read (or made, in the data directory) the first time a key is made."""
        if self._pepper is None:
            self._pepper = load_pepper(self.config)
        return self._pepper


@asynccontextmanager
async def open_service(config: Config) -> AsyncIterator[Service]:
    """The service on the configured store, migrated (never created where a database existed: store.provision)."""
    config.data_path.mkdir(parents=True, exist_ok=True)
    store = await open_store(config.storage.url)
    try:
        await provision.prepare(store, config.data_path, redact_url(config.storage.url), create=False)
        yield Service(store, config)
    finally:
        await store.close()


async def migrate(config: Config) -> list[int]:
    """`weir migrate`: apply the migrations, creating the database even where one existed. Returns the versions
    applied."""
    config.data_path.mkdir(parents=True, exist_ok=True)
    store = await open_store(config.storage.url)
    try:
        return await provision.prepare(store, config.data_path, redact_url(config.storage.url), create=True)
    finally:
        await store.close()
