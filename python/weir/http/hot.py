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
        # One coroutine frame for the whole layer: every frame in the chain of awaits is walked again each time a
        # call resumes (an upstream call suspends a dozen times), so depth costs CPU on every request.
        endpoint: ASGIApp | None = None
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            endpoint = self.routes.get(path)
            if endpoint is None:
                endpoint = next((e for prefix, e in self.prefixes if path.startswith(prefix)), None)
        access_log = self.access_log
        seen: Seen | None = None
        if access_log is not None and scope["type"] == "http":
            started = time.perf_counter()
            seen = Seen()
            send = seen.watch(send)
        try:
            if endpoint is None:
                await self.app(scope, receive, send)
                return
            # No send wrapper for errors: it would cost a call on every streamed chunk. If the response had
            # already started, the second start is refused by the server, which is all that can be done anyway.
            try:
                await endpoint(scope, receive, send)
            except Exception:
                log.exception("unhandled error on %s", scope["path"])
                err = GatewayError("The gateway failed to handle this request; see its log.")
                with contextlib.suppress(Exception):
                    await send_whole(send, 500, openai_errors.render(err), openai_errors.headers(err, request_id()))
        finally:
            if access_log is not None and seen is not None:
                access_log.write(scope, seen, time.perf_counter() - started)
