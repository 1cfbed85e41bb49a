"""The SQLite store's core: the one connection, the thread that owns it, transactions, migrations, health.

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
from weir.store.base import StoreError

T = TypeVar("T")
DRIVER_ERRORS = (sqlite3.Error, OverflowError)
_CHUNK = 500  # bound on host parameters per IN (...) query

_HAS_SCHEMA = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
_PROBE_WRITE = (
    "INSERT INTO write_probe (id, checked_at) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    if conn.in_transaction:  # never expected: every call commits or rolls back before it returns
        conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        with suppress(*DRIVER_ERRORS):
            conn.execute("ROLLBACK")
        raise


class SqliteCore:
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
        except DRIVER_ERRORS as exc:
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
        except (*DRIVER_ERRORS, OSError) as exc:
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
        except (*DRIVER_ERRORS, OSError) as exc:
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
                with suppress(*DRIVER_ERRORS):
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
        return bool(await self._run(fetch, _HAS_SCHEMA, ()))

    async def probe_write(self) -> None:
        await self._run(_probe_write, c.now_ms())


# What runs on the store's thread: plain functions of a connection.


def fetch(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def select_in(conn: sqlite3.Connection, select: str, column: str, values: Sequence[Any]) -> list[Any]:
    """``select`` plus ``WHERE column IN (values)``, chunked to stay under SQLite's parameter cap."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(f"{select} WHERE {column} IN ({marks})", tuple(chunk)).fetchall())
    return rows


def _migrate(conn: sqlite3.Connection) -> list[int]:
    applied: list[int] = []
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
        )
    for migration in migrations.load("sqlite"):
        with transaction(conn):
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
    with transaction(conn):
        conn.execute(_PROBE_WRITE, (now,))
