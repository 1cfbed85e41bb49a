"""The one storage interface. SQLite (embedded) and PostgreSQL implement it and pass one contract suite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from weir.store.records import (
    Account,
    ApiKey,
    KeyKind,
    KeyLookup,
    LedgerEntry,
    ProviderHealth,
    ProviderState,
    Settlement,
    StoredResponse,
    UsageRecord,
)


class StoreError(Exception):
    """The store could not be reached or failed; callers answer 503, never 401."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Store(Protocol):
    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied now (empty when up to date)."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        ...

    async def has_schema(self) -> bool:
        """True when the database holds Weir's tables (migrations have run on it), False when it is empty."""
        ...

    async def probe_write(self) -> None:
        """Commit one small write (the write_probe row); StoreError, with the cause, when it cannot."""
        ...

    async def create_account(self, name: str, balance_microcents: int = 0) -> Account: ...

    async def get_account(self, name: str) -> Account | None: ...

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account: ...

    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey: ...

    async def lookup_key(self, key_id: str) -> KeyLookup | None: ...

    async def list_keys(self, account_id: int) -> list[ApiKey]: ...

    async def revoke_key(self, key_id: str) -> bool:
        """Mark the key revoked; False when no such key or already revoked."""
        ...

    async def record_usage(self, records: Sequence[UsageRecord]) -> list[Settlement]:
        """In ONE transaction, for each record: insert it unless its request id exists, debit the account by
        its cost, append a ledger entry, and bump the key's last_used_at.
        Returns one Settlement per record."""
        ...

    async def get_usage(self, request_id: str) -> UsageRecord | None: ...

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]: ...

    async def put_response(self, record: StoredResponse) -> None:
        """Keep a Responses conversation; AlreadyExists when its id is taken, NotFound for an unknown account."""
        ...

    async def get_response(self, response_id: str) -> StoredResponse | None:
        """The stored response, expired or not (callers compare expires_at; purging runs behind)."""
        ...

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        """Delete at most ``limit`` responses whose expires_at is at or before ``now_ms``; return how many."""
        ...

    async def set_provider_paused(self, name: str, paused: bool, reason: str | None = None) -> ProviderState:
        """Pause or resume a provider. Resuming also brings back every retired or cooling key."""
        ...

    async def list_provider_states(self) -> list[ProviderState]: ...

    async def put_provider_health(self, worker: str, health: dict[str, str]) -> None:
        """Publish one worker's health JSON per provider (replacing its earlier rows)."""
        ...

    async def list_provider_health(self, since_ms: int) -> list[ProviderHealth]:
        """Every worker's health rows published at or after ``since_ms``."""
        ...
