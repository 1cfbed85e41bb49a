"""The access log line: its fields, in both formats, and what it must never carry."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from weir.http.access import AccessLog
from weir.http.hot import HotPaths

KEY = "sk-weir_AbCdEfGhIjKl_0123456789abcdefghijklmnopqrstuvwABCDEF"


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def scope(method: str, path: str, query: bytes = b"", raw: bytes | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": raw if raw is not None else path.encode(),
        "query_string": query,
        "http_version": "1.1",
        "client": ("10.1.2.3", 51234),
        "headers": [],
    }


async def answer(status: int, request_id: bytes | None = None, chunks: int = 0) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json")]
        if request_id:
            headers.append((b"x-weir-request-id", request_id))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for _ in range(chunks):
            await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def call(layer: HotPaths, s: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await layer(s, receive, send)
    return sent


async def test_one_text_line_per_request_hot_or_not(pipe: tuple[int, int]) -> None:
    r, w = pipe
    hot = await answer(200, b"req_abc000001", chunks=3)
    other = await answer(404)
    layer = HotPaths(other, {"/v1/chat/completions": hot}, (), AccessLog("text", w))
    sent = await call(layer, scope("POST", "/v1/chat/completions", query=f"key={KEY}".encode()))
    assert len(sent) == 5  # everything still reached the server
    await call(layer, scope("GET", "/nowhere"))
    lines = os.read(r, 65536).decode().splitlines()
    assert len(lines) == 2
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"
    pattern = stamp + r' 10\.1\.2\.3 "POST /v1/chat/completions HTTP/1\.1" 200 \d+\.\dms req_abc000001$'
    assert re.match(pattern, lines[0]), lines[0]
    assert re.search(r'"GET /nowhere HTTP/1\.1" 404 \d+\.\dms -$', lines[1]), lines[1]
    assert KEY not in "".join(lines) and "key=" not in "".join(lines)


async def test_json_lines(pipe: tuple[int, int]) -> None:
    r, w = pipe
    layer = HotPaths(await answer(201, b"req_x"), {}, (), AccessLog("json", w))
    await call(layer, scope("GET", "/v1/models"))
    line = orjson.loads(os.read(r, 65536))
    assert line.pop("time") and line.pop("duration_ms") >= 0
    assert line == {
        "client": "10.1.2.3",
        "method": "GET",
        "path": "/v1/models",
        "protocol": "HTTP/1.1",
        "status": 201,
        "request_id": "req_x",
    }


async def test_a_key_in_the_path_and_quotes_are_not_logged_as_sent(pipe: tuple[int, int]) -> None:
    r, w = pipe
    layer = HotPaths(await answer(404), {}, (), AccessLog("text", w))
    await call(layer, scope("GET", f"/v1/{KEY}/x", raw=f'/v1/{KEY}/"x"'.encode()))
    line = os.read(r, 65536).decode()
    assert '"GET /v1/[key]/%22x%22 HTTP/1.1" 404' in line and "weir_" not in line


async def test_off_writes_nothing(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.set_blocking(r, False)
    await call(HotPaths(await answer(200), {}, ()), scope("GET", "/healthz"))
    with pytest.raises(BlockingIOError):
        os.read(r, 1)
