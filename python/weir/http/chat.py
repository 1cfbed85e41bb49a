"""POST /v1/chat/completions: OpenAI Chat Completions clients."""

from __future__ import annotations

from starlette.types import Scope

from weir.dialects.registry import OPENAI_CHAT
from weir.errors import InvalidRequest
from weir.http.asgi import Headers, session_id
from weir.http.ingress import Ingress, parse_object
from weir.pipeline.inbound import Parsed


class ChatCompletions(Ingress):
    dialect = OPENAI_CHAT
    route = "chat_completions"

    def parse(self, raw: bytes, scope: Scope, found: Headers) -> Parsed:
        payload = parse_object(raw)
        options = payload.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        stream = payload.get("stream") is True
        wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        return Parsed(
            raw=raw,
            payload=payload,
            model=payload["model"],
            stream=stream,
            wants_usage=wants_usage,
            session=session_id(found),
        )
