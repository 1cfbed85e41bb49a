"""GatewayError in the OpenAI error envelope: {"error": {"message", "type", "code", "param"}}."""

from __future__ import annotations

import orjson

from weir.errors import GatewayError

JSON = b"application/json"


def render(err: GatewayError) -> bytes:
    return orjson.dumps({"error": {"message": err.message, "type": err.type, "code": err.code, "param": err.param}})


def headers(err: GatewayError, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    out = [(b"content-type", JSON), (b"x-weir-request-id", rid), (b"x-request-id", rid)]
    if 400 <= err.status < 500:  # the gateway's own refusals: retrying cannot help
        out.append((b"x-should-retry", b"false"))
    return out


def stream_chunk(err: GatewayError) -> bytes:
    """A mid-stream error as an SSE event the openai SDK raises on."""
    return b"data: " + render(err) + b"\n\n"
