"""POST /v1/responses: OpenAI Responses clients (Codex CLI, the openai SDK's `responses` methods).

`previous_response_id` is resolved here, for every upstream: the stored conversation is put in front of the new
input and the id is removed, so no upstream ever sees it. Each successful response is stored (unless the client
sent `store: false`) before the client gets its end, so a follow-up that names it finds it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from weir._native import responses_usage
from weir.billing.meter import microcents_to_usd
from weir.dialects.registry import OPENAI_RESPONSES
from weir.errors import InvalidRequest
from weir.gateway import Gateway
from weir.http.ingress import Ingress, Parsed, parse_object
from weir.http.passthrough import Relay
from weir.pipeline import translate
from weir.pipeline.call import Call
from weir.pipeline.passthrough import responses_body


def completed_event(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back response.completed (or .incomplete), its usage carrying the cost."""
    event = orjson.loads(data)
    response = event.get("response")
    if isinstance(response, dict) and isinstance(response.get("usage"), dict):
        response["usage"]["cost_microcents"] = cost
        response["usage"]["cost"] = microcents_to_usd(cost)
    name = event.get("type") if isinstance(event.get("type"), str) else "response.completed"
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class Responses(Ingress):
    dialect = OPENAI_RESPONSES
    route = "responses"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.relay = Relay(gateway, OPENAI_RESPONSES, "openai_responses", responses_usage, completed_event)

    def parse(self, raw: bytes, scope: Scope) -> Parsed:
        payload = parse_object(raw, messages_field=None)
        given = payload.get("input")
        if given is not None and not isinstance(given, str | list):
            raise InvalidRequest("'input' must be a string or an array of input items.", param="input")
        stream = payload.get("stream") is True
        return Parsed(raw=raw, payload=payload, model=payload["model"], stream=stream, wants_usage=True)

    async def prepare(self, call: Call, parsed: Parsed) -> Parsed:
        if parsed.payload.get("previous_response_id") is None:
            return parsed
        payload = await self.gateway.conversations.expand(call.principal.account_id, parsed.payload)
        raw = orjson.dumps(payload)
        return Parsed(raw=raw, payload=payload, model=parsed.model, stream=parsed.stream, wants_usage=True)

    async def translate(self, call: Call, parsed: Parsed, receive: Receive, send: Send) -> None:
        async def finished(response: bytes) -> None:
            await self._remember(call, parsed.payload, orjson.loads(response))

        await translate.relay(
            self.gateway, call, lambda: self.to_canonical(parsed), True, self.dialect, receive, send, finished
        )

    async def passthrough(self, call: Call, parsed: Parsed, scope: Scope, receive: Receive, send: Send) -> None:
        request = dict(parsed.payload)  # the original stays for the stored conversation: the upstream's model
        body = responses_body(request, call.target.upstream_model)
        headers = call.target.upstream.headers(call.request_id)

        async def finished(answer: bytes) -> None:
            response = orjson.loads(answer)
            if call.stream:  # the response.completed event's data
                response = response.get("response") if isinstance(response, dict) else None
            await self._remember(call, parsed.payload, response)

        if call.stream:
            await self.relay.stream(call, body, headers, True, receive, send, finished)
        else:
            await self.relay.unary(call, body, headers, send, finished)

    async def _remember(self, call: Call, payload: dict[str, Any], response: Any) -> None:
        if not isinstance(response, dict) or response.get("status") not in ("completed", "incomplete"):
            return
        response_id, output = response.get("id"), response.get("output")
        if isinstance(response_id, str) and isinstance(output, list):
            await self.gateway.conversations.remember(call.principal.account_id, response_id, payload, output)
