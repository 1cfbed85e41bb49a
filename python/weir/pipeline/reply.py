"""Writing a call's answer to the client: whole responses, the headers every model endpoint sends whatever the
dialect, and the watch that cancels a call whose client went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from starlette.types import Receive, Send

from weir.canonical.usage import Usage

Headers = list[tuple[bytes, bytes]]
CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection first"
SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def base_headers(request_id: str, content_type: bytes) -> Headers:
    rid = request_id.encode()
    return [(b"content-type", content_type), (b"x-weir-request-id", rid), (b"x-request-id", rid), (b"request-id", rid)]


def cost_headers(usage: Usage, cost: int) -> Headers:
    return [
        (b"x-weir-cost-microcents", b"%d" % cost),
        (b"x-weir-input-tokens", b"%d" % usage.input),
        (b"x-weir-cached-tokens", b"%d" % usage.cached),
        (b"x-weir-cache-write-tokens", b"%d" % usage.cache_write),
        (b"x-weir-output-tokens", b"%d" % usage.output),
        (b"x-weir-reasoning-tokens", b"%d" % usage.reasoning),
    ]


async def send_whole(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def _task_getter() -> Callable[[], asyncio.Task[object] | None]:
    """The running task, through the C accelerator's table where it has one: `asyncio.current_task()` is Python
    code on 3.11 and showed in profiles of the hot path."""
    try:
        from _asyncio import _current_tasks, _get_running_loop  # type: ignore[attr-defined]
    except ImportError:  # another interpreter: the public function
        return asyncio.current_task
    get = _current_tasks.get

    def current() -> asyncio.Task[object] | None:
        return get(_get_running_loop())  # type: ignore[no-any-return]

    return current


current_task = _task_getter()
WATCH_AFTER_SECONDS = 0.05  # calls done sooner never pay for a watch (most calls to a fast upstream)


def watch(task: asyncio.Task[object], receive: Receive) -> None:
    """Start watching for the client of `task`'s call (the current task) to leave; if it leaves, the task is
    cancelled where it waits (closing the upstream request). The caller must `unwatch` it once done:

        task = current_task()
        watch(task, receive)
        try:
            ...                          # the exchange and its relay
        except asyncio.CancelledError:
            if not unwatch(task):
                raise                    # a cancel from outside (shutdown) still propagates
            ...                          # the client left
        else:
            unwatch(task)

    The watch is a task of its own, started only once the call has run for one to two WATCH_AFTER_SECONDS
    periods: one sweeper per worker starts the watches of calls that lasted that long, so a call that ends sooner
    costs two dict operations instead of a task (a client that left meanwhile is noticed as soon as its watch
    starts)."""
    sweeper = _SWEEPER
    sweeper.pending[task] = (sweeper.tick, receive)
    running = sweeper.running
    if running is None or running.done():
        sweeper.start()


def unwatch(task: asyncio.Task[object]) -> bool:
    """Stop watching `task`'s client; True when the client had left (and the task's cancel was the watch's)."""
    sweeper = _SWEEPER
    sweeper.pending.pop(task, None)
    watcher = sweeper.watching.pop(task, None)
    if watcher is None:
        return False
    watcher.cancel()
    if task in sweeper.gone:
        sweeper.gone.discard(task)
        if task.cancelling():
            task.uncancel()
        return True
    return False


class _Sweeper:
    """Starts the watch of every call registered at least one period ago. Runs while calls are pending."""

    def __init__(self) -> None:
        self.pending: dict[asyncio.Task[object], tuple[int, Receive]] = {}
        self.watching: dict[asyncio.Task[object], asyncio.Future[None]] = {}
        self.gone: set[asyncio.Task[object]] = set()
        self.tick = 0
        self.running: asyncio.Future[None] | None = None

    def start(self) -> None:
        self.running = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        pending = self.pending
        while pending:
            await asyncio.sleep(WATCH_AFTER_SECONDS)
            self.tick += 1
            due = [task for task, (tick, _) in pending.items() if tick < self.tick - 1]  # 50 to 100 ms old
            for task in due:
                _, receive = pending.pop(task)
                self.watching[task] = asyncio.ensure_future(self._watch(task, receive))

    async def _watch(self, task: asyncio.Task[object], receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.gone.add(task)
        task.cancel()


_SWEEPER = _Sweeper()


async def until_disconnect(work: Awaitable[None], receive: Receive) -> bool:
    """Await `work` under a watch; True when the client left first (the work was cancelled)."""
    task = current_task()
    assert task is not None
    watch(task, receive)
    try:
        await work
    except asyncio.CancelledError:
        if not unwatch(task):
            raise
        return True
    unwatch(task)
    return False
