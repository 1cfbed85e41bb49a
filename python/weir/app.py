"""The ASGI application: the route table, the lifespan that opens and closes the gateway."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from weir.admin.routes import admin_routes
from weir.config import Config, load_config
from weir.console import console_routes
from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError, InvalidRequest, NotFound
from weir.gateway import Gateway
from weir.http.access import AccessLog
from weir.http.asgi import request_id
from weir.http.chat import ChatCompletions
from weir.http.count_tokens import CountTokens
from weir.http.gemini import PREFIXES as GEMINI_PREFIXES
from weir.http.gemini import Gemini
from weir.http.hot import HotPaths
from weir.http.info import Info
from weir.http.media import media_routes
from weir.http.messages import Messages
from weir.http.responses import Responses
from weir.upstreams.echo import echo_chat
from weir.upstreams.echo_media import ECHO_MEDIA

log = logging.getLogger("weir")


def create_app(config: Config | None = None) -> ASGIApp:
    _log_to_stderr()
    if config is None:
        config = load_config(os.environ.get("WEIR_CONFIG") or None)
    gateway = Gateway(config)
    info = Info(gateway)
    chat = ChatCompletions(gateway)
    messages = Messages(gateway)
    responses = Responses(gateway)
    count_tokens = CountTokens(gateway)
    gemini = Gemini(gateway)
    hot: dict[str, ASGIApp] = {
        "/v1/chat/completions": chat,
        "/v1/messages": messages,
        "/v1/messages/count_tokens": count_tokens,
        "/v1/responses": responses,
        # The paths other gateways' users already have configured
        "/v1/openai/chat/completions": chat,
        "/v1/openai/responses": responses,
        "/v1/anthropic/messages": messages,
        "/v1/anthropic/messages/count_tokens": count_tokens,
    }
    prefixes = tuple((prefix, gemini) for prefix in GEMINI_PREFIXES)
    hot.update(media_routes(gateway))  # embeddings, images, speech, transcriptions, translations
    routes = [
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in hot.items()),
        *(Route(prefix + "{method:path}", gemini, methods=["POST"]) for prefix in GEMINI_PREFIXES),
        Route("/v1/models", info.models, methods=["GET"]),
        Route("/v1/models/{name:path}", info.model, methods=["GET"]),
        Route("/v1beta/models", info.gemini_models, methods=["GET"]),
        Route("/v1beta/models/{name:path}", info.gemini_model, methods=["GET"]),
        Route("/", info.root, methods=["GET"]),
        Route("/healthz", info.healthz, methods=["GET"]),
        Route("/metrics", info.metrics, methods=["GET"]),
        *admin_routes(gateway),  # the management API (weir.admin)
        *console_routes(gateway),  # the web console (/console) and the public /pricing (weir.console)
    ]
    if config.is_demo:  # the demo models' upstream, an OpenAI-compatible echo
        demo = {"/chat/completions": echo_chat, **ECHO_MEDIA}
        routes += [Route("/_demo/v1" + path, endpoint, methods=["POST"]) for path, endpoint in demo.items()]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.open()
        try:
            yield
        finally:
            started = time.monotonic()
            log.info("worker %d stopping: writing the last usage records", os.getpid())
            await gateway.close()
            log.info("worker %d stopped in %.2f s", os.getpid(), time.monotonic() - started)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )
    app.state.gateway = gateway
    server = config.server
    access_log = AccessLog(server.access_log_format) if server.access_log else None
    return HotPaths(app, hot, prefixes, access_log)


def _log_to_stderr() -> None:
    """Weir's own log lines (INFO and up) on stderr, beside granian's; `kill -USR1 <worker pid>` writes the stack
    of every thread of a worker there too (a stop that hangs, a worker that stopped answering)."""
    logger = logging.getLogger("weir")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(levelname)s] weir: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def _render(request: Request, err: GatewayError) -> Response:
    headers = dict((k.decode(), v.decode()) for k, v in openai_errors.headers(err, request_id()))
    return Response(openai_errors.render(err), status_code=err.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 in the OpenAI error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: GatewayError = NotFound(f"No route for {request.method} {request.url.path}.")
    else:
        err = InvalidRequest(str(exc.detail))
        err.status = exc.status_code
    return _render(request, err)


async def internal_error(request: Request, exc: Exception) -> Response:
    return _render(request, GatewayError("The gateway failed to handle this request; see its log."))
