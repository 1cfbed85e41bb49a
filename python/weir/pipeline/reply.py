"""Writing a call's answer to the client: whole responses, the headers every model endpoint sends whatever the
dialect, and the watch that cancels a call whose client went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable

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


async def until_disconnect(work: Awaitable[None], receive: Receive) -> bool:
    """Await `work` (the exchange and its relay) while watching for the client to leave; if it leaves first, the
    work is cancelled where it waits (closing the upstream request) and True is returned.

    The work runs in the caller's own task and only the watch is a new one: a cancel of the caller from outside
    (shutdown) still propagates."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        await work
    except asyncio.CancelledError:
        if not gone:
            raise
    finally:
        watcher.cancel()
    if gone and task.cancelling():
        task.uncancel()
    return gone
