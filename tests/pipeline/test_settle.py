"""The settler against a real SQLite store: group commits, exact debits, flush on close, retry on failure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from weir.billing.wallets import Wallets
from weir.pipeline.settle import Settler
from weir.store.base import StoreError
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
    """A real store that fails its first `failures` commits, as a database restart would."""

    def __init__(self, inner: SqliteStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def record_usage(self, records: Sequence[UsageRecord]) -> list[Settlement]:
        if self.failures:
            self.failures -= 1
            raise StoreError("database restarting")
        return await self.inner.record_usage(records)


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
