"""Small pure-ASGI helpers for the inbound side of the hot endpoints: the request's headers read in one pass, a
request id, a capped body read in bounded time, the client's session id."""

from __future__ import annotations

import itertools
import secrets

from starlette.types import Receive, Scope

from weir.errors import ClientGone, InvalidRequest, PayloadTooLarge
from weir.http.body_timer import BodyTimer

__all__ = ["ClientGone", "Headers", "header", "headers_of", "read_body", "request_id", "session_id"]

# Session ids clients send, most specific first: Weir's own, Claude Code's, Codex's (`session_id`, its
# conversation id). A call that carries one goes to the route and key that served the session's last call.
SESSION_HEADERS = (b"x-weir-session", b"x-claude-code-session-id", b"session_id")
MAX_SESSION_CHARS = 200

# What the pipeline reads from a request's headers. ASGI servers give header names in lowercase.
MAX_PRICE_HEADER = b"x-weir-max-price-microcents"  # the client's cap on what one call may cost

INBOUND_HEADERS = frozenset(
    (
        b"authorization",
        b"x-api-key",
        b"x-goog-api-key",
        b"content-length",
        b"content-type",
        b"anthropic-version",
        b"anthropic-beta",
        MAX_PRICE_HEADER,
        b"x-weir-model",
        *SESSION_HEADERS,
    )
)
Headers = dict[bytes, bytes]  # the first value of each wanted header, by its lowercase name


def headers_of(scope: Scope, wanted: frozenset[bytes]) -> Headers:
    """One pass over the request's headers: the first value of each name in `wanted`."""
    found: Headers = {}
    for name, value in scope["headers"]:
        if name in wanted and name not in found:
            found[name] = value
    return found


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


_ID_PREFIX = "req_" + secrets.token_hex(6)  # random per process: ids stay unique across workers and restarts
_id_counter = itertools.count(1)


def request_id() -> str:
    """A new request id. Always Weir's own: it keys the usage record, so a caller must not be able to choose it
    (a repeated id would make a second call free)."""
    return f"{_ID_PREFIX}{next(_id_counter):010x}"


async def read_body(found: Headers, receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole request body, refusing with 413 as soon as it is known to exceed `limit`, and with 408 when the
    client makes Weir wait more than `timeout` seconds for it."""
    declared = found.get(b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        except ValueError as exc:
            raise InvalidRequest("The Content-Length header is not a number.") from exc
    chunks: list[bytes] = []
    size = 0
    timer = BodyTimer(timeout)
    while True:
        message = await timer.receive(receive)
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def session_id(found: Headers) -> str | None:
    for name in SESSION_HEADERS:
        value = found.get(name)
        if value:
            return value[:MAX_SESSION_CHARS].decode("latin-1")
    return None


def max_price(found: Headers) -> int | None:
    """The client's X-Weir-Max-Price-Microcents: a whole number of microcents (1 USD = 100,000,000), or None."""
    raw = found.get(MAX_PRICE_HEADER)
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidRequest(
            "X-Weir-Max-Price-Microcents must be a whole number of microcents (1 USD = 100000000), at most 18 "
            f"digits; got {raw.decode('latin-1')!r}."
        )
    return int(text)
