"""POST /v1/responses: OpenAI Responses clients (Codex CLI, the openai SDK's `responses` methods).

`previous_response_id` is resolved here, for every upstream: the stored conversation is put in front of the new
input and the id is removed, so no upstream ever sees it. Each successful response is stored (unless the client
sent `store: false`) before the client gets its end, so a follow-up that names it finds it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Scope

from weir.dialects.registry import OPENAI_RESPONSES
from weir.errors import InvalidRequest
from weir.http.asgi import Headers, session_id
from weir.http.ingress import Ingress, parse_object
from weir.pipeline.inbound import Finished, Parsed


class Responses(Ingress):
    dialect = OPENAI_RESPONSES
    route = "responses"

    def parse(self, raw: bytes, scope: Scope, found: Headers) -> Parsed:
        payload = parse_object(raw, messages_field=None)
        given = payload.get("input")
        if given is not None and not isinstance(given, str | list):
            raise InvalidRequest("'input' must be a string or an array of input items.", param="input")
        stream = payload.get("stream") is True
        return Parsed(
            raw=raw,
            payload=payload,
            model=payload["model"],
            stream=stream,
            wants_usage=True,
            session=session_id(found),
            prepare=payload.get("previous_response_id") is not None,
        )

    async def prepare(self, parsed: Parsed, account_id: int) -> Parsed:
        payload = await self.gateway.conversations.expand(account_id, parsed.payload)
        return Parsed(
            raw=orjson.dumps(payload),
            payload=payload,
            model=parsed.model,
            stream=parsed.stream,
            wants_usage=True,
            session=parsed.session,
        )

    remembers = True

    def finished(self, parsed: Parsed, account_id: int) -> Finished | None:
        conversations = self.gateway.conversations
        request = parsed.payload  # the client's own (expanded) request, not the upstream's copy

        async def remember(answer: bytes, usage_event: bool) -> None:
            response: Any = orjson.loads(answer)
            if usage_event:  # a passed-through stream's response.completed event
                response = response.get("response") if isinstance(response, dict) else None
            if not isinstance(response, dict) or response.get("status") not in ("completed", "incomplete"):
                return
            response_id, output = response.get("id"), response.get("output")
            if isinstance(response_id, str) and isinstance(output, list):
                await conversations.remember(account_id, response_id, request, output)

        return remember
