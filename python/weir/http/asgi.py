"""Small pure-ASGI helpers for the inbound side of the hot endpoints: a header, a request id, a capped body, the
client's session id."""

from __future__ import annotations

import itertools
import secrets

from starlette.types import Message, Receive, Scope

from weir.errors import ClientGone, InvalidRequest, PayloadTooLarge

__all__ = ["ClientGone", "header", "read_body", "request_id", "session_id"]

Headers = list[tuple[bytes, bytes]]


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


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing with 413 as soon as it is known to exceed `limit`."""
    declared = header(scope, b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        except ValueError as exc:
            raise InvalidRequest("The Content-Length header is not a number.") from exc
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
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


# Session ids clients send, most specific first: Weir's own, Claude Code's, Codex's (`session_id`, its
# conversation id). A call that carries one goes to the route and key that served the session's last call.
SESSION_HEADERS = (b"x-weir-session", b"x-claude-code-session-id", b"session_id")
MAX_SESSION_CHARS = 200


def session_id(scope: Scope) -> str | None:
    found: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key in SESSION_HEADERS:
            found.setdefault(key, value)
    for name in SESSION_HEADERS:
        value = found.get(name)
        if value:
            return value[:MAX_SESSION_CHARS].decode("latin-1")
    return None
