"""The body-read budget: a client that makes Weir wait too long for its request body (slow-loris) gets 408.

A request may spend `server.body_read_timeout_seconds` waiting for its body's bytes, over all its reads together,
so a client that trickles a byte at a time cannot reset it; time Weir spends elsewhere (on the upstream, while an
upload streams through) does not count. granian has no such timeout: its header timer stops once the headers are in.

No timer per read: `asyncio.timeout` around each receive cost ~3.5 us on uvloop, so ~55 us for a body that arrives
in 16 pieces (bench/micro/inbound.py). Instead each waiting read is registered (a dict entry, ~0.3 us), and one
sweeper task per event loop, running only while some read waits, cancels every read past its deadline each
SWEEP_SECONDS; the cancelled read raises RequestTimeout. A deadline is kept up to SWEEP_SECONDS late.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from starlette.types import Message, Receive

from weir.errors import RequestTimeout
from weir.pipeline.reply import current_task

SWEEP_SECONDS = 0.25


class _Sweeper:
    """The reads waiting on one event loop, and the task that cancels those past their deadline."""

    def __init__(self) -> None:
        self.waiting: dict[asyncio.Task[object], BodyTimer] = {}
        self.task: asyncio.Task[None] | None = None

    def add(self, task: asyncio.Task[object], timer: BodyTimer) -> None:
        self.waiting[task] = timer
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._sweep(), name="weir-body-timer")

    async def _sweep(self) -> None:
        # Sleep first, then look: a read that returns at once (nearly every one) must not end the sweeper, or the
        # next request would start a task again. Idle, it ends after one quiet period.
        try:
            while True:
                await asyncio.sleep(SWEEP_SECONDS)
                if not self.waiting:
                    break
                now = time.monotonic()
                for task, timer in list(self.waiting.items()):
                    if now >= timer.deadline and not timer.expired:
                        timer.expired = True
                        task.cancel()
        finally:
            self.task = None


_SWEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = weakref.WeakKeyDictionary()
_last: tuple[asyncio.AbstractEventLoop | None, _Sweeper | None] = (None, None)


def _sweeper() -> _Sweeper:
    """The running loop's sweeper; the last one found is remembered (a worker has one loop), since the weak
    dictionary's lookup showed on every call's path."""
    global _last
    loop = asyncio.get_running_loop()
    known, sweeper = _last
    if loop is known and sweeper is not None:
        return sweeper
    sweeper = _SWEEPERS.get(loop)
    if sweeper is None:
        sweeper = _SWEEPERS[loop] = _Sweeper()
    _last = (loop, sweeper)
    return sweeper


class BodyTimer:
    """One request body's budget; every read of the body goes through `receive`."""

    __slots__ = ("deadline", "expired", "left", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.left = seconds
        self.deadline = 0.0
        self.expired = False

    async def receive(self, receive: Receive) -> Message:
        if self.left <= 0:
            raise RequestTimeout(self.seconds)
        task = current_task()
        assert task is not None
        sweeper = _sweeper()
        started = time.monotonic()
        self.deadline = started + self.left
        sweeper.add(task, self)
        try:
            return await receive()
        except asyncio.CancelledError:
            if not self.expired:
                raise
            task.uncancel()  # the cancellation was ours, and it ends here
            raise RequestTimeout(self.seconds) from None
        finally:
            # No await between the read's end and this: the sweeper can only cancel a read still waiting.
            del sweeper.waiting[task]
            self.left -= time.monotonic() - started
