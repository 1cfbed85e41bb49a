"""The PostgreSQL store's core: the asyncpg pool (created on first use, or by ``open()``, so a gateway can start
while the database is down), connections and transactions, migrations, health. Every driver or connection failure
surfaces as StoreError with the cause chained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store import migrations
from weir.store.base import StoreError

DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,  # refused, unreachable, DNS; TimeoutError (connect and command timeouts)
)
_MIGRATION_LOCK = 0x77656972  # pg_advisory_xact_lock key serialising migrators ("weir")


class PostgresCore:
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
                    except DRIVER_ERRORS as exc:
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
            except (TimeoutError, *DRIVER_ERRORS):
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
        except DRIVER_ERRORS as exc:
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
