"""Writing a call's answer to the client: whole responses, and the headers every model endpoint sends whatever
the dialect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from starlette.types import Send

from weir.canonical.usage import Usage

Headers = list[tuple[bytes, bytes]]
CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection first"
SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def base_headers(request_id: str, content_type: bytes, limits: Headers) -> Headers:
    """The headers of every answer: its type, the request id under the names clients read, the key's rate limits."""
    rid = request_id.encode()
    out = [(b"content-type", content_type), (b"x-weir-request-id", rid), (b"x-request-id", rid), (b"request-id", rid)]
    return out + limits if limits else out


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
