"""The settler against a real SQLite store: group commits, exact debits, flush on close, retry on failure."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from weir.billing.wallets import Wallets
from weir.observability.metrics import USAGE_QUEUE, USAGE_WRITE_ERRORS
from weir.pipeline.settle import Settler
from weir.store.base import StoreError
from weir.store.health import WriteHealth
from weir.store.records import Settlement, UsageRecord
from weir.store.sqlite import SqliteStore


def record(request_id: str, account_id: int, cost: int) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        account_id=account_id,
        key_id="k",
        model="m",
        provider="p",
        upstream_model="um",
        status=200,
        input_tokens=10,
        cached_tokens=0,
        output_tokens=5,
        reasoning_tokens=0,
        cost_microcents=cost,
        duration_ms=3,
        ttfb_ms=1,
        stream=False,
        created_at=1,
    )


async def test_records_are_committed_and_wallet_view_follows(sqlite_store: SqliteStore) -> None:
    account = await sqlite_store.create_account("a", 10_000)
    wallets = Wallets()
    wallets.observe(account.id, 10_000)
    settler = Settler(sqlite_store, wallets, queue_size=100, batch_size=7)
    settler.start()
    for i in range(50):
        await settler.submit(record(f"r{i}", account.id, 3))
    assert wallets.balance(account.id) == 10_000 - 150  # debited in the view at once
    await settler.close()
    stored = await sqlite_store.get_account("a")
    assert stored is not None and stored.balance_microcents == 10_000 - 150
    assert wallets.balance(account.id) == 10_000 - 150
    assert (await sqlite_store.get_usage("r49")) is not None


async def test_a_duplicate_request_id_is_not_charged_twice(sqlite_store: SqliteStore) -> None:
    account = await sqlite_store.create_account("b", 1_000)
    wallets = Wallets()
    settler = Settler(sqlite_store, wallets, queue_size=10, batch_size=10)
    settler.start()
    await settler.submit(record("same", account.id, 100))
    await settler.submit(record("same", account.id, 100))
    await settler.close()
    stored = await sqlite_store.get_account("b")
    assert stored is not None and stored.balance_microcents == 900
    assert wallets.balance(account.id) == 900


class FlakyStore:
    """A real store that fails its first `failures` commits, as a database restart would (`error` says how)."""

    def __init__(self, inner: SqliteStore, failures: int, error: Exception | None = None) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error or StoreError("database restarting")

    async def record_usage(
        self, records: Sequence[UsageRecord], holder: str | None = None, released: Mapping[int, int] | None = None
    ) -> list[Settlement]:
        if self.failures:
            self.failures -= 1
            raise self.error
        return await self.inner.record_usage(records, holder, released)


def gauge(metric: object) -> float:
    return metric._value.get()  # type: ignore[attr-defined,no-any-return]


async def test_queue_depth_is_exact_after_each_commit(sqlite_store: SqliteStore) -> None:
    """It was left at its value before the commit: 19 after all 20 records were written, 1 when idle."""
    account = await sqlite_store.create_account("depth", 10_000)
    settler = Settler(sqlite_store, Wallets(), queue_size=100, batch_size=500)
    settler.start()
    for i in range(20):
        await settler.submit(record(f"d{i}", account.id, 1))
    assert settler.depth == 20
    await asyncio.wait_for(settler.drained(), 5)
    assert settler.depth == 0 and gauge(USAGE_QUEUE) == 0
    await settler.submit(record("d-last", account.id, 1))
    await asyncio.wait_for(settler.drained(), 5)
    assert gauge(USAGE_QUEUE) == 0
    await settler.close()


async def test_every_failed_commit_is_counted_and_reported(sqlite_store: SqliteStore) -> None:
    """Whatever the store raises (not only StoreError, which used to be the only one caught: anything else ended
    the settler's task and with it every later commit), the commit is counted, told to health, and retried."""
    account = await sqlite_store.create_account("e", 1_000)
    health = WriteHealth(sqlite_store)
    flaky = FlakyStore(sqlite_store, failures=2, error=OSError("disk I/O error"))
    settler = Settler(flaky, Wallets(), queue_size=10, batch_size=10, health=health)  # type: ignore[arg-type]
    errors = gauge(USAGE_WRITE_ERRORS)
    settler.start()
    await settler.submit(record("e1", account.id, 10))
    await settler.submit(record("e2", account.id, 10))
    await asyncio.sleep(0.06)  # the first attempt and its retry pause
    assert gauge(USAGE_QUEUE) == 2  # both wait while the store fails, and the gauge says so
    assert health.reason == "disk I/O error" and health.problem() is not None
    await asyncio.wait_for(settler.close(), 10)
    assert gauge(USAGE_WRITE_ERRORS) - errors == 2
    assert health.ok_at is not None and health.failed_at is not None and health.ok_at > health.failed_at
    assert gauge(USAGE_QUEUE) == 0
    stored = await sqlite_store.get_account("e")
    assert stored is not None and stored.balance_microcents == 980


async def test_failed_commits_are_retried_not_lost(sqlite_store: SqliteStore) -> None:
    account = await sqlite_store.create_account("c", 1_000)
    flaky = FlakyStore(sqlite_store, failures=3)
    settler = Settler(flaky, Wallets(), queue_size=10, batch_size=10)  # type: ignore[arg-type]
    settler.start()
    await settler.submit(record("x1", account.id, 10))
    await asyncio.wait_for(settler.close(), 10)
    assert flaky.failures == 0
    stored = await sqlite_store.get_account("c")
    assert stored is not None and stored.balance_microcents == 990
