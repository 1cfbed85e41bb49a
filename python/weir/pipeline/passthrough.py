"""Same-dialect passthrough for OpenAI chat: validate just enough, rewrite `model` (and, on streams,
`stream_options.include_usage`), and leave every other field as the client sent it."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from weir.errors import InvalidRequest


class ChatRequest(msgspec.Struct, frozen=True):
    body: bytes  # what goes upstream
    model: str  # as the client named it
    stream: bool
    client_wants_usage: bool


def parse_chat_request(raw: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty array.", param="messages")
    stream = payload.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    return payload


def rewrite_chat_request(payload: dict[str, Any], upstream_model: str) -> ChatRequest:
    model: str = payload["model"]
    stream = payload.get("stream") is True
    options = payload.get("stream_options")
    wants_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    payload["model"] = upstream_model
    if stream:
        # Usage arrives only when asked for; Weir always asks, and drops the extra chunk if the client did not.
        payload["stream_options"] = {**(options or {}), "include_usage": True}
    return ChatRequest(orjson.dumps(payload), model, stream, wants_usage)
