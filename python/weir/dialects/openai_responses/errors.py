"""Errors in the Responses dialect.

Outside a stream, the Responses API uses OpenAI's one error envelope, `{"error": {"message", "type", "code",
"param"}}`: rendering, headers and upstream error bodies are the Chat dialect's. Inside a stream, an error is a
`response.failed` event whose `response.error` is `{code, message}`. That is the event both readers act on: Codex
(`sse/responses.rs`) turns it into its error, and ignores the bare `error` event type; the openai SDK yields either
without raising, and its `.stream()` helper then reports the missing `response.completed`. So a failure is one
`response.failed`, and nothing follows it.

Codex reads `code`: `context_length_exceeded` (it compacts), `insufficient_quota` and `usage_not_included` (it
stops), `rate_limit_exceeded` (it waits for the "try again in Ns" of the message); any other code is retried.
"""

from __future__ import annotations

import time

from weir.dialects.openai_chat.errors import MalformedUpstreamResponse, UpstreamError, from_upstream, headers, render
from weir.dialects.openai_responses import events
from weir.errors import GatewayError

__all__ = [
    "MalformedUpstreamResponse",
    "UpstreamError",
    "error_code",
    "from_upstream",
    "headers",
    "render",
    "status_of",
    "stream_error",
]

_CODES = {429: "rate_limit_exceeded", 402: "insufficient_quota"}  # what Codex acts on, by status
_STATUSES = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
    "usage_not_included": 403,
    "server_error": 500,
}
_OWN_CODES = frozenset(_STATUSES)


def error_code(status: int, code: str | None) -> str:
    """The `response.error.code` for an error: a Responses code as it came, else one Codex acts on, else ours."""
    if code in _OWN_CODES:
        return code
    if status in _CODES:
        return _CODES[status]
    return code or ("server_error" if status >= 500 or status < 400 else "invalid_request")


def status_of(code: str | None) -> int:
    """The HTTP status a `response.failed` error code stands for (502 for codes we do not know)."""
    return _STATUSES.get(code or "", 502)


def stream_error(err: GatewayError, *, response_id: str = "resp_weir_error", sequence_number: int = 0) -> bytes:
    """A mid-stream error as a `response.failed` event (the stream writer passes its own id and sequence)."""
    response = events.ResponseOut(
        id=response_id,
        created_at=int(time.time()),
        status="failed",
        error=events.ErrorOut(code=error_code(err.status, err.code or err.type), message=err.message),
        model="",
        output=[],
    )
    return events.sse(events.ResponseEvent(type="response.failed", sequence_number=sequence_number, response=response))
