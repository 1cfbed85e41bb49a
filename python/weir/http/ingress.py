"""The inbound side every client-facing model endpoint shares: find the key, authenticate, read the body, parse
the client's request, then hand it to the pipeline (`Exchange.serve`); an error raised before the answer started
is rendered here, in the endpoint's dialect."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from weir.billing.estimate import client_output_limit
from weir.canonical.request import Request
from weir.dialects.registry import Dialect
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import INBOUND_HEADERS, ClientGone, Headers, headers_of, max_price, read_body, request_id
from weir.http.client_ip import ClientIP
from weir.limits.headers import FAMILIES, Family
from weir.observability.metrics import RouteCounter
from weir.pipeline.authenticate import extract_key
from weir.pipeline.exchange import Exchange
from weir.pipeline.inbound import Finished, Parsed
from weir.pipeline.reply import send_whole


def parse_object(raw: bytes, messages_field: str | None = "messages") -> dict[str, Any]:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    if messages_field is not None:
        messages = payload.get(messages_field)
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest(f"'{messages_field}' is required and must be a non-empty array.", param=messages_field)
    stream = payload.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    return payload


class Ingress:
    dialect: Dialect
    route: str

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter(self.route)
        self.client_ip = ClientIP.from_cidrs(gateway.config.server.trusted_proxies)
        self.wanted = INBOUND_HEADERS | gateway.extra_key_headers | self.client_ip.headers
        self.family: Family = FAMILIES[self.dialect.name]
        self._exchange: Exchange | None = None  # the gateway's, once it is open (one attribute read per call)

    def _open_exchange(self) -> Exchange:
        self._exchange = self.gateway.exchange
        return self._exchange

    def parse(self, raw: bytes, scope: Scope, found: Headers) -> Parsed:
        raise NotImplementedError

    # The pipeline's Endpoint protocol (pipeline/inbound.py)

    def to_canonical(self, parsed: Parsed) -> Request:
        return self.dialect.request.to_canonical(parsed.raw)  # type: ignore[no-any-return]

    async def prepare(self, parsed: Parsed, account_id: int) -> Parsed:
        return parsed

    remembers = False  # whether `finished` has something to do (Responses stores conversations)

    def finished(self, parsed: Parsed, account_id: int) -> Finished | None:
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        gw = self.gateway
        try:
            found = headers_of(scope, self.wanted)
            presented = extract_key(found, scope.get("query_string", b""), gw.extra_key_headers)
            ip = self.client_ip.of_request(scope, found)
            principal = await gw.auth.authenticate(presented, "inference", ip)  # first: no reading bodies for strangers
            server = gw.config.server
            raw = await read_body(found, receive, server.max_body_bytes, server.body_read_timeout_seconds)
            parsed = self.parse(raw, scope, found)
            exchange = self._exchange or self._open_exchange()
            # Exchange.serve's three steps, made here so that no frame of its stays in the chain of awaits
            if parsed.prepare:
                parsed = await self.prepare(parsed, principal.account_id)
            call, routes, key = exchange.begin(
                principal,
                parsed.model,
                rid,
                parsed.stream,
                parsed.session,
                ip,
                self.family,
                size=len(parsed.raw),
                max_output=client_output_limit(self.dialect.name, parsed.payload),
                max_price=max_price(found),
            )
            legs = exchange.legs(self, call, parsed)
            await exchange.run(call, routes, legs, receive, send, preferred_key=key, session=parsed.session)
            status = call.status
        except GatewayError as err:
            status = err.status
            await self.refuse(send, err, rid)
        except ClientGone:
            return
        self.requests.observe(status)

    async def refuse(self, send: Send, err: GatewayError, rid: str) -> None:
        await send_whole(send, err.status, self.dialect.render(err, rid), self.dialect.headers(err, rid))
