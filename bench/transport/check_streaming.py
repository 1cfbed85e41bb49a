#!/usr/bin/env python3
"""Does each transport relay SSE chunks as they arrive (no buffering to the end)?

A paced upstream (raw asyncio, HTTP/1.1 chunked, one SSE event every --gap
seconds) is read
  1. directly by each client (httpx default, httpx + AiohttpTransport, the tuned
     AiohttpTransport, plain aiohttp), and
  2. end to end through each granian proxy variant from proxy.py.
Each check is done twice and the second (warm) request is reported.
PASS means the first event arrived well before the stream ended and every event
arrived roughly one gap after the previous one.

    .venv/bin/python bench/transport/check_streaming.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

EVENTS = 5


async def paced_server(gap: float) -> tuple[asyncio.base_events.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await asyncio.wait_for(reader.readexactly(length), 10)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            for i in range(EVENTS):
                if i:
                    await asyncio.sleep(gap)
                data = f'data: {{"i":{i},"t":{time.monotonic():.4f}}}\n\n'.encode()
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def verdict(arrivals: list[tuple[float, int]], start: float, gap: float) -> tuple[bool, str]:
    """arrivals: (t, nbytes) per chunk the client saw."""
    if not arrivals:
        return False, "no data"
    first = arrivals[0][0] - start
    total = arrivals[-1][0] - start
    # Group chunks into bursts separated by > gap/2: one burst per event if streamed.
    bursts = 1
    for (a, _), (b, _) in zip(arrivals, arrivals[1:], strict=False):
        if b - a > gap / 2:
            bursts += 1
    ok = first < gap / 2 and total > (EVENTS - 1) * gap * 0.8 and bursts == EVENTS
    detail = f"first chunk {first * 1000:6.1f} ms, end {total * 1000:6.0f} ms"
    return ok, f"{detail}, {len(arrivals)} chunks in {bursts} bursts"


async def client_checks(url: str, gap: float) -> list[tuple[str, bool, str]]:
    import aiohttp
    import httpx
    import httpx_aiohttp

    body = b'{"stream":true}'
    hdrs = {"Content-Type": "application/json"}
    out = []

    async def via_httpx(name: str, client: httpx.AsyncClient) -> None:
        async with client:
            for _ in range(2):  # report the second (warm) request
                start = time.monotonic()
                arr = []
                async with client.stream("POST", url, content=body, headers=hdrs) as r:
                    async for chunk in r.aiter_raw():
                        arr.append((time.monotonic(), len(chunk)))
            out.append((name, *verdict(arr, start, gap)))

    await via_httpx("client httpx (default transport)", httpx.AsyncClient())
    await via_httpx("client httpx + AiohttpTransport", httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport()))

    class Tuned(httpx_aiohttp.AiohttpTransport):
        async def handle_async_request(self, request):
            resp = await super().handle_async_request(request)
            resp.stream.CHUNK_SIZE = 256 * 1024
            return resp

    await via_httpx(
        "client httpx + AiohttpTransport tuned",
        httpx.AsyncClient(
            transport=Tuned(client=lambda: aiohttp.ClientSession(auto_decompress=False, read_bufsize=256 * 1024))
        ),
    )
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            start = time.monotonic()
            arr = []
            async with s.post(url, data=body, headers=hdrs) as r:
                async for chunk in r.content.iter_any():
                    arr.append((time.monotonic(), len(chunk)))
        out.append(("client aiohttp", *verdict(arr, start, gap)))
    return out


async def proxy_checks(upstream: str, gap: float) -> list[tuple[str, bool, str]]:
    import aiohttp

    from run import PROXY_VARIANTS, Proxy

    out = []
    logdir = Path(tempfile.mkdtemp(prefix="weir-bench-stream-check-"))
    body = (HERE / "fixtures" / "request_stream.json").read_bytes()
    for variant in PROXY_VARIANTS:
        proxy = Proxy(variant, upstream, cpu=",".join(str(c) for c in sorted(os.sched_getaffinity(0))))
        try:
            await asyncio.to_thread(proxy.start, logdir)
            async with aiohttp.ClientSession() as s:
                for _ in range(2):  # report the second (warm) request
                    start = time.monotonic()
                    arr = []
                    async with s.post(
                        proxy.url + "/v1/chat/completions",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as r:
                        async for chunk in r.content.iter_any():
                            arr.append((time.monotonic(), len(chunk)))
            out.append((f"proxy {variant}", *verdict(arr, start, gap)))
        finally:
            await asyncio.to_thread(proxy.stop)
    return out


async def main(gap: float) -> int:
    server, port = await paced_server(gap)
    url = f"http://127.0.0.1:{port}"
    try:
        results = await asyncio.wait_for(client_checks(url + "/stream", gap), 60)
        results += await asyncio.wait_for(proxy_checks(url, gap), 120)
    finally:
        server.close()
    print(f"paced upstream: {EVENTS} SSE events, {gap * 1000:.0f} ms apart")
    for name, ok, detail in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<40} {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    import uvloop

    gap = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    sys.exit(uvloop.run(main(gap)))
