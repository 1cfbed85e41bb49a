"""The embedded store: one aiosqlite connection per process, WAL, every write in BEGIN IMMEDIATE.

Several processes (granian workers) may open the same file; WAL lets readers run beside the single
writer and busy_timeout makes a writer wait for the lock instead of failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from weir.store import _common as c
from weir.store import migrations
from weir.store.base import AlreadyExists, NotFound, StoreError
from weir.store.records import Account, ApiKey, KeyKind, KeyLookup, LedgerEntry, Settlement, UsageRecord

_DRIVER_ERRORS = (sqlite3.Error, OverflowError)
_CHUNK = 500  # bound on host parameters per IN (...) query

_INSERT_USAGE = f"INSERT INTO usage_records ({c.USAGE_COLUMNS}) VALUES ({', '.join('?' * len(c.USAGE_FIELDS))})"
_INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, request_id, note,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"SQLite {what} failed: {exc}") from exc


class SqliteStore:
    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._closed = False
        self._lock = asyncio.Lock()  # one connection: statements of concurrent calls must not interleave

    async def open(self) -> None:
        """Open the database now instead of on first use; StoreError when it cannot be opened."""
        async with self._lock:
            await self._connection()

    async def _connection(self) -> aiosqlite.Connection:
        """The open connection, opening it on first use; call with the lock held."""
        if self._closed:
            raise StoreError("the SQLite store is closed")
        if self._conn is None:
            self._conn = await self._connect()
        return self._conn

    async def _connect(self) -> aiosqlite.Connection:
        memory = self.path == ":memory:"
        try:
            if not memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except (*_DRIVER_ERRORS, OSError) as exc:
            raise StoreError(f"cannot open the SQLite database {self.path!r}: {exc}") from exc
        try:
            with _translated("setup"):
                await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                if not memory:
                    await conn.execute("PRAGMA journal_mode = WAL")
                    await conn.execute("PRAGMA synchronous = NORMAL")
                await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        self._closed = True
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(*_DRIVER_ERRORS):
                    await conn.close()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = await self._connection()
            with _translated("read"):
                yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = await self._connection()
            with _translated("write"):
                if conn.in_transaction:  # left open by a cancelled call
                    await conn.execute("ROLLBACK")
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    with suppress(*_DRIVER_ERRORS):
                        await conn.execute("ROLLBACK")
                    raise

    async def migrate(self) -> list[int]:
        applied: list[int] = []
        async with self._write() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            )
        for migration in migrations.load("sqlite"):
            async with self._write() as conn:
                done = await conn.execute_fetchall(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                )
                if list(done):
                    continue
                for statement in migrations.split_sqlite(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (migration.version, c.now_ms()),
                )
            applied.append(migration.version)
        return applied

    async def ping(self) -> bool:
        try:
            async with self._read() as conn:
                rows = list(await conn.execute_fetchall("SELECT 1"))
        except StoreError:
            return False
        return rows == [(1,)]

    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        now = c.now_ms()
        async with self._write() as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO accounts (name, balance_microcents, created_at) VALUES (?, ?, ?)",
                    (name, balance_microcents, now),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"an account named {name!r} already exists") from exc
            account_id = cursor.lastrowid
            assert account_id is not None
            if balance_microcents != 0:
                await conn.execute(
                    _INSERT_LEDGER,
                    (account_id, "initial", balance_microcents, balance_microcents, None, None, now),
                )
        return Account(id=account_id, name=name, balance_microcents=balance_microcents, created_at=now)

    async def get_account(self, name: str) -> Account | None:
        async with self._read() as conn:
            rows = list(
                await conn.execute_fetchall(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
            )
        return c.account_from(rows[0]) if rows else None

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        async with self._write() as conn:
            rows = list(
                await conn.execute_fetchall(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
            )
            if not rows:
                raise NotFound(f"no account named {name!r}")
            before = c.account_from(rows[0])
            balance = before.balance_microcents + amount_microcents
            await conn.execute("UPDATE accounts SET balance_microcents = ? WHERE id = ?", (balance, before.id))
            await conn.execute(_INSERT_LEDGER, (before.id, "topup", amount_microcents, balance, None, note, c.now_ms()))
        return Account(id=before.id, name=name, balance_microcents=balance, created_at=before.created_at)

    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        async with self._write() as conn:
            if not list(await conn.execute_fetchall("SELECT 1 FROM accounts WHERE id = ?", (account_id,))):
                raise NotFound(f"no account with id {account_id}")
            try:
                await conn.execute(
                    f"INSERT INTO api_keys ({c.KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (key_id, account_id, kind, name, secret_hmac, key.created_at),
                )
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" not in str(exc):
                    raise
                raise AlreadyExists(f"an API key with id {key_id!r} already exists") from exc
        return key

    async def lookup_key(self, key_id: str) -> KeyLookup | None:
        async with self._read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {c.LOOKUP_SQL_COLUMNS} FROM api_keys AS k JOIN accounts AS a"
                    " ON a.id = k.account_id WHERE k.id = ?",
                    (key_id,),
                )
            )
        return c.lookup_from(rows[0]) if rows else None

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        async with self._read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id",
                (account_id,),
            )
        return [c.key_from(row) for row in rows]

    async def revoke_key(self, key_id: str) -> bool:
        async with self._write() as conn:
            cursor = await conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (c.now_ms(), key_id)
            )
            return cursor.rowcount == 1

    async def record_usage(self, records: Sequence[UsageRecord]) -> list[Settlement]:
        if not records:
            return []
        c.check_usage(records)
        unique = c.first_occurrences(records)
        account_ids = sorted({r.account_id for r in records})
        async with self._write() as conn:
            balances = dict(await _select_in(conn, "SELECT id, balance_microcents FROM accounts", "id", account_ids))
            if len(balances) != len(account_ids):
                raise NotFound(c.missing_accounts(account_ids, balances))
            ids = [r.request_id for r in unique]
            found = await _select_in(conn, "SELECT request_id FROM usage_records", "request_id", ids)
            existing = {row[0] for row in found}
            fresh = [r for r in unique if r.request_id not in existing]
            await conn.executemany(_INSERT_USAGE, [c.usage_row(r) for r in fresh])
            plan = c.plan_usage(records, {r.request_id for r in fresh}, balances)
            await conn.executemany(
                "UPDATE accounts SET balance_microcents = balance_microcents - ? WHERE id = ?",
                [(debit, account) for account, debit in plan.debits.items()],
            )
            now = c.now_ms()
            await conn.executemany(
                _INSERT_LEDGER,
                [(acc, "usage", amount, after, rid, None, now) for acc, amount, after, rid in plan.ledger],
            )
            await conn.executemany(
                "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2",
                [(at, key_id) for key_id, at in plan.last_used.items()],
            )
        return plan.settlements

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        async with self._read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {c.USAGE_COLUMNS} FROM usage_records WHERE request_id = ?", (request_id,)
                )
            )
        return c.usage_from(rows[0]) if rows else None

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        async with self._read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id", (account_id,)
            )
        return [c.ledger_from(row) for row in rows]


async def _select_in(conn: aiosqlite.Connection, select: str, column: str, values: Sequence[Any]) -> list[Any]:
    """``select`` plus ``WHERE column IN (values)``, chunked to stay under SQLite's parameter cap."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(await conn.execute_fetchall(f"{select} WHERE {column} IN ({marks})", tuple(chunk)))
    return rows
