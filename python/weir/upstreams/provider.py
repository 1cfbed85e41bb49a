"""A configured upstream provider at run time: its URL, dialect, keys (rotated, cooled, retired), auth style,
whether an operator paused it, and its transport (a connection pool)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from weir import __version__
from weir.config import Provider
from weir.dialects.registry import GEMINI, PROVIDER_DIALECTS, Dialect
from weir.upstreams.health import NO_KEY, Key, KeyRing
from weir.upstreams.transport import AiohttpTransport, Transport

# Where each wire dialect serves its calls, relative to the base URL written as that provider's SDK writes it
# (OpenAI's ends in /v1; Anthropic's is the host root; Gemini's ends in its API version, /v1beta or /v1, and the
# model and method follow: see `Upstream.call_url`).
CHAT_PATHS = {
    "openai_chat": "/chat/completions",
    "openai_responses": "/responses",
    "anthropic_messages": "/v1/messages",
}
COUNT_TOKENS_PATHS = {"anthropic": "/v1/messages/count_tokens"}


class Upstream:
    __slots__ = (
        "_betas",
        "base_url",
        "chat_url",
        "config",
        "dialect",
        "keys",
        "name",
        "paused",
        "static_headers",
        "transport",
        "wire",
    )

    def __init__(self, config: Provider, base_url: str | None = None, transport: Transport | None = None) -> None:
        self.config = config
        self.name = config.name
        self.dialect = config.dialect
        self.wire: Dialect = PROVIDER_DIALECTS[(config.dialect, config.wire_api)]
        self.base_url = (base_url or config.base_url).rstrip("/")
        self.chat_url = self.base_url + CHAT_PATHS.get(self.wire.name, "")
        self.keys = KeyRing(config.name, config.api_keys)
        self.paused: str | None = None  # the operator's reason, while paused (`weir providers pause`)
        self._betas = None if "*" in config.anthropic_betas else frozenset(config.anthropic_betas)
        headers = {"User-Agent": f"weir/{__version__}", "Accept-Encoding": "identity"}
        headers["Content-Type"] = "application/json"
        headers.update(config.headers)
        self.static_headers = headers
        self.transport: Transport = transport or AiohttpTransport(
            connect_timeout=config.connect_timeout_seconds,
            read_timeout=config.read_timeout_seconds,
            max_connections=config.max_connections,
        )

    def headers(
        self,
        request_id: str,
        key: Key = NO_KEY,
        anthropic: tuple[bytes | None, bytes | None] | None = None,
    ) -> dict[str, str]:
        """Headers for one upstream call: the provider's `key`, never the client's. `anthropic` is the client's
        (anthropic-version, anthropic-beta) when its request is forwarded to an Anthropic upstream unchanged."""
        headers = self.static_headers.copy()
        headers["X-Request-ID"] = request_id
        value = key.value
        if self.dialect == "anthropic":
            if value is not None:
                headers["x-api-key"] = value
            version, betas = anthropic or (None, None)
            headers["anthropic-version"] = version.decode("latin-1") if version else self.config.anthropic_version
            if betas:
                allowed = self.allowed_betas(betas.decode("latin-1").split(","))
                if allowed:
                    headers["anthropic-beta"] = ",".join(allowed)
        elif self.wire is GEMINI:
            if value is not None:
                headers["x-goog-api-key"] = value  # never ?key= in the URL: URLs end up in logs
        elif value is not None:
            headers["Authorization"] = f"Bearer {value}"
        return headers

    def call_url(self, model: str, stream: bool) -> str:
        """The URL of one model call: Gemini names the model and the method in the path."""
        if self.wire is GEMINI:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            return f"{self.base_url}/models/{quote(model, safe='')}:{method}"
        return self.chat_url

    def allowed_betas(self, betas: Iterable[str]) -> list[str]:
        flags = [b.strip() for b in betas if b.strip()]
        return flags if self._betas is None else [b for b in flags if b in self._betas]

    def url(self, path: str) -> str:
        return self.base_url + path

    async def aclose(self) -> None:
        await self.transport.aclose()
