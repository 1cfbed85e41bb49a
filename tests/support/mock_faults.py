"""Upstreams that fail on purpose, for the failover and hardening tests: the mock upstream hands every request
whose model starts with `fault-` here. The model name says what to do: `fault-<kind>-<anything>`.

    fault-500-*        500 with an OpenAI error body
    fault-429-*        429 with `retry-after: 2`
    fault-hang-*       waits 30 s before answering at all
    fault-die-*        a stream: one chunk, then the connection drops; unary: half a body, then it drops
    fault-401echo-*    401 whose message repeats the Authorization header it got (some providers do)
    fault-400echo-*    400 whose message repeats the key, and an x-api-key value
    fault-endless-*    a stream that never ends (a chunk every 50 ms)
    fault-trickle-*    a unary answer sent one byte every 100 ms
    fault-notjson-*    200 with an HTML page
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse


class Dropped(Exception):
    """Raised inside a response body: the server drops the connection without ending the body."""


def _error(status: int, message: str, kind: str, **headers: str) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _chunk(model: str, content: str) -> bytes:
    obj = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}],
    }
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def chat(request: Request, body: dict[str, Any]) -> Response:
    model = str(body.get("model", ""))
    kind = model.split("-")[1] if model.count("-") >= 1 else ""
    stream = body.get("stream") is True
    if kind == "500":
        return _error(500, "upstream exploded", "server_error")
    if kind == "429":
        return _error(429, "Rate limit reached for requests", "rate_limit_error", **{"retry-after": "2"})
    if kind == "hang":
        await asyncio.sleep(30)
        return _error(500, "too late", "server_error")
    if kind == "401echo":
        sent = request.headers.get("authorization", "")
        return _error(401, f"Incorrect API key provided: {sent}. Check your key.", "invalid_request_error")
    if kind == "400echo":
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        return _error(400, f"Bad request for key {key} (x-api-key: {key}); field 'x' is wrong", "invalid_request_error")
    if kind == "notjson":
        return Response(b"<html><body>Bad gateway</body></html>", media_type="text/html")
    if kind == "die":
        return StreamingResponse(_die(model, stream), media_type="text/event-stream" if stream else "application/json")
    if kind == "endless":
        return StreamingResponse(_endless(model), media_type="text/event-stream")
    if kind == "trickle":
        return StreamingResponse(_trickle(), media_type="application/json")
    return _error(400, f"unknown fault {model!r}", "invalid_request_error")


async def _die(model: str, stream: bool) -> AsyncIterator[bytes]:
    yield _chunk(model, "partial") if stream else b'{"id": "chatcmpl-fault", "object": "chat.comp'
    await asyncio.sleep(0.05)
    raise Dropped("the upstream drops the connection on purpose")


async def _endless(model: str) -> AsyncIterator[bytes]:
    while True:
        yield _chunk(model, "more ")
        await asyncio.sleep(0.05)


async def _trickle() -> AsyncIterator[bytes]:
    for byte in b'{"id": "chatcmpl-fault", "object": "chat.completion", "choices": []}':
        yield bytes([byte])
        await asyncio.sleep(0.1)
