"""The upstream HTTP seam: a small protocol the exchange loop talks to, and its aiohttp implementation.

The loop needs four things of an upstream response: its status and headers, its body read whole or as chunks
arrive, and a way to give the connection back (`release`, after a clean end) or to drop it (`close`, after a
cancel or a failure, which also stops the upstream). `UpstreamResponse` names exactly that subset of aiohttp's
`ClientResponse`, so the production transport hands aiohttp's own object through without a wrapper, and tests
use an in-memory transport (tests/support/transport.py) the way httpx's MockTransport is used.

bench/transport/ measured the candidates side by side on this kind of machine (2 cores, proxy pinned to one):
httpx's default transport spent 3.8–8.7 CPU-s per 1000 requests and fell to ~100 req/s at 64 concurrent
requests; httpx over httpx-aiohttp's transport ~1.0 CPU-s and ~1,000 req/s; a plain aiohttp session ~0.45 CPU-s
and ~2,100 req/s. httpx's own request and response objects cost as much again as the whole aiohttp call, so the
hot path uses aiohttp directly, behind this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Mapping
from typing import Any, Protocol

import aiohttp

# What a failed upstream call can raise before or while its body is read.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)

RequestBody = bytes | AsyncIterable[bytes]


class BodyStream(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, in chunks of any size."""
        ...


class UpstreamResponse(Protocol):
    """The answer of one upstream call, its headers read and its body not yet."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> BodyStream: ...

    async def read(self) -> bytes: ...

    def release(self) -> Any:
        """The body was read to its end: the connection may be reused."""
        ...

    def close(self) -> None:
        """Drop the connection now (the upstream sees the request cancelled)."""
        ...


class Transport(Protocol):
    def post(
        self, url: str, body: RequestBody, headers: dict[str, str], stream: bool = False
    ) -> Awaitable[UpstreamResponse]:
        """Send the request; the awaitable gives the response once its headers arrived, or raises one of
        TRANSPORT_ERRORS. `stream`: the answer is read as it arrives, under the stream's total time limit
        instead of the unary call's."""
        ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """One pooled aiohttp ClientSession per provider, created on first use inside the running event loop. Every
    read waits at most `read_timeout` (silence). A call's whole time (request_timeout_seconds, max_stream_seconds)
    is kept by pipeline/watch.py, not here: aiohttp's per-request `total` costs a timer per request."""

    __slots__ = ("_connect_timeout", "_max_connections", "_read_timeout", "_session")

    def __init__(self, *, connect_timeout: float, read_timeout: float, max_connections: int) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = make_session(
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
                max_connections=self._max_connections,
            )
        return self._session

    def post(
        self, url: str, body: RequestBody, headers: dict[str, str], stream: bool = False
    ) -> Awaitable[UpstreamResponse]:
        # aiohttp's own awaitable, returned as it is: no coroutine frame of ours on the hot path
        return self.session.post(url, data=body, headers=headers)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def make_session(*, connect_timeout: float, read_timeout: float, max_connections: int) -> aiohttp.ClientSession:
    """A pooled session; must be created inside the running event loop."""
    connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=60, ttl_dns_cache=60)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        trust_env=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError)  # aiohttp's ServerTimeoutError is a TimeoutError too
