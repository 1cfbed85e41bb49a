"""API keys: made here (the plaintext is shown once and never stored), listed, changed (name, tier, limits,
models, IP allow-list, expiry: service/access.py has the rules) and revoked. The pepper that keys' HMACs are made
with is read only when a key is made."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from weir import keys
from weir.config import Config
from weir.service import access, values
from weir.service.errors import Invalid, NotFound, check_limit, paged
from weir.service.tiers import Tiers
from weir.store import base as store_errors
from weir.store.base import Store
from weir.store.records import ApiKey, KeyKind, KeyUpdate, Page


class NewKey(msgspec.Struct, frozen=True):
    plaintext: str  # the whole key: shown once, to whoever made it
    key: ApiKey


def key_missing(key_id: str, active: bool = False) -> NotFound:
    return NotFound(f"no {'active ' if active else ''}key with id {key_id!r}", code="key_not_found")


INFERENCE_ONLY = ("tier", "limits", "models", "max_price_microcents", "spend_limit_microcents", "spend_period")


class Keys:
    def __init__(self, store: Store, pepper: Callable[[], bytes], config: Config, tiers: Tiers) -> None:
        self._store = store
        self._tiers = tiers
        self._pepper = pepper
        self._config = config

    async def create(
        self,
        account_id: int,
        kind: KeyKind = "inference",
        name: str | None = None,
        settings: KeyUpdate | None = None,
        owner: bool = False,
    ) -> NewKey:
        """A new key, with `settings` (tier, limits...) checked first: a key that cannot have them is not made.
        `owner`: asked by the account's owner (the management API), who may only narrow what a key can do."""
        if name is not None:
            values.name(name, "name")
        if settings is not None:
            await self._check(settings, kind, account_id, None, owner)
        plaintext, parsed = keys.generate(kind)
        secret_hmac = keys.secret_hmac(self._pepper(), parsed.secret)
        try:
            key = await self._store.create_key(account_id, parsed.key_id, secret_hmac, kind, name)
        except store_errors.NotFound:
            raise NotFound(f"no account with id {account_id}", code="account_not_found") from None
        if settings is not None and not access.is_empty(settings):
            try:
                key = await self._store.update_key(key.id, settings)
            except BaseException:
                await self._store.revoke_key(key.id)  # never leave a key without the settings it was made with
                raise
        return NewKey(plaintext, key)

    async def _check(
        self, changes: KeyUpdate, kind: KeyKind, account_id: int, current_tier: str | None, owner: bool
    ) -> None:
        if kind == "management":
            for field in INFERENCE_ONLY:
                if getattr(changes, field) is not msgspec.UNSET:
                    raise Invalid(field, "management keys make no model calls; set it on an inference key")
        access.check(changes, self._config)
        if owner:
            account = await self._store.get_account_by_id(account_id)
            if account is None:
                raise NotFound(f"no account with id {account_id}", code="account_not_found")
            tier = changes.tier if not isinstance(changes.tier, msgspec.UnsetType) else current_tier
            name = tier or self._config.auth.default_tier
            try:
                ceiling = await self._tiers.tier(name) if name is not None else None
            except NotFound:  # a tier no longer configured: its keys are refused anyway
                ceiling = None
            access.check_owner(changes, account, ceiling)

    async def list(self, account_id: int) -> list[ApiKey]:
        """Every key of the account, oldest first."""
        return await self._store.list_keys(account_id)

    async def page(self, account_id: int, limit: int, cursor: str | None = None) -> Page[ApiKey]:
        return await paged(self._store.page_keys(account_id, check_limit(limit), cursor))

    async def get(self, key_id: str, account_id: int | None = None) -> ApiKey:
        """The key; NotFound when there is none, or it is not of `account_id` (when given)."""
        key = await self._store.get_key(key_id)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise key_missing(key_id)
        return key

    async def update(
        self, key_id: str, changes: KeyUpdate, account_id: int | None = None, owner: bool = False
    ) -> ApiKey:
        """Change the fields of `changes` that are set. `limits` is the key's whole set of own limits (None: only its
        tier's). `owner`: asked by the account's owner, who may only narrow what the key can do."""
        if isinstance(changes.name, str):
            values.name(changes.name, "name")
        if not access.is_empty(msgspec.structs.replace(changes, name=msgspec.UNSET)):
            key = await self.get(key_id, account_id)
            await self._check(changes, key.kind, key.account_id, key.tier, owner)
        try:
            return await self._store.update_key(key_id, changes, account_id)
        except store_errors.NotFound:
            raise key_missing(key_id) from None

    async def revoke(self, key: str, account_id: int | None = None) -> ApiKey:
        """Revoke a key given by its id or whole; NotFound when it is not an active key (of `account_id`)."""
        parsed = keys.parse(key)
        key_id = parsed.key_id if parsed is not None else key
        if not await self._store.revoke_key(key_id, account_id):
            raise key_missing(key_id, active=True)
        return await self.get(key_id)
