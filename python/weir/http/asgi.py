"""Small pure-ASGI helpers for the hot endpoints: read a capped body in bounded time, send a whole response."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import Coroutine, Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

from weir.errors import InvalidRequest, PayloadTooLarge
from weir.http.body_timer import BodyTimer

Headers = list[tuple[bytes, bytes]]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


_ID_PREFIX = "req_" + secrets.token_hex(6)  # random per process: ids stay unique across workers and restarts
_id_counter = itertools.count(1)


def request_id() -> str:
    """A new request id. Always Weir's own: it keys the usage record, so a caller must not be able to choose it
    (a repeated id would make a second call free)."""
    return f"{_ID_PREFIX}{next(_id_counter):010x}"


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole request body, refusing with 413 as soon as it is known to exceed `limit`, and with 408 when the
    client makes Weir wait more than `timeout` seconds for it."""
    declared = header(scope, b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        except ValueError as exc:
            raise InvalidRequest("The Content-Length header is not a number.") from exc
    chunks: list[bytes] = []
    size = 0
    timer = BodyTimer(timeout)
    while True:
        message = await timer.receive(receive)
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class ClientGone(Exception):
    """The client went away before the request was read."""


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def send_whole(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def until_disconnect(pump: Coroutine[Any, Any, None], receive: Receive) -> bool:
    """Run `pump` (which streams a response) while watching for the client to leave; if it leaves first, cancel
    the pump (closing the upstream) and return True."""
    task = asyncio.ensure_future(pump)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
        gone = not task.done()
        if gone:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return gone
    finally:
        watcher.cancel()
