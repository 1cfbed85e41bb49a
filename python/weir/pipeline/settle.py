"""Settlement: usage records are queued (bounded) and written by one task in group commits.

Each commit is one store transaction that inserts the records and debits their accounts; the request id is the
record's key, so a record can never be charged twice. A call's response never waits for the store. What a crash
(not a clean shutdown) can lose is what sits in the queue: at most `usage_queue_size` records, usually the last
few milliseconds of calls. On shutdown the queue is flushed before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from weir.billing.wallets import Wallets
from weir.observability.metrics import USAGE_QUEUE, USAGE_WRITE_ERRORS
from weir.store.base import Store
from weir.store.health import WriteHealth
from weir.store.records import UsageRecord

log = logging.getLogger("weir.settle")


class Settler:
    def __init__(
        self,
        store: Store,
        wallets: Wallets,
        *,
        queue_size: int,
        batch_size: int,
        linger: float = 0.02,
        health: WriteHealth | None = None,
        holder: str | None = None,
    ) -> None:
        self._store = store
        self._wallets = wallets
        # A plain deque and two events instead of asyncio.Queue: submitting is on every call's path, and Queue's
        # put_nowait (pure Python, with its bookkeeping for join()) cost about 2 us of it.
        self._pending: deque[UsageRecord] = deque()
        self._capacity = queue_size
        self._ready = asyncio.Event()  # records are waiting
        self._room = asyncio.Event()  # the queue is below its capacity
        self._room.set()
        self._batch_size = batch_size
        self._linger = linger  # how long a commit waits for more records to join it
        self._health = health  # told the outcome of every commit
        self._holder = holder  # this process's holds (billing/reservations.py): each commit's debits leave them
        self._released: dict[int, int] = {}  # per account: what of those holds the next commit gives back too
        self._task: asyncio.Task[None] | None = None
        self._committing = 0  # records in the commit under way
        self.commit_started: float | None = None  # time.monotonic() when the commit under way began

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def depth(self) -> int:
        """Usage records not committed yet: waiting in the queue and in the commit under way."""
        return len(self._pending) + self._committing

    def backing_up(self, window: float) -> str | None:
        """Why the usage queue is backing up (half full, or a commit under way for `window` seconds), or None."""
        depth = self.depth
        if depth >= max(1, self.capacity // 2):
            return f"the usage queue is backing up: {depth} of {self.capacity} records wait to be committed"
        started = self.commit_started
        if started is not None and (age := time.monotonic() - started) >= window:
            return f"the usage queue is backing up: a commit has been under way for {age:.1f}s ({depth} records wait)"
        return None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="weir-settler")

    async def submit(self, record: UsageRecord, release: int = 0) -> None:
        """Queue a record; the wallet view is debited at once. `release`: what of this process's hold of the
        account its commit gives back as well (a nearly empty account's slice, billing/reservations.py). Waits only
        when the queue is full."""
        self._wallets.debit_pending(record.account_id, record.cost_microcents)
        if release:
            self._released[record.account_id] = self._released.get(record.account_id, 0) + release
        pending = self._pending
        while len(pending) >= self._capacity:
            self._room.clear()
            await self._room.wait()
        pending.append(record)
        self._ready.set()

    async def drained(self) -> None:
        """Return once every record submitted so far is committed."""
        while self.depth:
            await asyncio.sleep(0.005)

    async def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued (waiting up to `timeout` seconds for the store), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.drained(), timeout)
        except TimeoutError:
            log.error("shutdown: %d usage records could not be written and are lost", self.depth)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._ready.clear()
                await self._ready.wait()
            if self._linger and len(pending) < self._batch_size:
                await asyncio.sleep(self._linger)
            batch = [pending.popleft() for _ in range(min(len(pending), self._batch_size))]
            self._room.set()
            self._committing = len(batch)
            self.commit_started = time.monotonic()
            try:
                await self._commit(batch)
            finally:
                self._committing = 0
                self.commit_started = None
                USAGE_QUEUE.set(len(pending))  # exact once the commit is done: what still waits

    async def _commit(self, batch: list[UsageRecord]) -> None:
        delay = 0.05
        released, self._released = self._released, {}  # given back with this commit (or the retry that succeeds)
        while True:
            USAGE_QUEUE.set(self.depth)
            try:
                settlements = await self._store.record_usage(batch, self._holder, released or None)
                break
            except Exception as exc:  # every failed commit is counted and retried; none may end this task
                USAGE_WRITE_ERRORS.inc()
                if self._health is not None:
                    self._health.failed(str(exc) or type(exc).__name__)
                log.exception("usage commit of %d records failed; retrying in %.2fs", len(batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self._health is not None:
            self._health.succeeded()
        for record, settled in zip(batch, settlements, strict=True):
            self._wallets.committed(record.account_id, record.cost_microcents, settled.balance_microcents)
            if not settled.inserted:
                log.warning("usage for request %s was already recorded; not charged again", record.request_id)
