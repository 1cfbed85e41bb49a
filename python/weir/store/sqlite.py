"""The embedded store: one sqlite3 connection per process, owned by one dedicated thread; WAL; every write in
BEGIN IMMEDIATE.

Each store call runs as ONE function on that thread (one hop from the event loop), whole transaction included.
A statement-at-a-time async wrapper costs a thread round trip per statement: a usage batch took ~16 of them and
~1.3 ms of CPU (bench: tests of record_usage with batches of 1 record). Several processes (granian workers) may
open the same file; WAL lets readers run beside the single writer and busy_timeout makes a writer wait for the
lock instead of failing.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")
_DRIVER_ERRORS = (sqlite3.Error, OverflowError)
_CHUNK = 500  # bound on host parameters per IN (...) query

_INSERT_USAGE = f"INSERT INTO usage_records ({c.USAGE_COLUMNS}) VALUES ({', '.join('?' * len(c.USAGE_FIELDS))})"
_INSERT_RESPONSE = f"INSERT INTO responses ({c.RESPONSE_COLUMNS}) VALUES ({', '.join('?' * len(c.RESPONSE_FIELDS))})"
_PURGE_RESPONSES = (
    "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)
_HAS_SCHEMA = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
_PROBE_WRITE = (
    "INSERT INTO write_probe (id, checked_at) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
)
_INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, request_id, note,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    if conn.in_transaction:  # never expected: every call commits or rolls back before it returns
        conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        with suppress(*_DRIVER_ERRORS):
            conn.execute("ROLLBACK")
        raise


class SqliteStore:
    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None  # touched only on the store's thread
        self._file: tuple[int, int] | None = None  # (device, inode) of the file the connection opened
        self._closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="weir-sqlite")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError("the SQLite store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connection()
        self._check_file()
        try:
            return fn(conn, *args)
        except _DRIVER_ERRORS as exc:
            raise StoreError(f"SQLite failed: {exc}") from exc

    def _check_file(self) -> None:
        """The database file must still be the one the connection opened. One deleted (or moved) while Weir runs
        would take every write into an inode nothing can read after a restart; one replaced is not the database
        this process has cached. Either way the store fails like a database outage, on every call."""
        if self._file is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(
                f"the SQLite database {self.path!r} was deleted or moved while Weir was running; nothing more is "
                "written to it: put the file back, or restart Weir"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot check the SQLite database {self.path!r}: {exc}") from exc
        if (st.st_dev, st.st_ino) != self._file:
            raise StoreError(
                f"the SQLite database {self.path!r} was replaced by another file while Weir was running; nothing "
                "more is written to the old one: restart Weir to open the new one"
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        memory = self.path == ":memory:"
        try:
            if not memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (*_DRIVER_ERRORS, OSError) as exc:
            raise StoreError(f"cannot open the SQLite database {self.path!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            if not memory:
                st = os.stat(self.path)
                self._file = (st.st_dev, st.st_ino)
        except (*_DRIVER_ERRORS, OSError) as exc:
            conn.close()
            raise StoreError(f"cannot set up the SQLite database {self.path!r}: {exc}") from exc
        return conn

    async def open(self) -> None:
        """Open the database now instead of on first use; StoreError when it cannot be opened."""
        await self._run(lambda conn: None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(*_DRIVER_ERRORS):
                    conn.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, shut)
        self._thread.shutdown(wait=False)

    async def migrate(self) -> list[int]:
        return await self._run(_migrate)

    async def ping(self) -> bool:
        try:
            return await self._run(lambda conn: conn.execute("SELECT 1").fetchall() == [(1,)])
        except StoreError:
            return False

    async def has_schema(self) -> bool:
        return bool(await self._run(_fetch, _HAS_SCHEMA, ()))

    async def probe_write(self) -> None:
        await self._run(_probe_write, c.now_ms())

    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        return await self._run(_create_account, name, balance_microcents)

    async def get_account(self, name: str) -> Account | None:
        rows = await self._run(_fetch, f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
        return c.account_from(rows[0]) if rows else None

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        return await self._run(_topup, name, amount_microcents, note)

    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        await self._run(_create_key, key)
        return key

    async def lookup_key(self, key_id: str) -> KeyLookup | None:
        sql = (
            f"SELECT {c.LOOKUP_SQL_COLUMNS} FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id WHERE k.id = ?"
        )
        rows = await self._run(_fetch, sql, (key_id,))
        return c.lookup_from(rows[0]) if rows else None

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        sql = f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id"
        return [c.key_from(row) for row in await self._run(_fetch, sql, (account_id,))]

    async def revoke_key(self, key_id: str) -> bool:
        return await self._run(_revoke_key, key_id, c.now_ms())

    async def record_usage(self, records: Sequence[UsageRecord]) -> list[Settlement]:
        if not records:
            return []
        c.check_usage(records)
        return await self._run(_record_usage, list(records))

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        rows = await self._run(
            _fetch, f"SELECT {c.USAGE_COLUMNS} FROM usage_records WHERE request_id = ?", (request_id,)
        )
        return c.usage_from(rows[0]) if rows else None

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        sql = f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id"
        return [c.ledger_from(row) for row in await self._run(_fetch, sql, (account_id,))]

    async def put_response(self, record: StoredResponse) -> None:
        c.check_response(record)
        await self._run(_put_response, record)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        rows = await self._run(_fetch, f"SELECT {c.RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,))
        return c.response_from(rows[0]) if rows else None

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        c.check_purge_limit(limit)
        return await self._run(_purge_responses, now_ms, limit)

    async def set_provider_paused(self, name: str, paused: bool, reason: str | None = None) -> ProviderState:
        return await self._run(_set_provider_paused, name, paused, reason, c.now_ms())

    async def list_provider_states(self) -> list[ProviderState]:
        sql = f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state ORDER BY name"
        return [c.provider_state_from(row) for row in await self._run(_fetch, sql, ())]

    async def put_provider_health(self, worker: str, health: dict[str, str]) -> None:
        await self._run(_put_provider_health, worker, health, c.now_ms())

    async def list_provider_health(self, since_ms: int) -> list[ProviderHealth]:
        sql = f"SELECT {c.PROVIDER_HEALTH_COLUMNS} FROM provider_health WHERE updated_at >= ? ORDER BY provider, worker"
        return [c.provider_health_from(row) for row in await self._run(_fetch, sql, (since_ms,))]


# What runs on the store's thread: plain functions of a connection.


def _fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _migrate(conn: sqlite3.Connection) -> list[int]:
    applied: list[int] = []
    with _transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        )
    for migration in migrations.load("sqlite"):
        with _transaction(conn):
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)).fetchall():
                continue
            for statement in migrations.split_sqlite(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (migration.version, c.now_ms())
            )
        applied.append(migration.version)
    return applied


def _probe_write(conn: sqlite3.Connection, now: int) -> None:
    with _transaction(conn):
        conn.execute(_PROBE_WRITE, (now,))


def _create_account(conn: sqlite3.Connection, name: str, balance: int) -> Account:
    now = c.now_ms()
    with _transaction(conn):
        try:
            cursor = conn.execute(
                "INSERT INTO accounts (name, balance_microcents, created_at) VALUES (?, ?, ?)", (name, balance, now)
            )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"an account named {name!r} already exists") from exc
        account_id = cursor.lastrowid
        assert account_id is not None
        if balance != 0:
            conn.execute(_INSERT_LEDGER, (account_id, "initial", balance, balance, None, None, now))
    return Account(id=account_id, name=name, balance_microcents=balance, created_at=now)


def _topup(conn: sqlite3.Connection, name: str, amount: int, note: str | None) -> Account:
    with _transaction(conn):
        rows = conn.execute(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,)).fetchall()
        if not rows:
            raise NotFound(f"no account named {name!r}")
        before = c.account_from(rows[0])
        balance = before.balance_microcents + amount
        conn.execute("UPDATE accounts SET balance_microcents = ? WHERE id = ?", (balance, before.id))
        conn.execute(_INSERT_LEDGER, (before.id, "topup", amount, balance, None, note, c.now_ms()))
    return Account(id=before.id, name=name, balance_microcents=balance, created_at=before.created_at)


def _create_key(conn: sqlite3.Connection, key: ApiKey) -> None:
    with _transaction(conn):
        if not conn.execute("SELECT 1 FROM accounts WHERE id = ?", (key.account_id,)).fetchall():
            raise NotFound(f"no account with id {key.account_id}")
        try:
            conn.execute(
                f"INSERT INTO api_keys ({c.KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (key.id, key.account_id, key.kind, key.name, key.secret_hmac, key.created_at),
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise AlreadyExists(f"an API key with id {key.id!r} already exists") from exc


def _revoke_key(conn: sqlite3.Connection, key_id: str, now: int) -> bool:
    with _transaction(conn):
        cursor = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id))
        return cursor.rowcount == 1


def _record_usage(conn: sqlite3.Connection, records: list[UsageRecord]) -> list[Settlement]:
    unique = c.first_occurrences(records)
    account_ids = sorted({r.account_id for r in records})
    with _transaction(conn):
        balances = dict(_select_in(conn, "SELECT id, balance_microcents FROM accounts", "id", account_ids))
        if len(balances) != len(account_ids):
            raise NotFound(c.missing_accounts(account_ids, balances))
        ids = [r.request_id for r in unique]
        existing = {row[0] for row in _select_in(conn, "SELECT request_id FROM usage_records", "request_id", ids)}
        fresh = [r for r in unique if r.request_id not in existing]
        conn.executemany(_INSERT_USAGE, [c.usage_row(r) for r in fresh])
        plan = c.plan_usage(records, {r.request_id for r in fresh}, balances)
        conn.executemany(
            "UPDATE accounts SET balance_microcents = balance_microcents - ? WHERE id = ?",
            [(debit, account) for account, debit in plan.debits.items()],
        )
        now = c.now_ms()
        conn.executemany(
            _INSERT_LEDGER, [(acc, "usage", amount, after, None, note, now) for acc, amount, after, note in plan.ledger]
        )
        conn.executemany(
            "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2",
            [(at, key_id) for key_id, at in plan.last_used.items()],
        )
    return plan.settlements


def _select_in(conn: sqlite3.Connection, select: str, column: str, values: Sequence[Any]) -> list[Any]:
    """``select`` plus ``WHERE column IN (values)``, chunked to stay under SQLite's parameter cap."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(f"{select} WHERE {column} IN ({marks})", tuple(chunk)).fetchall())
    return rows


