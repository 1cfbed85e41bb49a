"""GatewayError in the Anthropic error envelope: {"type": "error", "error": {"type", "message"}, "request_id"}.

Anthropic clients pick the exception class from the HTTP status (SDK `_error_classes.py`); `error.type` is what
people read and match on, so it follows Anthropic's own status <-> type table (protocols.md 3.4).
"""

from __future__ import annotations

import msgspec

from weir.dialects.anthropic_messages import schema as s
from weir.errors import GatewayError

JSON = b"application/json"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_type(status: int, fallback: str | None = None) -> str:
    """Anthropic's error type for an HTTP status (`fallback`, an error's own type, when it is Anthropic's)."""
    if status in _TYPES:
        return _TYPES[status]
    if fallback in _STATUSES:
        return fallback
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def stream_error_type(status: int, kind: str) -> str:
    """The type of an in-stream error: an Anthropic type as it came, else Anthropic's type for the status."""
    return kind if kind in _STATUSES else error_type(status)


def status_of(error_type: str) -> int:
    """The HTTP status Anthropic uses for an error type (for errors that arrive inside a stream)."""
    return _STATUSES.get(error_type, 500)


def render(err: GatewayError, request_id: str | None = None) -> bytes:
    body = s.ErrorBody(error=s.ErrorDetail(type=error_type(err.status, err.type), message=err.message))
    if request_id is not None:
        body.request_id = request_id
    return s.encode(body)


def headers(err: GatewayError, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    out = [(b"content-type", JSON), (b"request-id", rid), (b"x-weir-request-id", rid)]
    if err.should_retry is not None:  # the error knows (a rate limit: only when its wait is short)
        out.append((b"x-should-retry", b"true" if err.should_retry else b"false"))
    elif 400 <= err.status < 500:  # the gateway's own refusals: retrying cannot help
        out.append((b"x-should-retry", b"false"))
    return out + err.extra_headers()


def stream_error(err: GatewayError) -> bytes:
    """A mid-stream error as the `error` event the anthropic SDK raises on (it skips events with no name)."""
    return b"event: error\ndata: " + render(err) + b"\n\n"


def from_upstream(status: int, body: bytes) -> GatewayError:
    """An Anthropic upstream's error response, keeping its status, type and message."""
    try:
        detail = s.decode_error(body).error
        etype, message = detail.type, detail.message
    except msgspec.DecodeError:  # not Anthropic's envelope (a proxy's HTML page, plain text): keep what it says
        etype = error_type(status)
        message = body.decode("utf-8", "replace").strip()[:2000]
    err = GatewayError(message or f"The upstream answered HTTP {status}", code=etype)
    err.status = status
    err.type = etype
    return err


def bad_upstream(message: str) -> GatewayError:
    """An upstream answer this dialect cannot read."""
    err = GatewayError(message, code="upstream_invalid_response")
    err.status = 502
    err.type = "api_error"
    return err
