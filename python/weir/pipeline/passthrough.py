"""Same-dialect passthrough: the body goes upstream as the client sent it but for the fields the gateway must
set. Only the top level of the decoded body is touched; everything else is re-encoded as it came."""

from __future__ import annotations

from typing import Any

import orjson


def openai_chat_body(payload: dict[str, Any], upstream_model: str, stream: bool) -> bytes:
    """`model` becomes the upstream's name; streams always ask for usage (Weir bills from it and removes the extra
    chunk when the client did not ask for it)."""
    payload["model"] = upstream_model
    if stream:
        options = payload.get("stream_options")
        payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return orjson.dumps(payload)


def anthropic_body(payload: dict[str, Any], upstream_model: str, default_max_tokens: int) -> bytes:
    """`model` becomes the upstream's name; `max_tokens`, which Anthropic requires, gets the model's default."""
    payload["model"] = upstream_model
    if "max_tokens" not in payload:
        payload["max_tokens"] = default_max_tokens
    return orjson.dumps(payload)


def responses_body(payload: dict[str, Any], upstream_model: str) -> bytes:
    """`model` becomes the upstream's name; the rest (and `store`, `include`, reasoning items) goes as sent."""
    payload["model"] = upstream_model
    return orjson.dumps(payload)