def _put_response(conn: sqlite3.Connection, record: StoredResponse) -> None:
    with _transaction(conn):
        try:
            conn.execute(_INSERT_RESPONSE, c.response_row(record))
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise NotFound(f"no account with id {record.account_id}") from exc
            raise AlreadyExists(f"a response with id {record.id!r} is already stored") from exc


def _purge_responses(conn: sqlite3.Connection, now: int, limit: int) -> int:
    with _transaction(conn):
        return conn.execute(_PURGE_RESPONSES, (now, limit)).rowcount


def _set_provider_paused(
    conn: sqlite3.Connection, name: str, paused: bool, reason: str | None, now: int
) -> ProviderState:
    reset = 0 if paused else now  # resuming brings every key back
    with _transaction(conn):
        conn.execute(
            "INSERT INTO provider_state (name, paused, reason, keys_reset_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
            " ON CONFLICT (name) DO UPDATE SET paused = ?2, reason = ?3,"
            " keys_reset_at = max(provider_state.keys_reset_at, ?4), updated_at = ?5",
            (name, int(paused), reason if paused else None, reset, now),
        )
        row = conn.execute(f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state WHERE name = ?", (name,)).fetchone()
    return c.provider_state_from(row)


def _put_provider_health(conn: sqlite3.Connection, worker: str, health: dict[str, str], now: int) -> None:
    with _transaction(conn):
        conn.executemany(
            "INSERT INTO provider_health (provider, worker, health, updated_at) VALUES (?1, ?2, ?3, ?4)"
            " ON CONFLICT (provider, worker) DO UPDATE SET health = ?3, updated_at = ?4",
            [(provider, worker, text, now) for provider, text in health.items()],
        )
