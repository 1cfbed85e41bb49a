"""Minimal passthrough proxy (Starlette) with a switchable upstream HTTP client.

POST /v1/chat/completions: read the body, forward it upstream with the upstream
``Authorization`` header, and either return the upstream body (non-stream) or
stream the upstream bytes back as they arrive (request JSON has
``"stream": true`` -> ``StreamingResponse``, ``text/event-stream``).

Configuration (environment, so one file serves every variant under granian):

    WEIR_BENCH_VARIANT   httpx | httpx_aiohttp | httpx_aiohttp_tuned | aiohttp
    WEIR_BENCH_UPSTREAM  base URL of the upstream, e.g. http://127.0.0.1:18080
    WEIR_BENCH_KEY       upstream bearer key (default sk-bench-upstream)
    WEIR_BENCH_POOL      keep-alive pool size (default 256)

Non-stream requests go to ``$UPSTREAM/v1/chat/completions``; streaming ones to
``$UPSTREAM/stream/v1/chat/completions`` (the nginx mock picks the canned SSE
body by location).

    WEIR_BENCH_VARIANT=aiohttp WEIR_BENCH_UPSTREAM=http://127.0.0.1:18080 \\
      granian --interface asgi --workers 1 --loop uvloop --working-dir bench/transport proxy:app
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

VARIANT = os.environ.get("WEIR_BENCH_VARIANT", "httpx")
UPSTREAM = os.environ.get("WEIR_BENCH_UPSTREAM", "http://127.0.0.1:18080").rstrip("/")
KEY = os.environ.get("WEIR_BENCH_KEY", "sk-bench-upstream")
POOL = int(os.environ.get("WEIR_BENCH_POOL", "256"))
# tuned variant: read size for the response stream / aiohttp StreamReader buffer
TUNED_CHUNK = int(os.environ.get("WEIR_BENCH_TUNED_CHUNK", str(256 * 1024)))

COMPLETE_URL = f"{UPSTREAM}/v1/chat/completions"
STREAM_URL = f"{UPSTREAM}/stream/v1/chat/completions"
UPSTREAM_HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

Close = Callable[[], Awaitable[None]]


class Backend:
    """Upstream client: one non-stream call and one streaming call."""

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def complete(self, body: bytes) -> tuple[int, bytes, str]:
        raise NotImplementedError

    async def stream(self, body: bytes) -> tuple[int, AsyncIterator[bytes], Close]:
        raise NotImplementedError


# --------------------------------------------------------------------------- httpx


class HttpxBackend(Backend):
    def __init__(self, transport: str) -> None:
        self.transport_kind = transport

    def _transport(self):
        import httpx

        limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL, keepalive_expiry=120)
        if self.transport_kind == "default":
            return None, limits
        import httpx_aiohttp

        if self.transport_kind == "aiohttp":
            return httpx_aiohttp.AiohttpTransport(limits=limits), limits
        if self.transport_kind == "aiohttp_tuned":
            import aiohttp

            class TunedTransport(httpx_aiohttp.AiohttpTransport):
                # AiohttpResponseStream reads with iter_chunked(CHUNK_SIZE=16 KiB);
                # raise it per instance (iter_chunked still returns as soon as
                # *any* bytes are buffered, it only caps the size).
                async def handle_async_request(self, request):
                    response = await super().handle_async_request(request)
                    response.stream.CHUNK_SIZE = TUNED_CHUNK
                    return response

            def make_session() -> aiohttp.ClientSession:
                return aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=POOL, limit_per_host=0, keepalive_timeout=120),
                    auto_decompress=False,
                    read_bufsize=TUNED_CHUNK,
                    skip_auto_headers=("User-Agent",),
                )

            # The session must be created inside the running loop: pass a factory.
            return TunedTransport(limits=limits, client=make_session), limits
        raise ValueError(self.transport_kind)

    async def startup(self) -> None:
        import httpx

        transport, limits = self._transport()
        kwargs = {"transport": transport} if transport is not None else {"limits": limits}
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0), **kwargs)

    async def shutdown(self) -> None:
        await self.client.aclose()

    async def complete(self, body: bytes) -> tuple[int, bytes, str]:
        r = await self.client.post(COMPLETE_URL, content=body, headers=UPSTREAM_HEADERS)
        return r.status_code, r.content, r.headers.get("content-type", "application/json")

    async def stream(self, body: bytes) -> tuple[int, AsyncIterator[bytes], Close]:
        req = self.client.build_request("POST", STREAM_URL, content=body, headers=UPSTREAM_HEADERS)
        r = await self.client.send(req, stream=True)
        return r.status_code, r.aiter_raw(), r.aclose


# ------------------------------------------------------------------------- aiohttp


class AiohttpBackend(Backend):
    async def startup(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL, limit_per_host=0, keepalive_timeout=120),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60),
        )

    async def shutdown(self) -> None:
        await self.session.close()

    async def complete(self, body: bytes) -> tuple[int, bytes, str]:
        async with self.session.post(COMPLETE_URL, data=body, headers=UPSTREAM_HEADERS) as r:
            data = await r.read()
            return r.status, data, r.headers.get("Content-Type", "application/json")

    async def stream(self, body: bytes) -> tuple[int, AsyncIterator[bytes], Close]:
        r = await self.session.post(STREAM_URL, data=body, headers=UPSTREAM_HEADERS)

        async def close() -> None:
            r.release()

        return r.status, r.content.iter_any(), close


BACKENDS: dict[str, Callable[[], Backend]] = {
    "httpx": lambda: HttpxBackend("default"),
    "httpx_aiohttp": lambda: HttpxBackend("aiohttp"),
    "httpx_aiohttp_tuned": lambda: HttpxBackend("aiohttp_tuned"),
    "aiohttp": AiohttpBackend,
}

backend: Backend = BACKENDS[VARIANT]()


# ----------------------------------------------------------------------------- app


async def chat_completions(request: Request) -> Response:
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Response(b'{"error":{"message":"invalid JSON"}}', 400, media_type="application/json")
    if isinstance(payload, dict) and payload.get("stream") is True:
        status, chunks, close = await backend.stream(body)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                await close()

        return StreamingResponse(relay(), status_code=status, media_type="text/event-stream")
    status, data, ctype = await backend.complete(body)
    return Response(data, status_code=status, headers={"content-type": ctype})


async def healthz(request: Request) -> Response:
    return Response(VARIANT.encode(), media_type="text/plain")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    await backend.startup()
    try:
        yield
    finally:
        await backend.shutdown()


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
