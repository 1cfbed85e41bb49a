"""A configured upstream provider at run time: its URL, its keys (rotated), its client."""

from __future__ import annotations

import itertools

import httpx

from weir import __version__
from weir.config import Provider
from weir.upstreams.transport import make_client


class Upstream:
    __slots__ = ("_keys", "base_url", "client", "config", "dialect", "name", "static_headers")

    def __init__(self, config: Provider, base_url: str | None = None) -> None:
        self.config = config
        self.name = config.name
        self.dialect = config.dialect
        self.base_url = (base_url or config.base_url).rstrip("/")
        self._keys = itertools.cycle(config.api_keys) if config.api_keys else None
        headers = {"user-agent": f"weir/{__version__}", "accept-encoding": "identity"}
        headers.update({k.lower(): v for k, v in config.headers.items()})
        self.static_headers = headers
        self.client: httpx.AsyncClient = make_client(
            connect_timeout=config.connect_timeout_seconds,
            read_timeout=config.read_timeout_seconds,
            max_connections=config.max_connections,
        )

    def headers(self, request_id: str) -> dict[str, str]:
        """Headers for one upstream call: the provider's key, never the client's."""
        headers = dict(self.static_headers)
        headers["content-type"] = "application/json"
        headers["x-request-id"] = request_id
        if self._keys is not None:
            headers["authorization"] = f"Bearer {next(self._keys)}"
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path

    async def aclose(self) -> None:
        await self.client.aclose()
