"""The upstream HTTP client: one aiohttp ClientSession (connection pool) per provider.

bench/transport/ measured the candidates side by side on this kind of machine (2 cores, proxy pinned to one):
httpx's default transport spent 3.8–8.7 CPU-s per 1000 requests and fell to ~100 req/s at 64 concurrent
requests; httpx over httpx-aiohttp's transport ~1.0 CPU-s and ~1,000 req/s; a plain aiohttp session ~0.45 CPU-s
and ~2,100 req/s. httpx's own request and response objects cost as much again as the whole aiohttp call, so the
hot path uses aiohttp directly, behind this module.
"""

from __future__ import annotations

import aiohttp

# What a failed upstream call can raise before or while its body is read.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


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
