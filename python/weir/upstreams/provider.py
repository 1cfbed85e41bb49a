"""A configured upstream provider at run time: its URL, its keys (rotated), its connection pool."""

from __future__ import annotations

import itertools

import aiohttp

from weir import __version__
from weir.config import Provider
from weir.upstreams.transport import make_session


class Upstream:
    __slots__ = ("_keys", "_session", "base_url", "config", "dialect", "name", "static_headers")

    def __init__(self, config: Provider, base_url: str | None = None) -> None:
        self.config = config
        self.name = config.name
        self.dialect = config.dialect
        self.base_url = (base_url or config.base_url).rstrip("/")
        self._keys = itertools.cycle(config.api_keys) if config.api_keys else None
        headers = {"User-Agent": f"weir/{__version__}", "Accept-Encoding": "identity"}
        headers["Content-Type"] = "application/json"
        headers.update(config.headers)
        self.static_headers = headers
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # created on first use, inside the event loop
            cfg = self.config
            self._session = make_session(
                connect_timeout=cfg.connect_timeout_seconds,
                read_timeout=cfg.read_timeout_seconds,
                max_connections=cfg.max_connections,
            )
        return self._session

    def headers(self, request_id: str) -> dict[str, str]:
        """Headers for one upstream call: the provider's key, never the client's."""
        headers = self.static_headers.copy()
        headers["X-Request-ID"] = request_id
        if self._keys is not None:
            headers["Authorization"] = f"Bearer {next(self._keys)}"
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
