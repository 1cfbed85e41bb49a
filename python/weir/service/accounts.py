"""Accounts, their top-ups and their ledger."""

from __future__ import annotations

import re

from weir.config import Config
from weir.service import values
from weir.service.errors import Conflict, Invalid, NotFound, check_limit, paged
from weir.store import base as store_errors
from weir.store.base import Store
from weir.store.records import Account, AccountUpdate, LedgerEntry, Page, TopUp

MAX_NOTE = 500
MAX_IDEMPOTENCY_KEY = 255
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII, as HTTP header values carry it


def account_missing(what: str) -> NotFound:
    return NotFound(f"no account {what}", code="account_not_found")


class Accounts:
    def __init__(self, store: Store, config: Config) -> None:
        self._store = store
        self._config = config

    async def create(self, name: str, balance_microcents: int = 0) -> Account:
        values.name(name, "name")
        if balance_microcents < 0:
            raise Invalid("balance", "must not be negative")
        try:
            return await self._store.create_account(name, balance_microcents)
        except store_errors.AlreadyExists as exc:
            raise Conflict(str(exc), param="name", code="account_exists") from exc

    async def get(self, name: str) -> Account:
        account = await self._store.get_account(name)
        if account is None:
            raise account_missing(f"named {name!r}")
        return account

    async def get_by_id(self, account_id: int) -> Account:
        account = await self._store.get_account_by_id(account_id)
        if account is None:
            raise account_missing(f"with id {account_id}")
        return account

    async def find(self, name: str) -> Account | None:
        return await self._store.get_account(name)

    async def list(self, limit: int, cursor: str | None = None) -> Page[Account]:
        return await paged(self._store.list_accounts(check_limit(limit), cursor))

    async def update(self, account_id: int, changes: AccountUpdate) -> Account:
        """`rate_multiplier_ppm`: from `values.multiplier`; `allowed_tiers` must name tiers of the configuration."""
        if isinstance(changes.allowed_tiers, list):
            known = {tier.name for tier in self._config.tiers}
            for i, tier in enumerate(changes.allowed_tiers):
                if tier not in known:
                    raise Invalid(f"allowed_tiers[{i}]", f"no tier named {tier!r} (weir tiers list)")
        try:
            return await self._store.update_account(account_id, changes)
        except store_errors.NotFound:
            raise account_missing(f"with id {account_id}") from None

    async def topup(
        self, account_id: int, amount_microcents: int, note: str | None = None, idempotency_key: str | None = None
    ) -> TopUp:
        """Credit the account. A retry with the same idempotency key returns the first top-up (`replayed`) and
        applies nothing; the same key with another amount or note is a Conflict."""
        if amount_microcents <= 0:
            raise Invalid("amount", "a top-up must be greater than 0")
        if note is not None and len(note) > MAX_NOTE:
            raise Invalid("note", f"must be at most {MAX_NOTE} characters, got {len(note)}")
        if idempotency_key is not None and not (
            len(idempotency_key) <= MAX_IDEMPOTENCY_KEY and _PRINTABLE.match(idempotency_key)
        ):
            raise Invalid("idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters")
        try:
            done = await self._store.add_topup(account_id, amount_microcents, note, idempotency_key)
        except store_errors.NotFound:
            raise account_missing(f"with id {account_id}") from None
        first = done.entry
        if done.replayed and (first.amount_microcents, first.note) != (amount_microcents, note):
            raise Conflict(
                f"the idempotency key {idempotency_key!r} was used for another top-up of this account "
                f"({first.amount_microcents} microcents, note {first.note!r}); use a new key for a new top-up",
                param="idempotency_key",
                code="idempotency_key_reused",
            )
        return done

    async def ledger(self, account_id: int, limit: int, cursor: str | None = None) -> Page[LedgerEntry]:
        return await paged(self._store.page_ledger(account_id, check_limit(limit), cursor))
