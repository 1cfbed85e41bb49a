"""POST /v1/messages: Anthropic Messages clients (the anthropic SDK, Claude Code)."""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir._native import anthropic_usage
from weir.billing.meter import microcents_to_usd
from weir.dialects.registry import ANTHROPIC_MESSAGES
from weir.gateway import Gateway
from weir.http.asgi import header
from weir.http.ingress import Ingress, Parsed, parse_object
from weir.http.passthrough import Relay
from weir.pipeline.call import Call
from weir.pipeline.passthrough import anthropic_body


def message_delta(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back message_delta, its cumulative usage carrying the cost."""
    event = orjson.loads(data)
    usage = event.setdefault("usage", {})
    usage["cost_microcents"] = cost
    usage["cost"] = microcents_to_usd(cost)
    return b"event: message_delta\ndata: " + orjson.dumps(event) + b"\n\n"


class Messages(Ingress):
    dialect = ANTHROPIC_MESSAGES
    route = "messages"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.relay = Relay(gateway, ANTHROPIC_MESSAGES, "anthropic_messages", anthropic_usage, message_delta)

    def parse(self, raw: bytes, scope: Scope) -> Parsed:
        payload = parse_object(raw)
        stream = payload.get("stream") is True
        return Parsed(raw=raw, payload=payload, model=payload["model"], stream=stream, wants_usage=True)

    async def passthrough(self, call: Call, parsed: Parsed, scope: Scope, receive: Receive, send: Send) -> None:
        body = anthropic_body(parsed.payload, call.target.upstream_model, call.model.max_tokens)
        client = (header(scope, b"anthropic-version"), header(scope, b"anthropic-beta"))
        headers = call.target.upstream.headers(call.request_id, client)
        if call.stream:
            await self.relay.stream(call, body, headers, True, receive, send)
        else:
            await self.relay.unary(call, body, headers, send)
