"""The distributed store: PostgreSQL through an asyncpg pool, shared by any number of replicas.

The pool is created on first use (or by ``open()``), so a gateway can start while the database is
down; every driver or connection failure surfaces as StoreError with the cause chained.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store import migrations
from weir.store.base import AlreadyExists, NotFound, StoreError
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

_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,  # refused, unreachable, DNS; TimeoutError (connect and command timeouts)
)
_MIGRATION_LOCK = 0x77656972  # pg_advisory_xact_lock key serialising migrators ("weir")

_USAGE_TYPES = (
    "text", "bigint", "text", "text", "text", "text", "integer", "bigint",
    "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "boolean", "bigint", "bigint",
    "bigint", "bigint", "bigint",
)  # fmt: skip
_INSERT_USAGE = (
    f"INSERT INTO usage_records ({c.USAGE_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(_USAGE_TYPES, start=1))
    + ") ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
)
_DEBIT = """
UPDATE accounts AS a SET balance_microcents = a.balance_microcents - t.debit
FROM unnest($1::bigint[], $2::bigint[]) AS t(id, debit) WHERE a.id = t.id
"""
_INSERT_USAGE_LEDGER = """
INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at)
SELECT t.account_id, 'usage', t.amount, t.after, t.note, $5
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
    WITH ORDINALITY AS t(account_id, amount, after, note, n)
ORDER BY t.n
"""
_BUMP_KEYS = """
UPDATE api_keys AS k SET last_used_at = greatest(k.last_used_at, t.at)
FROM unnest($1::text[], $2::bigint[]) AS t(id, at) WHERE k.id = t.id
"""
_INSERT_RESPONSE = (
    f"INSERT INTO responses ({c.RESPONSE_COLUMNS})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(c.RESPONSE_FIELDS) + 1))})"
)
# SKIP LOCKED: replicas purging at the same moment split the expired rows instead of queueing on each other.
_PURGE_RESPONSES = """
DELETE FROM responses WHERE id IN (
    SELECT id FROM responses WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""
_INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)


