#!/usr/bin/env python3
"""Microbenchmark: what the inbound hardening costs per request (issue 10 §1, issue 9's access log).

    access log   HotPaths (python/weir/http/hot.py) around a trivial hot endpoint, with the access log on (its
                 line written to /dev/null) and off: a unary answer (start + body) and a stream of 50 chunks,
                 where the send wrapper is called once per chunk. The difference is the log's cost.
    body timer   read_body (python/weir/http/asgi.py) with its body-read budget (python/weir/http/body_timer.py:
                 every receive registered with the sweeper) against the same loop with a bare receive: a
                 one-message 2 KB body and one sent in 16 pieces.

Each cell runs `--requests` requests in one coroutine on uvloop (the server's loop); median of `--repeats`
runs, in microseconds per request; the cells of a repeat are interleaved. GC is disabled while timing.

    .venv/bin/python bench/micro/inbound.py            # ~10 s
    .venv/bin/python bench/micro/inbound.py --quick    # ~2 s, noisier
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from weir.http.access import AccessLog
from weir.http.asgi import read_body
from weir.http.hot import HotPaths

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/v1/chat/completions",
    "raw_path": b"/v1/chat/completions",
    "query_string": b"",
    "http_version": "1.1",
    "client": ("127.0.0.1", 50000),
    "headers": [(b"content-type", b"application/json")],
}
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"x-weir-request-id", b"req_0123456789ab0000000001")],
}
BODY = {"type": "http.response.body", "body": b'{"ok": true}'}
CHUNK = {"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True}


async def send(message: Any) -> None:
    return None


async def receive() -> Any:
    return {"type": "http.request", "body": b"", "more_body": False}


def endpoint(chunks: int) -> Callable[..., Awaitable[None]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        for _ in range(chunks):
            await send(CHUNK)
        await send(BODY)

    return app


async def unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not a hot path")


def hot(chunks: int, log: bool, devnull: int) -> Callable[[], Awaitable[None]]:
    access_log = AccessLog("text", devnull) if log else None
    layer = HotPaths(unused, {"/v1/chat/completions": endpoint(chunks)}, (), access_log)
    return lambda: layer(SCOPE, receive, send)


def body_reader(pieces: int, timed: bool) -> Callable[[], Awaitable[object]]:
    chunk = b"x" * (2048 // pieces)
    messages = [{"type": "http.request", "body": chunk, "more_body": i < pieces - 1} for i in range(pieces)]

    def feed() -> Callable[[], Awaitable[Any]]:
        it = iter(messages)

        async def next_message() -> Any:
            return next(it)

        return next_message

    async def bare() -> bytes:  # read_body's loop without the timer (and without its size checks)
        recv = feed()
        parts = []
        while True:
            m = await recv()
            parts.append(m["body"])
            if not m["more_body"]:
                return b"".join(parts)

    async def timed_read() -> bytes:
        return await read_body(SCOPE, feed(), 1 << 20, 30.0)

    return timed_read if timed else bare


async def run(cell: Callable[[], Awaitable[object]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await cell()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.repeats = 5_000, 5
    devnull = os.open(os.devnull, os.O_WRONLY)
    cells: dict[str, Callable[[], Awaitable[object]]] = {
        "unary, access log off": hot(0, False, devnull),
        "unary, access log on": hot(0, True, devnull),
        "stream 50 chunks, access log off": hot(50, False, devnull),
        "stream 50 chunks, access log on": hot(50, True, devnull),
        "body 1 piece, bare receive": body_reader(1, False),
        "body 1 piece, read_body (timer)": body_reader(1, True),
        "body 16 pieces, bare receive": body_reader(16, False),
        "body 16 pieces, read_body (timer)": body_reader(16, True),
    }
    results: dict[str, list[float]] = {name: [] for name in cells}
    loop = uvloop.new_event_loop()
    for _ in range(args.repeats):
        gc.collect()
        gc.disable()
        for name, cell in cells.items():
            results[name].append(loop.run_until_complete(run(cell, args.requests)))
        gc.enable()
    loop.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, us in medians.items():
        print(f"{name:40s} {us:8.2f} us/request")
    pairs = [
        ("access log, unary", "unary, access log on", "unary, access log off"),
        ("access log, stream of 50", "stream 50 chunks, access log on", "stream 50 chunks, access log off"),
        ("body timer, 1 piece", "body 1 piece, read_body (timer)", "body 1 piece, bare receive"),
        ("body timer, 16 pieces", "body 16 pieces, read_body (timer)", "body 16 pieces, bare receive"),
    ]
    print()
    for label, on, off in pairs:
        print(f"{label:40s} +{medians[on] - medians[off]:7.2f} us/request")


if __name__ == "__main__":
    main()
