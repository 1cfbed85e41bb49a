"""WriteHealth on a real SQLite file: a probe when nothing was written, commits that cannot be written, a file
deleted under the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.unwritable import frozen
from weir.store.health import WriteHealth
from weir.store.sqlite import SqliteStore

WINDOW = 0.2


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "weir.db"))
    await store.migrate()
    yield store
    await store.close()


async def test_a_probe_finds_a_database_that_reads_but_cannot_write(store: SqliteStore, tmp_path: Path) -> None:
    health = WriteHealth(store, window=WINDOW)
    assert await health.check() == (True, None)  # nothing written yet: the probe wrote, and it worked
    assert health.ok_at is not None
    with frozen(tmp_path / "weir.db-wal"):
        assert await health.check() == (True, None)  # written a moment ago: no probe, still healthy
        await asyncio.sleep(WINDOW)
        db_ok, problem = await health.check()
        assert db_ok, "reads still work: a read check alone would say ok"
        assert problem is not None and "disk I/O error" in problem, problem
        await asyncio.sleep(WINDOW)
        _, again = await health.check()  # probed again, failed again
        assert again is not None and "disk I/O error" in again and health.failed_at > health.ok_at
    await asyncio.sleep(WINDOW)
    assert await health.check() == (True, None)  # writable again: the next probe succeeds, and the failure has aged out


async def test_a_failure_counts_for_a_window_after_a_success(store: SqliteStore) -> None:
    health = WriteHealth(store, window=WINDOW)
    health.failed("SQLite failed: database or disk is full")
    health.succeeded()
    problem = health.problem()
    assert problem is not None and problem.endswith("database or disk is full")
    await asyncio.sleep(WINDOW)
    assert health.problem() is None


async def test_the_last_write_failing_stays_a_problem(store: SqliteStore) -> None:
    health = WriteHealth(store, window=WINDOW)
    health.succeeded()
    health.failed("SQLite failed: disk I/O error")
    await asyncio.sleep(WINDOW)
    assert health.problem() is not None  # no success since: however old, it is still the state of things


async def test_a_deleted_file_is_the_reason(store: SqliteStore, tmp_path: Path) -> None:
    health = WriteHealth(store, window=WINDOW)
    assert await health.check() == (True, None)
    (tmp_path / "weir.db").unlink()
    db_ok, problem = await health.check()  # written a moment ago, but the query failed: probed for the reason
    assert not db_ok and problem is not None and "was deleted or moved while Weir was running" in problem


async def test_concurrent_checks_share_one_probe(store: SqliteStore) -> None:
    probes = 0
    real = store.probe_write

    async def counted() -> None:
        nonlocal probes
        probes += 1
        await real()

    store.probe_write = counted  # type: ignore[method-assign]
    health = WriteHealth(store, window=WINDOW)
    assert await asyncio.gather(*(health.check() for _ in range(10))) == [(True, None)] * 10
    assert probes == 1
