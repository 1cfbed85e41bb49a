"""A multipart upload on its way from the client to the upstream, through the FormScanner.

The body is read only as far as the form's `model` field (or to its end, when the form has none, or puts it
after the file): that much is held, bounded by `server.max_upload_bytes`. The rest streams straight from the
client to the upstream as it arrives. The upstream gets a Content-Length whenever it can be known exactly: the
whole body was read, or the client declared its length (the scanner then only withholds what it already has).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from weir.errors import GatewayError, InvalidRequest, PayloadTooLarge
from weir.http.asgi import ClientGone
from weir.http.body_timer import BodyTimer
from weir.http.media.form import FormScanner

VIRTUAL_CRLF = 2  # the scanner reads the body as if it began with CRLF


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than the limit of {limit} bytes (server.max_upload_bytes).")


class Upload:
    def __init__(
        self, receive: Receive, scanner: FormScanner, limit: int, declared: int | None, timeout: float
    ) -> None:
        self._receive = receive
        self._timer = BodyTimer(timeout)  # all the time spent waiting for the client, streaming included
        self.scanner = scanner
        self.limit = limit
        self.declared = declared  # the client's Content-Length, if it sent one
        self.received = 0
        self.ended = False
        self._held: list[bytes] = []  # scanner output read before the upstream call began
        self.failure: GatewayError | ClientGone | None = None  # what cut the upload short while streaming

    async def read_model_field(self) -> None:
        """Read until the form's `model` field has been read whole, or the body ended."""
        while not self.ended and self.scanner.model is None:
            self._held.append(await self._next())

    def content_length(self, prefix: int) -> int | None:
        """The exact length of what the upstream will get (`prefix` bytes first), when it can be known now."""
        if self.ended:
            return prefix + sum(len(piece) for piece in self._held)
        if self.declared is None:
            return None
        return prefix + self.declared + VIRTUAL_CRLF - self.scanner.withheld

    async def body(self, prefix: bytes) -> AsyncIterator[bytes]:
        """`prefix`, what was held, then the rest of the client's body as it arrives."""
        yield prefix
        held = self._held
        if not self.ended:  # streamed on from here: what was held goes out once (a whole upload can be resent)
            self._held = []
        for piece in held:
            if piece:
                yield piece
        while not self.ended:  # the model field is behind: from here on the scanner withholds nothing more
            try:
                piece = await self._next()
            except (GatewayError, ClientGone) as exc:
                self.failure = exc
                raise
            if piece:
                yield piece

    async def _next(self) -> bytes:
        message = await self._timer.receive(self._receive)
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        self.received += len(chunk)
        if self.received > self.limit:
            raise too_large(self.limit)
        out = self.scanner.feed(chunk) if chunk else b""
        if not message.get("more_body", False):
            self.scanner.finish()
            self.ended = True
            if self.declared is not None and self.received != self.declared:
                raise InvalidRequest("The upload ended before its declared Content-Length.")
        return out
