"""The outermost ASGI layer: hot endpoints are called directly, everything else goes through Starlette.

Starlette's router and its two exception middlewares cost measurable CPU per request on the proxy path; the hot
endpoints render their own errors, so they skip that stack. An unexpected exception is logged and becomes a 500 in
the OpenAI shape when the response has not started yet. Every HTTP request, hot or not, gets its access log line
here (weir.http.access).
"""

from __future__ import annotations

import contextlib
import logging
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError
from weir.http.access import AccessLog, Seen
from weir.http.asgi import request_id
from weir.pipeline.reply import send_whole

log = logging.getLogger("weir.http")


class HotPaths:
    def __init__(
        self,
        app: ASGIApp,
        routes: dict[str, ASGIApp],
        prefixes: tuple[tuple[str, ASGIApp], ...] = (),
        access_log: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.routes = routes  # path -> endpoint, for POST only
        self.prefixes = prefixes  # (path prefix, endpoint), for POST paths with parameters (Gemini's)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.access_log is None or scope["type"] != "http":
            await self._dispatch(scope, receive, send)
            return
        started = time.perf_counter()
        exchange = Seen()
        try:
            await self._dispatch(scope, receive, exchange.watch(send))
        finally:
            self.access_log.write(scope, exchange, time.perf_counter() - started)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            endpoint = self.routes.get(path)
            if endpoint is None:
                endpoint = next((e for prefix, e in self.prefixes if path.startswith(prefix)), None)
            if endpoint is not None:
                await self._guarded(endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _guarded(self, endpoint: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # No send wrapper here: it would cost a coroutine frame on every streamed chunk. If the response had
        # already started, the second start is refused by the server, which is all that can be done anyway.
        try:
            await endpoint(scope, receive, send)
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            err = GatewayError("The gateway failed to handle this request; see its log.")
            with contextlib.suppress(Exception):
                await send_whole(send, 500, openai_errors.render(err), openai_errors.headers(err, request_id()))
