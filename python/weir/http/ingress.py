"""The shape every client-facing model endpoint shares: read, authenticate, parse, resolve, admit, then either
pass the call through (the upstream speaks the client's dialect) or translate it through the canonical form."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from starlette.types import Receive, Scope, Send

from weir.canonical.request import Request
from weir.dialects.registry import Dialect
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import ClientGone, read_body, request_id, send_whole
from weir.observability.metrics import RouteCounter
from weir.pipeline import translate
from weir.pipeline.authenticate import extract_key
from weir.pipeline.call import Call, admit


class Parsed(msgspec.Struct, kw_only=True):
    raw: bytes  # the body as the client sent it
    payload: dict[str, Any]  # the same, decoded: only its top level is ever touched
    model: str
    stream: bool
    wants_usage: bool  # OpenAI clients' stream_options.include_usage; Anthropic streams always carry usage


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

    def parse(self, raw: bytes, scope: Scope) -> Parsed:
        raise NotImplementedError

    async def prepare(self, call: Call, parsed: Parsed) -> Parsed:
        """After admission, before any upstream call: the endpoint's own resolution (Responses: the stored
        conversation of `previous_response_id`). Raises GatewayError to refuse the call."""
        return parsed

    def to_canonical(self, parsed: Parsed) -> Request:
        return self.dialect.request.to_canonical(parsed.raw)  # type: ignore[no-any-return]

    async def translate(self, call: Call, parsed: Parsed, receive: Receive, send: Send) -> None:
        """The upstream speaks another dialect: through the canonical form."""
        await translate.relay(
            self.gateway, call, lambda: self.to_canonical(parsed), parsed.wants_usage, self.dialect, receive, send
        )

    async def passthrough(self, call: Call, parsed: Parsed, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        try:
            call, parsed = await self._admit(scope, receive, rid)
        except GatewayError as err:
            self.requests.observe(err.status)
            await self.refuse(send, err, rid)
            return
        except ClientGone:
            return
        try:
            if call.target.upstream.wire is self.dialect:
                await self.passthrough(call, parsed, scope, receive, send)
            else:
                await self.translate(call, parsed, receive, send)
        finally:
            self.requests.observe(call.status)

    async def _admit(self, scope: Scope, receive: Receive, rid: str) -> tuple[Call, Parsed]:
        gw = self.gateway
        presented = extract_key(scope["headers"], scope.get("query_string", b""), gw.extra_key_headers)
        principal = await gw.auth.authenticate(presented, "inference")  # first: no reading bodies for strangers
        server = gw.config.server
        raw = await read_body(scope, receive, server.max_body_bytes, server.body_read_timeout_seconds)
        parsed = self.parse(raw, scope)
        model = gw.models.resolve(parsed.model)
        admit(principal, gw.wallets)
        call = Call(rid, principal, model, model.routes[0], parsed.stream, parsed.model)
        return call, await self.prepare(call, parsed)

    async def refuse(self, send: Send, err: GatewayError, rid: str) -> None:
        await send_whole(send, err.status, self.dialect.render(err, rid), self.dialect.headers(err, rid))
