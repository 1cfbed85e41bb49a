"""GatewayError in the OpenAI error envelope: {"error": {"message", "type", "code", "param"}}, and OpenAI-dialect
upstream error bodies read back into GatewayError."""

from __future__ import annotations

import msgspec
import orjson

from weir.dialects.openai_chat import schema as wire
from weir.errors import GatewayError

JSON = b"application/json"
RETRYABLE = frozenset((408, 409, 429))  # the 4xx statuses the openai SDK retries
MAX_MESSAGE_CHARS = 2000  # of a non-JSON upstream error body, quoted as the message

# The error type a status implies, when the upstream body names none.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class UpstreamError(GatewayError):
    """An error the upstream reported: its status, type, code and param, to be rendered in the client's dialect."""

    def __init__(
        self, message: str, *, status: int, type: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.status = status
        self.type = type
        self.code = code


class MalformedUpstreamResponse(GatewayError):
    """An upstream answered 2xx with a body this dialect cannot read."""

    status = 502
    type = "upstream_error"
    code = "upstream_invalid_response"


def render(err: GatewayError) -> bytes:
    return orjson.dumps({"error": {"message": err.message, "type": err.type, "code": err.code, "param": err.param}})


def headers(err: GatewayError, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    out = [(b"content-type", JSON), (b"x-weir-request-id", rid), (b"x-request-id", rid)]
    if err.should_retry is not None:  # the error knows (a rate limit: only when its wait is short)
        out.append((b"x-should-retry", b"true" if err.should_retry else b"false"))
    elif 400 <= err.status < 500 and err.status not in RETRYABLE:  # a refusal: retrying cannot help
        out.append((b"x-should-retry", b"false"))
    return out + err.extra_headers()


def stream_error(err: GatewayError) -> bytes:
    """A mid-stream error as an SSE event the openai SDK raises on (`data:` only: no `event:` line)."""
    return b"data: " + render(err) + b"\n\n"


stream_chunk = stream_error  # the name http/chat.py uses


def from_upstream(status: int, body: bytes) -> GatewayError:
    """An upstream's error answer ({"error": {...}}, {"error": "..."} or any text) as a GatewayError."""
    message = type_ = code = param = None
    try:
        envelope = wire.decode_error(body)
    except msgspec.DecodeError:
        envelope = None
    if envelope is not None:
        error = envelope.error
        if isinstance(error, wire.ErrorBody):
            message, type_, param = error.message, error.type, error.param
            code = None if error.code is None else str(error.code)
        else:
            message = error or envelope.message
    if not message:
        message = body.decode("utf-8", "replace").strip()[:MAX_MESSAGE_CHARS]
    return UpstreamError(
        message or f"The upstream answered HTTP {status}.",
        status=status,
        type=type_ or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
        code=code,
        param=param,
    )
