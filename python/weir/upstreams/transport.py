"""The upstream HTTP client: httpx as the API, over aiohttp as the transport.

httpx's default transport costs several times more CPU per request and collapses under concurrency on this
kind of machine; bench/transport/ holds the side-by-side measurement that chose aiohttp.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def make_client(*, connect_timeout: float, read_timeout: float, max_connections: int) -> httpx.AsyncClient:
    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=60, ttl_dns_cache=60)
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    transport = AiohttpTransport(client=session)
    timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout)
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False, follow_redirects=False)
