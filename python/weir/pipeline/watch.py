"""Watching the calls in flight: the client leaving, and each call's time limit (a provider's
`request_timeout_seconds` for a unary call, `max_stream_seconds` for a stream).

No timer or task per call. One sweeper per worker, running while calls are in flight, wakes every
WATCH_AFTER_SECONDS. It starts a watch on the client of every call that has run for one to two periods (a call that
ends sooner costs two dict operations: most calls to a fast upstream), and once a second it ends the calls past
their time limit: a call whose answer has begun gets its upstream response closed, so the relay ends the stream
with the dialect's error event; any other is cancelled where it waits, and answered 504. (aiohttp's own `total`
timeout cost ~11 us of CPU per request, for a limit measured in minutes.)

    task = current_task()
    watch(task, receive, call)
    try:
        ...                                      # the exchange and its relay
    except asyncio.CancelledError:
        why = unwatch(task)
        if why is None:
            raise                                # a cancel from outside (shutdown) still propagates
        ...                                      # GONE: the client left; EXPIRED: the call's time is up
    else:
        unwatch(task)
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal, Protocol

from starlette.types import Receive

from weir.upstreams.transport import UpstreamResponse

WATCH_AFTER_SECONDS = 0.05
DEADLINE_TICKS = 20  # time limits are checked every 20 periods: once a second
Why = Literal["gone", "expired"]
GONE: Why = "gone"
EXPIRED: Why = "expired"


class Watched(Protocol):
    """What the sweeper reads of a call."""

    started: float  # time.perf_counter() when it began
    expired: bool  # set by the sweeper when the call's time is up
    answering: bool  # the client's response has started (a stream is being relayed)
    upstream_response: UpstreamResponse | None

    def time_limit(self) -> float: ...


def watch(task: asyncio.Task[object], receive: Receive | None, call: Watched) -> None:
    """Watch `task`'s call (the current task): its client, unless `receive` is None (its body is still being
    read), and its time limit. The caller must `unwatch` it once done."""
    sweeper = _SWEEPER
    sweeper.pending[task] = (sweeper.tick, receive, call)
    running = sweeper.running
    if running is None or running.done():
        sweeper.start()


def unwatch(task: asyncio.Task[object]) -> Why | None:
    """Stop watching `task`; why the sweeper ended it, when it did (its cancel is then taken back)."""
    sweeper = _SWEEPER
    if sweeper.pending.pop(task, None) is not None:
        return None
    found = sweeper.watching.pop(task, None)
    if found is None:
        return None
    watcher, _ = found
    if watcher is not None:
        watcher.cancel()
    why = sweeper.ended.pop(task, None)
    if why is not None and task.cancelling():
        task.uncancel()
    return why


class _Sweeper:
    def __init__(self) -> None:
        self.pending: dict[asyncio.Task[object], tuple[int, Receive | None, Watched]] = {}
        self.watching: dict[asyncio.Task[object], tuple[asyncio.Future[None] | None, Watched]] = {}
        self.ended: dict[asyncio.Task[object], Why] = {}  # tasks this sweeper cancelled, and why
        self.tick = 0
        self.running: asyncio.Future[None] | None = None

    def start(self) -> None:
        self.running = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        pending, watching = self.pending, self.watching
        while pending or watching:
            await asyncio.sleep(WATCH_AFTER_SECONDS)
            self.tick += 1
            due = [task for task, (tick, _, _) in pending.items() if tick < self.tick - 1]  # 50 to 100 ms old
            for task in due:
                _, receive, call = pending.pop(task)
                watcher = None if receive is None else asyncio.ensure_future(self._watch(task, receive))
                watching[task] = (watcher, call)
            if self.tick % DEADLINE_TICKS == 0:
                self._expire()

    def _expire(self) -> None:
        now = time.perf_counter()
        for task, (_, call) in list(self.watching.items()):
            if call.expired or now - call.started < call.time_limit():
                continue
            call.expired = True
            response = call.upstream_response
            if call.answering and response is not None:
                response.close()  # the relay's next read fails: it ends the answer in the client's dialect
            elif task not in self.ended:
                self.ended[task] = EXPIRED
                task.cancel()

    async def _watch(self, task: asyncio.Task[object], receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if task not in self.ended:
            self.ended[task] = GONE
            task.cancel()


_SWEEPER = _Sweeper()
