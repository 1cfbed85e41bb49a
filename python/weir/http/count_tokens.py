"""Token counting: POST /v1/messages/count_tokens (Anthropic clients; Claude Code asks before every turn) and the
Gemini API's `:countTokens` (http/gemini.py). A route whose provider counts its own tokens is asked (Anthropic,
Gemini); for any other, Weir counts locally with the model's BPE encoding, in a worker thread when the request is
large. Free: nothing is charged or recorded, and nothing counts in the key's rate limits. But counting is not a
way around admission: the key must be one that may make calls (its expiry, IP allow-list and model access are
checked; an account with nothing left gets 402), bodies are capped by
`server.count_tokens_max_bytes`, and each key may count `server.count_tokens_per_minute` times a minute (429
past it), so counting cannot be used to burn the gateway's CPU."""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir.dialects.anthropic_messages import request as anthropic_request
from weir.dialects.registry import ANTHROPIC_MESSAGES, Dialect
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import INBOUND_HEADERS, ClientGone, Headers, headers_of, read_body, request_id
from weir.http.client_ip import ClientIP
from weir.observability.metrics import RouteCounter
from weir.pipeline.admit import CountBound
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.authenticate import Principal, extract_key
from weir.pipeline.relay.count import LocalCountLeg, UpstreamCountLeg, local_count
from weir.pipeline.reply import send_whole
from weir.pipeline.route import Route
from weir.upstreams.health import Key
from weir.upstreams.provider import COUNT_TOKENS_PATHS


class CountEndpoint:
    """What both counting endpoints share: the key, the per-key bound, the capped body, errors in the dialect."""

    dialect: Dialect
    route: str

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter(self.route)
        self.client_ip = ClientIP.from_cidrs(gateway.config.server.trusted_proxies)
        self.wanted = INBOUND_HEADERS | gateway.extra_key_headers | self.client_ip.headers
        self.bound = CountBound(gateway.config.server.count_tokens_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        gw = self.gateway
        try:
            found = headers_of(scope, self.wanted)
            presented = extract_key(found, scope.get("query_string", b""), gw.extra_key_headers)
            ip = self.client_ip.of_request(scope, found)
            principal = await gw.auth.authenticate(presented, "inference", ip)  # first: no reading bodies for strangers
            self.bound.admit(principal.key_id)
            server = gw.config.server
            raw = await read_body(found, receive, server.count_tokens_max_bytes, server.body_read_timeout_seconds)
            await self.count(scope, found, raw, principal, rid, receive, send)
        except GatewayError as err:
            self.requests.observe(err.status)
            await send_whole(send, err.status, self.dialect.render(err, rid), self.dialect.headers(err, rid))
            return
        except ClientGone:
            return
        self.requests.observe(200)

    async def count(
        self, scope: Scope, found: Headers, raw: bytes, principal: Principal, rid: str, receive: Receive, send: Send
    ) -> None:
        raise NotImplementedError


class CountTokens(CountEndpoint):
    dialect = ANTHROPIC_MESSAGES
    route = "count_tokens"

    async def count(
        self, scope: Scope, found: Headers, raw: bytes, principal: Principal, rid: str, receive: Receive, send: Send
    ) -> None:
        gw = self.gateway
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
                return LocalCountLeg(count_here, headers, len(raw))
            body = orjson.dumps({**payload, "model": route.upstream_model})
            out = Outgoing(upstream.url(COUNT_TOKENS_PATHS[upstream.dialect]), body, upstream.headers(rid, key, client))
            return UpstreamCountLeg(out, headers)

        await gw.exchange.run(call, routes, leg_for, receive, send, preferred_key=key, record=False)
