"""The small endpoints: /v1/models, /healthz, /metrics."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from weir.gateway import Gateway
from weir.observability.metrics import exposition

JSON = "application/json"


class Info:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._models_body = self._models_list()

    def _models_list(self) -> bytes:
        data = []
        for model in self.gateway.models.models:
            for name in (model.id, *model.aliases):
                data.append({"id": name, "object": "model", "created": 0, "owned_by": "weir"})
        return orjson.dumps({"object": "list", "data": data})

    async def models(self, request: Request) -> Response:
        return Response(self._models_body, media_type=JSON)

    async def healthz(self, request: Request) -> Response:
        gw = self.gateway
        db_ok = await gw.store.ping()
        redis = "disabled" if not gw.config.storage.redis_url else "unchecked"
        body = {"status": "ok" if db_ok else "unavailable", "db": "ok" if db_ok else "down", "redis": redis}
        return Response(orjson.dumps(body), status_code=200 if db_ok else 503, media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)
