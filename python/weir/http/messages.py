"""POST /v1/messages: Anthropic Messages clients (the anthropic SDK, Claude Code)."""

from __future__ import annotations

from starlette.types import Scope

from weir.dialects.registry import ANTHROPIC_MESSAGES
from weir.http.asgi import Headers, session_id
from weir.http.ingress import Ingress, parse_object
from weir.pipeline.inbound import Parsed


class Messages(Ingress):
    dialect = ANTHROPIC_MESSAGES
    route = "messages"

    def parse(self, raw: bytes, scope: Scope, found: Headers) -> Parsed:
        payload = parse_object(raw)
        return Parsed(
            raw=raw,
            payload=payload,
            model=payload["model"],
            stream=payload.get("stream") is True,
            wants_usage=True,
            anthropic=(found.get(b"anthropic-version"), found.get(b"anthropic-beta")),
            session=session_id(found),
        )
