"""What the inbound side hands the pipeline: the client's request, read and checked for shape, and the endpoint's
own hooks. The http layer builds these; nothing here knows HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from weir.canonical.request import Request
from weir.dialects.registry import Dialect

# Called once a call succeeded, before the client gets the end of it, with the client-facing answer: the whole
# body of a unary call, the final response object of a translated stream, or (second argument True) the data of
# the held-back usage event of a passed-through stream. The Responses endpoint stores the conversation there, so
# that a `previous_response_id` right after finds it.
Finished = Callable[[bytes, bool], Awaitable[None]]


class Parsed(msgspec.Struct, kw_only=True):
    raw: bytes  # the body as the client sent it
    payload: dict[str, Any]  # the same, decoded: only its top level is ever touched
    model: str
    stream: bool
    wants_usage: bool  # OpenAI clients' stream_options.include_usage; the other dialects' streams always carry it
    anthropic: tuple[bytes | None, bytes | None] = (None, None)  # the client's anthropic-version, anthropic-beta
    session: str | None = None  # the client's session id (sticky routing), from its headers
    prepare: bool = False  # the endpoint has its own resolution to do before the call (Endpoint.prepare)


class Endpoint(Protocol):
    """A client-facing model endpoint, as the exchange sees it."""

    dialect: Dialect
    remembers: bool  # whether `finished` has anything to do for this endpoint

    def to_canonical(self, parsed: Parsed) -> Request:
        """The request in the canonical form, for an upstream of another dialect (raises InvalidRequest)."""
        ...

    async def prepare(self, parsed: Parsed, account_id: int) -> Parsed:
        """After admission, before any upstream call, when `parsed.prepare` is set: the endpoint's own resolution
        (Responses: the stored conversation of `previous_response_id`). Raises GatewayError to refuse the call."""
        ...

    def finished(self, parsed: Parsed, account_id: int) -> Finished | None:
        """What to do with a successful answer besides sending it (None: nothing)."""
        ...
