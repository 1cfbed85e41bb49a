"""The one storage interface. SQLite (embedded) and PostgreSQL implement it and pass one contract suite."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from weir.store.records import (
    Account,
    AccountUpdate,
    ApiKey,
    ByokEntry,
    HoldGrant,
    KeyKind,
    KeyLookup,
    KeyUpdate,
    LedgerEntry,
    ModelState,
    Page,
    ProviderHealth,
    ProviderState,
    Settlement,
    StoredResponse,
    TierState,
    TopUp,
    UsageGroup,
    UsageGroupBy,
    UsageQuery,
    UsageRecord,
)


class StoreError(Exception):
    """The store could not be reached or failed; callers answer 503, never 401."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Store(Protocol):
    """Lists come in pages, newest first: at most `limit` items (1 to 1000, else ValueError) and an opaque cursor
    for the next page (a cursor this list did not give is a ValueError)."""

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

    async def get_account_by_id(self, account_id: int) -> Account | None: ...

    async def list_accounts(self, limit: int, cursor: str | None = None) -> Page[Account]: ...

    async def update_account(self, account_id: int, changes: AccountUpdate) -> Account:
        """Apply the fields of `changes` that are set; NotFound for an unknown account."""
        ...

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account: ...

    async def add_topup(
        self, account_id: int, amount_microcents: int, note: str | None = None, idempotency_key: str | None = None
    ) -> TopUp:
        """Credit the account and append the ledger entry, in one transaction. With an idempotency key the
        account's earlier top-up under that key, if there is one, is returned (`replayed`) and nothing is applied
        again, however concurrent the retries. NotFound for an unknown account, ValueError for an amount <= 0."""
        ...

    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey: ...

    async def lookup_key(self, key_id: str) -> KeyLookup | None: ...

    async def get_key(self, key_id: str) -> ApiKey | None: ...

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        """Every key of the account, oldest first (the CLI's list)."""
        ...

    async def page_keys(self, account_id: int, limit: int, cursor: str | None = None) -> Page[ApiKey]: ...

    async def update_key(self, key_id: str, changes: KeyUpdate, account_id: int | None = None) -> ApiKey:
        """Apply the fields of `changes` that are set; NotFound when no such key (of that account, when given)."""
        ...

    async def revoke_key(self, key_id: str, account_id: int | None = None) -> bool:
        """Mark the key revoked; False when no such key (of that account, when given) or already revoked."""
        ...

    async def record_usage(
        self, records: Sequence[UsageRecord], holder: str | None = None, released: Mapping[int, int] | None = None
    ) -> list[Settlement]:
        """In ONE transaction, for each record: insert it unless its request id exists, debit the account by
        its cost, append a ledger entry, and bump the key's last_used_at; with `holder`, each account's debit, and
        what `released` gives back of it, also leave that holder's hold of the account (never below 0).
        Returns one Settlement per record."""
        ...

    async def take_hold(self, holder: str, account_id: int, want: int, need: int, ttl_ms: int) -> HoldGrant:
        """In one transaction on the account: forget its expired holds, then grow `holder`'s hold by `want` when
        the balance less every live hold covers several times that, by `need` when it covers that, else by 0;
        the hold then lives `ttl_ms`. NotFound for an unknown account."""
        ...

    async def return_hold(self, holder: str, account_id: int, amount: int | None = None) -> None:
        """Take `amount` off `holder`'s hold of the account (never below 0; a hold of 0 is deleted); None: all of
        it."""
        ...

    async def renew_holds(self, holder: str, ttl_ms: int) -> list[int]:
        """Extend every live hold of `holder` by `ttl_ms` from now; the accounts it still holds (an expired hold
        is not revived)."""
        ...

    async def put_byok(self, account_id: int, provider: str, secret: bytes) -> None:
        """Store (or replace) the account's own key for `provider`, as the ciphertext `secret`."""
        ...

    async def list_byok(self, account_id: int) -> list[ByokEntry]:
        """The providers the account has its own key for (never the keys)."""
        ...

    async def byok_secrets(self, account_id: int) -> dict[str, bytes]:
        """Provider -> ciphertext of each of the account's own keys."""
        ...

    async def delete_byok(self, account_id: int, provider: str) -> bool:
        """Forget the account's own key for `provider`; False when it had none."""
        ...

    async def held_microcents(self, account_id: int) -> int:
        """The account's live holds, summed."""
        ...

    async def get_usage(self, request_id: str) -> UsageRecord | None: ...

    async def key_spend(self, account_id: int, key_id: str, since_ms: int) -> int:
        """What the key's calls recorded since `since_ms` cost, summed (microcents)."""
        ...

    async def page_usage(
        self, query: UsageQuery, limit: int, cursor: str | None = None, offset: int = 0
    ) -> Page[UsageRecord]:
        """The records `query` selects, newest first (created_at, then request id); `offset` (at most 100,000)
        skips that many after the cursor first."""
        ...

    async def usage_summary(self, query: UsageQuery, group_by: UsageGroupBy, limit: int) -> list[UsageGroup]:
        """Totals of the records `query` selects per UTC day (in day order) or per model, key or account (the
        largest spend first), at most `limit` groups."""
        ...

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        """The whole ledger of the account, oldest first."""
        ...

    async def page_ledger(self, account_id: int, limit: int, cursor: str | None = None) -> Page[LedgerEntry]: ...

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

    async def set_model_disabled(self, model_id: str, disabled: bool, reason: str | None = None) -> ModelState:
        """Disable a model for every caller (or enable it again); the reason is kept only while disabled."""
        ...

    async def set_model_price(self, model_id: str, price: str | None) -> ModelState:
        """Bill a model at `price` (the JSON of a config Price) on every worker, or (None) at its configured prices."""
        ...

    async def list_model_states(self) -> list[ModelState]: ...

    async def set_tier_settings(self, name: str, settings: str | None) -> None:
        """Apply `settings` (the JSON of a config Tier) to a configured tier on every worker, or (None) its
        configured ones again."""
        ...

    async def list_tier_states(self) -> list[TierState]: ...
