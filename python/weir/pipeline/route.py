"""Model name -> the configured model, its price and its ordered upstream routes. Built once at start-up."""

from __future__ import annotations

from weir.billing.prices import TokenPrice
from weir.config import Config, Model
from weir.errors import ModelNotFound
from weir.observability.metrics import RouteMetrics
from weir.upstreams.provider import Upstream


class RouteTarget:
    __slots__ = ("metrics", "stream_url", "unary_url", "upstream", "upstream_model")

    def __init__(self, upstream: Upstream, upstream_model: str, model_id: str) -> None:
        self.upstream = upstream
        self.upstream_model = upstream_model
        self.unary_url = upstream.call_url(upstream_model, False)
        self.stream_url = upstream.call_url(upstream_model, True)
        self.metrics = RouteMetrics(upstream.name, model_id)

    def url(self, stream: bool) -> str:
        return self.stream_url if stream else self.unary_url


class ResolvedModel:
    __slots__ = ("aliases", "id", "max_tokens", "price", "routes", "token_encoding")

    def __init__(self, config: Model, price: TokenPrice, routes: list[RouteTarget]) -> None:
        self.id = config.id
        self.aliases = list(config.aliases)
        self.price = price
        self.routes = routes
        self.max_tokens = config.max_tokens  # for upstreams that require it when the client sent none
        self.token_encoding = config.token_encoding


SERVED_NAMED = 10  # an unknown model's error names at most this many of the served models


class ModelTable:
    def __init__(self, config: Config, upstreams: dict[str, Upstream]) -> None:
        self.models: list[ResolvedModel] = []
        self._by_name: dict[str, ResolvedModel] = {}
        for i, m in enumerate(config.models):
            routes = [RouteTarget(upstreams[r.provider], r.model, m.id) for r in m.routes]
            resolved = ResolvedModel(m, TokenPrice.from_config(m.price, f"models[{i}].price"), routes)
            self.models.append(resolved)
            for name in (m.id, *m.aliases):
                self._by_name[name] = resolved
        ids = [m.id for m in self.models]
        more = f" and {len(ids) - SERVED_NAMED} more" if len(ids) > SERVED_NAMED else ""
        self._served = f" Served here: {', '.join(ids[:SERVED_NAMED])}{more}; GET /v1/models lists them all."

    def resolve(self, name: str) -> ResolvedModel:
        model = self._by_name.get(name)
        if model is None:
            message = f"The model {name!r} does not exist or is not served here.{self._served}"
            raise ModelNotFound(message, param="model")
        return model
