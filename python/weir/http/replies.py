"""Response headers every model endpoint sends, whatever the dialect."""

from __future__ import annotations

from weir.canonical.usage import Usage
from weir.pipeline.call import Call

CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection first"
SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def base_headers(call: Call, content_type: bytes) -> list[tuple[bytes, bytes]]:
    rid = call.request_id.encode()
    return [(b"content-type", content_type), (b"x-weir-request-id", rid), (b"x-request-id", rid), (b"request-id", rid)]


def cost_headers(usage: Usage, cost: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-weir-cost-microcents", b"%d" % cost),
        (b"x-weir-input-tokens", b"%d" % usage.input),
        (b"x-weir-cached-tokens", b"%d" % usage.cached),
        (b"x-weir-cache-write-tokens", b"%d" % usage.cache_write),
        (b"x-weir-output-tokens", b"%d" % usage.output),
        (b"x-weir-reasoning-tokens", b"%d" % usage.reasoning),
    ]
