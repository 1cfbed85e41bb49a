"""The small endpoints: the model lists, /healthz, /metrics, and / (where to go from there).

The model list is answered in the shape of the client that asks: Gemini's for /v1beta/models and for Google
clients (`x-goog-api-key`, `x-goog-api-client` or `?key=`) on /v1/models; Anthropic's when the request carries
`anthropic-version` (the anthropic SDK and Claude Code send it); OpenAI's otherwise. Every configured id and alias
is listed, with the model's `max_tokens` as its output limit where the shape has one, and its `pricing` (what the
caller pays: its account's and tier's multipliers applied when it gives a key), and its `provider` with
`catalog.show_provider`. Called with a key, a list
holds only what that key may use (its tier's models, or its own list); disabled models are never listed."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from weir import __version__
from weir.billing.prices import usd_prices
from weir.dialects.registry import ANTHROPIC_MESSAGES, GEMINI, OPENAI_CHAT, Dialect
from weir.errors import GatewayError
from weir.gateway import Gateway
from weir.http.asgi import INBOUND_HEADERS, headers_of, request_id
from weir.http.client_ip import ClientIP
from weir.observability.metrics import exposition
from weir.pipeline.access import OPEN, PPM
from weir.pipeline.admit import check_model
from weir.pipeline.authenticate import Principal, extract_key
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


def model_object(
    shape: Shape, name: str, model: ResolvedModel, multiplier_ppm: int = PPM, show_provider: bool = False
) -> dict[str, Any]:
    """One entry of a model list, with the prices the caller pays (its multipliers applied, when it gave a key)
    and, with `catalog.show_provider`, the provider of the model's first route."""
    entry = _entry(shape, name, model)
    entry["pricing"] = usd_prices(model.price, multiplier_ppm)
    if show_provider and model.routes:
        entry["provider"] = min(model.routes, key=lambda r: (r.priority, r.index)).upstream.name
    return entry


def _entry(shape: Shape, name: str, model: ResolvedModel) -> dict[str, Any]:
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
        self.client_ip = ClientIP.from_cidrs(gateway.config.server.trusted_proxies)
        self.wanted = INBOUND_HEADERS | gateway.extra_key_headers | self.client_ip.headers

    def _models_list(self, shape: Shape, principal: Principal | None) -> bytes:
        access = None if principal is None else principal.access
        multiplier = PPM if principal is None else principal.multiplier_ppm
        show = self.gateway.config.catalog.show_provider
        data = [
            model_object(shape, name, model, multiplier, show)
            for name, model in self._names
            if model.disabled is None and (access is None or access.allows_model(model.id, model.aliases))
        ]
        if shape == "gemini":
            return orjson.dumps({"models": data})
        if shape == "anthropic":
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            return orjson.dumps({"data": data, "has_more": False, "first_id": first, "last_id": last})
        return orjson.dumps({"object": "list", "data": data})

    async def _principal(self, request: Request) -> Principal | None:
        """Who the key the request carries belongs to and what it may do (None when it carries none); raises
        GatewayError for a key that is not valid, expired, or used from an address it may not be."""
        gw, scope = self.gateway, request.scope
        found = headers_of(scope, self.wanted)
        presented = extract_key(found, scope.get("query_string", b""), gw.extra_key_headers)
        if presented is None:
            return None
        return await gw.auth.authenticate(presented, "inference", self.client_ip.of_request(scope, found))

    async def models(self, request: Request) -> Response:
        return await self._list(request, shape_of(request))

    async def gemini_models(self, request: Request) -> Response:
        return await self._list(request, "gemini")

    async def _list(self, request: Request, shape: Shape) -> Response:
        try:
            principal = await self._principal(request)
        except GatewayError as err:
            return _refusal(shape, err)
        return Response(self._models_list(shape, principal), media_type=JSON)

    async def model(self, request: Request) -> Response:
        return await self._one(request, shape_of(request), request.path_params["name"])

    async def gemini_model(self, request: Request) -> Response:
        return await self._one(request, "gemini", request.path_params["name"])

    async def _one(self, request: Request, shape: Shape, name: str) -> Response:
        name = name.removeprefix("models/") if shape == "gemini" else name
        try:
            principal = await self._principal(request)
            model = self.gateway.models.resolve(name)
            check_model(OPEN if principal is None else principal.access, model, name)
        except GatewayError as err:
            return _refusal(shape, err)
        multiplier = PPM if principal is None else principal.multiplier_ppm
        entry = model_object(shape, name, model, multiplier, self.gateway.config.catalog.show_provider)
        return Response(orjson.dumps(entry), media_type=JSON)

    async def root(self, request: Request) -> Response:
        """GET /: what this is and where to look, for a person or a probe that starts at the root."""
        body: dict[str, Any] = {
            "service": "weir",
            "version": __version__,
            "models": "/v1/models",
            "health": "/healthz",
            "metrics": "/metrics",
            "console": "/console/",
            "pricing": "/pricing",
            "docs": "README.md in Weir's source: every endpoint, error and setting, with curl recipes",
        }
        if self.gateway.config.is_demo:
            body["demo"] = "embedded defaults: every model here is answered by the built-in echo upstream"
        return Response(orjson.dumps(body), media_type=JSON)

    async def healthz(self, request: Request) -> Response:
        """200 when the database answers, its writes succeed and the usage queue keeps up (and Redis answers, when
        calls cannot be made without it); else 503 with the reasons (README "Hardening")."""
        gw = self.gateway
        health, settler = gw.health, gw.settler
        db_ok, write_problem = await health.check()
        reasons = [] if db_ok else ["the database does not answer"]
        if write_problem:
            reasons.append(write_problem)
        if backlog := settler.backing_up(health.window):
            reasons.append(backlog)
        redis = await gw.limiter.health()  # "disabled" without storage.redis_url
        if redis == "down" and gw.config.limits.on_backend_error == "closed":
            reasons.append("Redis does not answer and limits.on_backend_error is closed: rate-limited calls get 503")
        body: dict[str, object] = {
            "status": "unavailable" if reasons else "ok",
            "db": "ok" if db_ok else "down",
            "writes": "failing" if write_problem else "ok",
            "usage_queue": {"depth": settler.depth, "capacity": settler.capacity},
            "redis": redis,
        }
        if reasons:
            body["reason"] = "; ".join(reasons)
        return Response(orjson.dumps(body), status_code=503 if reasons else 200, media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)


def _refusal(shape: Shape, err: GatewayError) -> Response:
    dialect, rid = _DIALECTS[shape], request_id()
    headers = {k.decode(): v.decode() for k, v in dialect.headers(err, rid)}
    return Response(dialect.render(err, rid), status_code=err.status, headers=headers)