class PostgresStore:
    def __init__(
        self,
        dsn: str,
        min_size: int = 1,
        max_size: int = 10,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
    ) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._closed = False

    async def open(self) -> None:
        """Create the pool now instead of on first use; StoreError when the server cannot be reached."""
        await self._get_pool()

    async def _get_pool(self) -> Any:
        if self._closed:
            raise StoreError("the PostgreSQL store is closed")
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None and not self._closed:
                    try:
                        self._pool = await asyncpg.create_pool(
                            self._dsn,
                            min_size=self._min_size,
                            max_size=self._max_size,
                            timeout=self._connect_timeout,
                            command_timeout=self._command_timeout,
                        )
                    except _DRIVER_ERRORS as exc:
                        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        if self._pool is None:
            raise StoreError("the PostgreSQL store is closed")
        return self._pool

    async def close(self) -> None:
        self._closed = True
        async with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except (TimeoutError, *_DRIVER_ERRORS):
                pool.terminate()

    @asynccontextmanager
    async def _conn(self, *, transaction: bool = False) -> AsyncIterator[Any]:
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        except _DRIVER_ERRORS as exc:
            raise StoreError(f"PostgreSQL failed: {exc}") from exc

    async def migrate(self) -> list[int]:
        applied: list[int] = []
        async with self._conn(transaction=True) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
        for migration in migrations.load("postgres"):
            async with self._conn(transaction=True) as conn:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", migration.version):
                    continue
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    migration.version,
                    c.now_ms(),
                )
            applied.append(migration.version)
        return applied

    async def ping(self) -> bool:
        try:
            async with self._conn() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
        except StoreError:
            return False

    async def has_schema(self) -> bool:
        async with self._conn() as conn:
            return bool(await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"))

    async def probe_write(self) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO write_probe (id, checked_at) VALUES (1, $1)"
                " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                c.now_ms(),
            )

    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        now = c.now_ms()
        async with self._conn(transaction=True) as conn:
            try:
                row = await conn.fetchrow(
                    "INSERT INTO accounts (name, balance_microcents, created_at) VALUES ($1, $2, $3)"
                    f" RETURNING {c.ACCOUNT_COLUMNS}",
                    name,
                    balance_microcents,
                    now,
                )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"an account named {name!r} already exists") from exc
            account = c.account_from(row)
            if balance_microcents != 0:
                await conn.execute(
                    _INSERT_LEDGER, account.id, "initial", balance_microcents, balance_microcents, None, now
                )
        return account

    async def get_account(self, name: str) -> Account | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = $1", name)
        return None if row is None else c.account_from(row)

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        async with self._conn(transaction=True) as conn:
            row = await conn.fetchrow(
                "UPDATE accounts SET balance_microcents = balance_microcents + $2 WHERE name = $1"
                f" RETURNING {c.ACCOUNT_COLUMNS}",
                name,
                amount_microcents,
            )
            if row is None:
                raise NotFound(f"no account named {name!r}")
            account = c.account_from(row)
            await conn.execute(
                _INSERT_LEDGER,
                account.id,
                "topup",
                amount_microcents,
                account.balance_microcents,
                note,
                c.now_ms(),
            )
        return account

    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        async with self._conn() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO api_keys ({c.KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
                    key_id,
                    account_id,
                    kind,
                    name,
                    secret_hmac,
                    key.created_at,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"no account with id {account_id}") from exc
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"an API key with id {key_id!r} already exists") from exc
        return key

    async def lookup_key(self, key_id: str) -> KeyLookup | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                f"SELECT {c.LOOKUP_SQL_COLUMNS} FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id"
                " WHERE k.id = $1",
                key_id,
            )
        return None if row is None else c.lookup_from(row)

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id",
                account_id,
            )
        return [c.key_from(row) for row in rows]

    async def revoke_key(self, key_id: str) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", key_id, c.now_ms()
            )
        return bool(status == "UPDATE 1")

    async def record_usage(self, records: Sequence[UsageRecord]) -> list[Settlement]:
        if not records:
            return []
        c.check_usage(records)
        # Rows are inserted in request-id order so concurrent batches take index locks in one order.
        unique = sorted(c.first_occurrences(records), key=lambda r: r.request_id)
        account_ids = sorted({r.account_id for r in records})
        async with self._conn(transaction=True) as conn:
            rows = await conn.fetch(
                "SELECT id, balance_microcents FROM accounts WHERE id = ANY($1::bigint[])"
                " ORDER BY id FOR NO KEY UPDATE",
                account_ids,
            )
            balances: dict[int, int] = {row[0]: row[1] for row in rows}
            if len(balances) != len(account_ids):
                raise NotFound(c.missing_accounts(account_ids, balances))
            columns = list(zip(*(c.usage_row(r) for r in unique), strict=True))
            inserted = {row[0] for row in await conn.fetch(_INSERT_USAGE, *columns)}
            plan = c.plan_usage(records, inserted, balances)
            if plan.debits:
                await conn.execute(_DEBIT, list(plan.debits), list(plan.debits.values()))
                if plan.ledger:
                    await conn.execute(_INSERT_USAGE_LEDGER, *map(list, zip(*plan.ledger, strict=True)), c.now_ms())
                await conn.execute(_BUMP_KEYS, list(plan.last_used), list(plan.last_used.values()))
        return plan.settlements

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.USAGE_COLUMNS} FROM usage_records WHERE request_id = $1", request_id)
        return None if row is None else c.usage_from(row)

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = $1 ORDER BY id", account_id
            )
        return [c.ledger_from(row) for row in rows]

    async def put_response(self, record: StoredResponse) -> None:
        c.check_response(record)
        async with self._conn() as conn:
            try:
                await conn.execute(_INSERT_RESPONSE, *c.response_row(record))
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"no account with id {record.account_id}") from exc
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"a response with id {record.id!r} is already stored") from exc

    async def get_response(self, response_id: str) -> StoredResponse | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.RESPONSE_COLUMNS} FROM responses WHERE id = $1", response_id)
        return None if row is None else c.response_from(row)

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        c.check_purge_limit(limit)
        async with self._conn() as conn:
            status = await conn.execute(_PURGE_RESPONSES, now_ms, limit)
        return int(status.rsplit(" ", 1)[1])

    async def set_provider_paused(self, name: str, paused: bool, reason: str | None = None) -> ProviderState:
        now = c.now_ms()
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "INSERT INTO provider_state (name, paused, reason, keys_reset_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET paused = $2, reason = $3,"
                " keys_reset_at = greatest(provider_state.keys_reset_at, $4), updated_at = $5"
                f" RETURNING {c.PROVIDER_STATE_COLUMNS}",
                name,
                paused,
                reason if paused else None,
                0 if paused else now,  # resuming brings every key back
                now,
            )
        return c.provider_state_from(row)

    async def list_provider_states(self) -> list[ProviderState]:
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state ORDER BY name")
        return [c.provider_state_from(row) for row in rows]

    async def put_provider_health(self, worker: str, health: dict[str, str]) -> None:
        now = c.now_ms()
        async with self._conn() as conn:
            await conn.executemany(
                "INSERT INTO provider_health (provider, worker, health, updated_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (provider, worker) DO UPDATE SET health = $3, updated_at = $4",
                [(provider, worker, text, now) for provider, text in health.items()],
            )

    async def list_provider_health(self, since_ms: int) -> list[ProviderHealth]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.PROVIDER_HEALTH_COLUMNS} FROM provider_health WHERE updated_at >= $1"
                " ORDER BY provider, worker",
                since_ms,
            )
        return [c.provider_health_from(row) for row in rows]
