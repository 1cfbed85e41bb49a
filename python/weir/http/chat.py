"""POST /v1/chat/completions: OpenAI Chat Completions clients."""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir._native import openai_usage
from weir.billing.meter import microcents_to_usd
from weir.dialects.registry import OPENAI_CHAT
from weir.errors import InvalidRequest
from weir.gateway import Gateway
from weir.http.ingress import Ingress, Parsed, parse_object
from weir.http.passthrough import Relay
from weir.pipeline.call import Call
from weir.pipeline.passthrough import openai_chat_body


def usage_chunk(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back usage chunk, with the cost added, for clients that asked for usage; nothing for the others."""
    if not wants_usage:
        return b""
    chunk = orjson.loads(data)
    chunk["usage"]["cost_microcents"] = cost
    chunk["usage"]["cost"] = microcents_to_usd(cost)
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class ChatCompletions(Ingress):
    dialect = OPENAI_CHAT
    route = "chat_completions"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.relay = Relay(gateway, OPENAI_CHAT, "openai_chat", openai_usage, usage_chunk)

    def parse(self, raw: bytes, scope: Scope) -> Parsed:
        payload = parse_object(raw)
        options = payload.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        stream = payload.get("stream") is True
        wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        return Parsed(raw=raw, payload=payload, model=payload["model"], stream=stream, wants_usage=wants_usage)

    async def passthrough(self, call: Call, parsed: Parsed, scope: Scope, receive: Receive, send: Send) -> None:
        body = openai_chat_body(parsed.payload, call.target.upstream_model, call.stream)
        headers = call.target.upstream.headers(call.request_id)
        if call.stream:
            await self.relay.stream(call, body, headers, parsed.wants_usage, receive, send)
        else:
            await self.relay.unary(call, body, headers, send)
