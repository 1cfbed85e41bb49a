"""Bring your own key: an account's own API key for a provider, kept encrypted with `billing.byok_key` (Fernet, from
the cryptography package: AES-128-CBC with an HMAC-SHA256, so a tampered or wrongly keyed secret is refused, never
decrypted to garbage). The CLI and the HTTP API call this; the gateway reads the keys back (pipeline/byok.py)."""

from __future__ import annotations

from cryptography.fernet import Fernet

from weir.config import Config
from weir.service.errors import Invalid, NotFound
from weir.store.base import Store
from weir.store.records import ByokEntry

MAX_SECRET = 4096  # characters of a provider key


def cipher(config: Config) -> Fernet:
    """The configured Fernet, or Invalid when BYOK is off."""
    if config.billing.byok_key is None:
        raise Invalid("billing.byok_key", "BYOK is off: set it to a key from `weir byok keygen` (and keep it secret)")
    return Fernet(config.billing.byok_key.encode())


class Byok:
    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config

    def _provider(self, name: str) -> str:
        if name not in {p.name for p in self._config.providers}:
            raise Invalid("provider", f"no provider named {name!r} (weir models list shows the routes)")
        return name

    async def set(self, account_id: int, provider: str, secret: str) -> None:
        secret = secret.strip()
        if not secret or len(secret) > MAX_SECRET or any(ch.isspace() for ch in secret):
            raise Invalid("key", f"must be one token of 1 to {MAX_SECRET} characters, without spaces")
        token = cipher(self._config).encrypt(secret.encode())
        await self._store.put_byok(account_id, self._provider(provider), token)

    async def list(self, account_id: int) -> list[ByokEntry]:
        return await self._store.list_byok(account_id)

    async def delete(self, account_id: int, provider: str) -> None:
        if not await self._store.delete_byok(account_id, provider):
            raise NotFound(f"The account has no key of its own for {provider!r}.", code="byok_not_found")
