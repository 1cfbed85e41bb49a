"""Store fixtures, each on a database of its own per test:

- ``store``: a migrated, empty store, parametrised over SQLite and PostgreSQL;
- ``unmigrated_store``: the same, not migrated;
- ``store_factory``: opens more stores on that test's database (several processes / replicas);
- ``sqlite_store`` / ``postgres_store`` (and ``*_factory``): one backend only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest

from weir.store import migrations
from weir.store.base import Store
from weir.store.postgres import PostgresStore
from weir.store.sqlite import SqliteStore

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

StoreFactory = Callable[[], Awaitable[Store]]

# Every migration version the package ships (both backends ship the same ones: tests/store/test_migrations.py).
SHIPPED_VERSIONS = [m.version for m in migrations.load("sqlite")]


@pytest.fixture
async def sqlite_factory(tmp_path: Path) -> AsyncIterator[Callable[[], Awaitable[SqliteStore]]]:
    opened: list[SqliteStore] = []

    async def make() -> SqliteStore:
        store = SqliteStore(str(tmp_path / "weir.db"))
        opened.append(store)
        await store.open()
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def postgres_factory(postgres_dsn: str) -> AsyncIterator[Callable[[], Awaitable[PostgresStore]]]:
    opened: list[PostgresStore] = []

    async def make() -> PostgresStore:
        store = PostgresStore(postgres_dsn)
        opened.append(store)
        await store.open()
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def sqlite_unmigrated(sqlite_factory: Callable[[], Awaitable[SqliteStore]]) -> SqliteStore:
    return await sqlite_factory()


@pytest.fixture
async def postgres_unmigrated(postgres_factory: Callable[[], Awaitable[PostgresStore]]) -> PostgresStore:
    return await postgres_factory()


@pytest.fixture
async def sqlite_store(sqlite_unmigrated: SqliteStore) -> SqliteStore:
    await sqlite_unmigrated.migrate()
    return sqlite_unmigrated


@pytest.fixture
async def postgres_store(postgres_unmigrated: PostgresStore) -> PostgresStore:
    await postgres_unmigrated.migrate()
    return postgres_unmigrated


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Store:
    """A migrated, empty store of each backend."""
    return cast(Store, request.getfixturevalue(f"{backend}_store"))


@pytest.fixture
def unmigrated_store(backend: str, request: pytest.FixtureRequest) -> Store:
    """An open store of each backend on an empty database."""
    return cast(Store, request.getfixturevalue(f"{backend}_unmigrated"))


@pytest.fixture
def store_factory(backend: str, request: pytest.FixtureRequest) -> StoreFactory:
    """Opens another store on the same database as ``store`` / ``unmigrated_store`` of this test."""
    return cast(StoreFactory, request.getfixturevalue(f"{backend}_factory"))
