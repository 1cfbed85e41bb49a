"""The ASGI application: the route table, the lifespan that opens and closes the gateway."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from weir.config import Config, load_config
from weir.gateway import Gateway
from weir.http.chat import ChatCompletions
from weir.http.info import Info
from weir.upstreams.echo import echo_chat


def create_app(config: Config | None = None) -> Starlette:
    if config is None:
        config = load_config(os.environ.get("WEIR_CONFIG") or None)
    gateway = Gateway(config)
    info = Info(gateway)
    chat = ChatCompletions(gateway)
    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", info.models, methods=["GET"]),
        Route("/healthz", info.healthz, methods=["GET"]),
        Route("/metrics", info.metrics, methods=["GET"]),
    ]
    if config.is_demo:
        routes.append(Route("/_demo/v1/chat/completions", echo_chat, methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.open()
        try:
            yield
        finally:
            await gateway.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    return app
