"""Settlement: usage records are queued (bounded) and written by one task in group commits.

Each commit is one store transaction that inserts the records and debits their accounts; the request id is the
record's key, so a record can never be charged twice. A call's response never waits for the store. What a crash
(not a clean shutdown) can lose is what sits in the queue: at most `usage_queue_size` records, usually the last
few milliseconds of calls. On shutdown the queue is flushed before the process exits.
"""

from __future__ import annotations

import asyncio
import logging

from weir.billing.wallets import Wallets
from weir.observability.metrics import USAGE_QUEUE, USAGE_WRITE_ERRORS
from weir.store.base import Store, StoreError
from weir.store.records import UsageRecord

log = logging.getLogger("weir.settle")


class Settler:
    def __init__(
        self, store: Store, wallets: Wallets, *, queue_size: int, batch_size: int, linger: float = 0.02
    ) -> None:
        self._store = store
        self._wallets = wallets
        self._queue: asyncio.Queue[UsageRecord] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._linger = linger  # how long a commit waits for more records to join it
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="weir-settler")

    async def submit(self, record: UsageRecord) -> None:
        """Queue a record; the wallet view is debited at once. Waits only when the queue is full."""
        self._wallets.debit_pending(record.account_id, record.cost_microcents)
        if self._queue.full():
            await self._queue.put(record)
        else:
            self._queue.put_nowait(record)

    async def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued (waiting up to `timeout` seconds for the store), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.error("shutdown: %d usage records could not be written and are lost", self._queue.qsize())
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._linger and self._queue.qsize() < self._batch_size:
                await asyncio.sleep(self._linger)
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            USAGE_QUEUE.set(self._queue.qsize() + len(batch))
            await self._commit(batch)
            for _ in batch:
                self._queue.task_done()

    async def _commit(self, batch: list[UsageRecord]) -> None:
        delay = 0.05
        while True:
            try:
                settlements = await self._store.record_usage(batch)
                break
            except StoreError:
                USAGE_WRITE_ERRORS.inc()
                log.exception("usage commit of %d records failed; retrying in %.2fs", len(batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for record, settled in zip(batch, settlements, strict=True):
            self._wallets.committed(record.account_id, record.cost_microcents, settled.balance_microcents)
            if not settled.inserted:
                log.warning("usage for request %s was already recorded; not charged again", record.request_id)
