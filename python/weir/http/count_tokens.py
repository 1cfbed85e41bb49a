"""POST /v1/messages/count_tokens: how many input tokens a Messages request would use. Claude Code asks before
every turn, so it must be fast: Anthropic upstreams are asked (they know their own tokenizer); for any other
upstream Weir counts locally with the model's BPE encoding. Free: nothing is charged or recorded, but the key
must be one that may make calls (an account with nothing left gets 402)."""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir.dialects.anthropic_messages import request as anthropic_request
from weir.dialects.registry import ANTHROPIC_MESSAGES
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import INBOUND_HEADERS, ClientGone, headers_of, read_body, request_id
from weir.observability.metrics import RouteCounter
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.authenticate import extract_key
from weir.pipeline.relay.count import LocalCountLeg, UpstreamCountLeg, local_count
from weir.pipeline.reply import send_whole
from weir.pipeline.route import Route
from weir.upstreams.health import Key
from weir.upstreams.provider import COUNT_TOKENS_PATHS


class CountTokens:
    dialect = ANTHROPIC_MESSAGES

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter("count_tokens")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        dialect = self.dialect
        try:
            await self._count(scope, receive, send, rid)
        except GatewayError as err:
            self.requests.observe(err.status)
            await send_whole(send, err.status, dialect.render(err, rid), dialect.headers(err, rid))
            return
        except ClientGone:
            return
        self.requests.observe(200)

    async def _count(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        gw = self.gateway
        found = headers_of(scope, INBOUND_HEADERS | gw.extra_key_headers)
        presented = extract_key(found, scope.get("query_string", b""), gw.extra_key_headers)
        principal = await gw.auth.authenticate(presented, "inference")  # first: no reading bodies for strangers
        server = gw.config.server
        raw = await read_body(found, receive, server.max_body_bytes, server.body_read_timeout_seconds)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            raise InvalidRequest("'model' is required and must be a string.", param="model")
        call, routes, key = gw.exchange.begin(principal, payload["model"], rid, False)
        client = (found.get(b"anthropic-version"), found.get(b"anthropic-beta"))
        rid_bytes = rid.encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"request-id", rid_bytes),
            (b"x-weir-request-id", rid_bytes),
        ]

        def count_here() -> bytes:
            local = dict(payload)
            local.setdefault("max_tokens", 1)  # count_tokens bodies have none; the converter wants one
            request = anthropic_request.to_canonical(orjson.dumps(local))
            return orjson.dumps({"input_tokens": local_count(request, call.model.token_encoding)})

        def leg_for(route: Route, key: Key) -> Leg:
            upstream = route.upstream
            if upstream.dialect not in COUNT_TOKENS_PATHS:
                return LocalCountLeg(count_here, headers)
            body = orjson.dumps({**payload, "model": route.upstream_model})
            out = Outgoing(upstream.url(COUNT_TOKENS_PATHS[upstream.dialect]), body, upstream.headers(rid, key, client))
            return UpstreamCountLeg(out, headers)

        await gw.exchange.run(call, routes, leg_for, receive, send, preferred_key=key, record=False)
