"""The accounts' own provider keys (BYOK) as the attempts use them: read from the store, decrypted once, and kept
per account for `ttl` seconds (auth.key_cache_ttl_seconds), so that a key set or deleted takes effect on every
worker and replica within that time. A call of an account with its own key for a route's provider sends that key
instead of the provider's; the call is recorded with `byok` and charged billing.byok_fee_percent of its price."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken

from weir.store.base import Store, StoreError
from weir.upstreams.health import OWN_KEY_INDEX, Key

log = logging.getLogger("weir.byok")

NONE: dict[str, Key] = {}  # shared by every account without keys of its own: never written to
MAX_ACCOUNTS = 100_000


class AccountKeys:
    def __init__(self, store: Store, cipher: Fernet, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._cipher = cipher
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[int, tuple[float, dict[str, Key]]] = {}

    def cached(self, account_id: int) -> dict[str, Key] | None:
        """The account's keys by provider when known and fresh, else None (then `load`)."""
        found = self._cache.get(account_id)
        return found[1] if found is not None and found[0] > self._clock() else None

    async def load(self, account_id: int) -> dict[str, Key]:
        """Read the account's keys from the store (a stale entry serves while the store is down)."""
        try:
            secrets = await self._store.byok_secrets(account_id)
        except StoreError:
            stale = self._cache.get(account_id)
            if stale is not None:
                return stale[1]
            raise
        keys: dict[str, Key] = {}
        for provider, token in secrets.items():
            try:
                keys[provider] = Key(OWN_KEY_INDEX, self._cipher.decrypt(token).decode())
            except InvalidToken:  # another billing.byok_key encrypted it: the provider's own keys serve instead
                log.warning("account %d's own key for %s does not decrypt with billing.byok_key", account_id, provider)
        if len(self._cache) >= MAX_ACCOUNTS:
            self._cache.clear()
        self._cache[account_id] = (self._clock() + self._ttl, keys or NONE)
        return keys or NONE
