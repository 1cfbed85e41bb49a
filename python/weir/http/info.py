"""The small endpoints: the model lists, /healthz, /metrics, and / (where to go from there).

The model list is answered in the shape of the client that asks: Gemini's for /v1beta/models and for Google
clients (`x-goog-api-key`, `x-goog-api-client` or `?key=`) on /v1/models; Anthropic's when the request carries
`anthropic-version` (the anthropic SDK and Claude Code send it); OpenAI's otherwise. Every configured id and alias
is listed, with the model's `max_tokens` as its output limit where the shape has one."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from weir import __version__
from weir.dialects.registry import ANTHROPIC_MESSAGES, GEMINI, OPENAI_CHAT, Dialect
from weir.errors import ModelNotFound
from weir.gateway import Gateway
from weir.http.asgi import request_id
from weir.observability.metrics import exposition
from weir.pipeline.route import ResolvedModel

JSON = "application/json"
CREATED_AT = "2025-01-01T00:00:00Z"  # Anthropic's list has dates; configured models have none
GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
Shape = Literal["openai", "anthropic", "gemini"]
_DIALECTS: dict[Shape, Dialect] = {"openai": OPENAI_CHAT, "anthropic": ANTHROPIC_MESSAGES, "gemini": GEMINI}


def shape_of(request: Request) -> Shape:
    headers = request.headers
    if "x-goog-api-key" in headers or "x-goog-api-client" in headers or "key" in request.query_params:
        return "gemini"
    if "anthropic-version" in headers:
        return "anthropic"
    return "openai"


def model_object(shape: Shape, name: str, model: ResolvedModel) -> dict[str, Any]:
    if shape == "gemini":
        return {
            "name": f"models/{name}",
            "baseModelId": name,
            "version": "001",
            "displayName": name,
            "outputTokenLimit": model.max_tokens,
            "supportedGenerationMethods": GEMINI_METHODS,
        }
    if shape == "anthropic":
        return {"type": "model", "id": name, "display_name": name, "created_at": CREATED_AT}
    return {"id": name, "object": "model", "created": 0, "owned_by": "weir"}


class Info:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._names = [(name, m) for m in gateway.models.models for name in (m.id, *m.aliases)]
        self._lists = {shape: self._models_list(shape) for shape in _DIALECTS}

    def _models_list(self, shape: Shape) -> bytes:
        data = [model_object(shape, name, model) for name, model in self._names]
        if shape == "gemini":
            return orjson.dumps({"models": data})
        if shape == "anthropic":
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            return orjson.dumps({"data": data, "has_more": False, "first_id": first, "last_id": last})
        return orjson.dumps({"object": "list", "data": data})

    async def models(self, request: Request) -> Response:
        return Response(self._lists[shape_of(request)], media_type=JSON)

    async def gemini_models(self, request: Request) -> Response:
        return Response(self._lists["gemini"], media_type=JSON)

    async def model(self, request: Request) -> Response:
        return self._one(shape_of(request), request.path_params["name"])

    async def gemini_model(self, request: Request) -> Response:
        return self._one("gemini", request.path_params["name"])

    def _one(self, shape: Shape, name: str) -> Response:
        name = name.removeprefix("models/") if shape == "gemini" else name
        try:
            model = self.gateway.models.resolve(name)
        except ModelNotFound as err:
            dialect, rid = _DIALECTS[shape], request_id()
            headers = {k.decode(): v.decode() for k, v in dialect.headers(err, rid)}
            return Response(dialect.render(err, rid), status_code=err.status, headers=headers)
        return Response(orjson.dumps(model_object(shape, name, model)), media_type=JSON)

    async def root(self, request: Request) -> Response:
        """GET /: what this is and where to look, for a person or a probe that starts at the root."""
        body: dict[str, Any] = {
            "service": "weir",
            "version": __version__,
            "models": "/v1/models",
            "health": "/healthz",
            "metrics": "/metrics",
            "docs": "README.md in Weir's source: every endpoint, error and setting, with curl recipes",
        }
        if self.gateway.config.is_demo:
            body["demo"] = "embedded defaults: every model here is answered by the built-in echo upstream"
        return Response(orjson.dumps(body), media_type=JSON)

    async def healthz(self, request: Request) -> Response:
        """200 when the database answers, its writes succeed and the usage queue keeps up; else 503 with the
        reasons (README "Hardening")."""
        gw = self.gateway
        health, settler = gw.health, gw.settler
        db_ok, write_problem = await health.check()
        reasons = [] if db_ok else ["the database does not answer"]
        if write_problem:
            reasons.append(write_problem)
        if backlog := settler.backing_up(health.window):
            reasons.append(backlog)
        body: dict[str, object] = {
            "status": "unavailable" if reasons else "ok",
            "db": "ok" if db_ok else "down",
            "writes": "failing" if write_problem else "ok",
            "usage_queue": {"depth": settler.depth, "capacity": settler.capacity},
            "redis": "disabled" if not gw.config.storage.redis_url else "unchecked",
        }
        if reasons:
            body["reason"] = "; ".join(reasons)
        return Response(orjson.dumps(body), status_code=503 if reasons else 200, media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)
