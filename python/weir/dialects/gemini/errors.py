"""GatewayError in Google's error envelope: {"error": {"code": <HTTP status>, "message", "status": <rpc code>}}.

google-genai picks ClientError / ServerError from `code` (the HTTP status) and shows `status`; Gemini CLI and
people match on `status` (RESOURCE_EXHAUSTED, UNAVAILABLE...). An error that came from a Gemini upstream keeps its
own status string (`GatewayError.type` and `.code`); any other is given the one Google uses for its HTTP status.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from weir.dialects.gemini import schema as s
from weir.errors import GatewayError

JSON = b"application/json; charset=UTF-8"
MAX_MESSAGE_CHARS = 2000

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",  # Google says "billing not enabled" this way
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",  # Anthropic's "overloaded"
}
RPC_CODES = frozenset(STATUSES.values()) | {"OUT_OF_RANGE", "ALREADY_EXISTS", "UNKNOWN", "DATA_LOSS"}


def rpc_status(status: int, kind: str | None = None) -> str:
    """Google's status string: `kind` when it is one already (an error from a Gemini upstream), else the one
    Google uses for the HTTP status."""
    if kind in RPC_CODES:
        return kind
    if status in STATUSES:
        return STATUSES[status]
    return "INVALID_ARGUMENT" if 400 <= status < 500 else "INTERNAL"


RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"


def body(status: int, kind: str | None, message: str, details: list[dict[str, object]] | None = None) -> bytes:
    detail = s.ErrorDetail(code=status, message=message, status=rpc_status(status, kind), details=details or UNSET)
    return s.encode(s.ErrorBody(error=detail))


def render(err: GatewayError) -> bytes:
    return body(err.status, err.type, err.message, _details(err))


def _details(err: GatewayError) -> list[dict[str, object]] | None:
    """What Google sends with a 429, as Gemini CLI reads it (packages/core/src/utils/googleQuotaErrors.ts): the
    wait as RetryInfo, and, for a daily limit, a QuotaFailure whose quotaId says PerDay so that it stops retrying."""
    if err.status != 429 or err.retry_after is None:
        return None
    details: list[dict[str, object]] = [{"@type": RETRY_INFO, "retryDelay": f"{max(1, err.retry_after)}s"}]
    limit = getattr(err, "limit", None)
    if isinstance(limit, str):
        quota = "".join(word.capitalize() for word in limit.split("_"))  # RequestsPerDay, TokensPerMinute
        details.append({"@type": QUOTA_FAILURE, "violations": [{"quotaId": quota, "description": err.message}]})
    return details


def headers(err: GatewayError, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    return [(b"content-type", JSON), (b"x-weir-request-id", rid), (b"x-request-id", rid), *err.extra_headers()]


def stream_error(err: GatewayError) -> bytes:
    """A mid-stream error as both google-genai and @google/genai raise on: one `data:` line, CRLF framed."""
    return b"data: " + s.escaped(render(err)) + b"\r\n\r\n"


def from_upstream(status: int, body: bytes) -> GatewayError:
    """A Gemini upstream's error answer ({"error": {...}}, or a one-element array of it when the stream was
    asked for without alt=sse), keeping its status string and message."""
    try:
        decoded = s.decode_error(body)
        detail = (decoded[0].error if decoded else s.ErrorDetail()) if isinstance(decoded, list) else decoded.error
        message, kind = detail.message, detail.status
    except msgspec.DecodeError:
        message, kind = body.decode("utf-8", "replace").strip()[:MAX_MESSAGE_CHARS], ""
    kind = rpc_status(status, kind or None)
    err = GatewayError(message or f"The upstream answered HTTP {status}", code=kind)
    err.status = status
    err.type = kind
    return err


def bad_upstream(message: str) -> GatewayError:
    """An upstream answer this dialect cannot read."""
    err = GatewayError(message, code="upstream_invalid_response")
    err.status = 502
    err.type = "UNAVAILABLE"
    return err
