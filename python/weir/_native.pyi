"""SSE framing and usage extraction, in Rust (``rust/``).

Everything here works on bytes: a stream is fed chunk by chunk as it arrives, and the result
does not depend on where the chunks were split.
"""

from __future__ import annotations

from typing import final

@final
class SseFramer:
    """Splits an SSE byte stream into events (WHATWG rules: CR, LF or CRLF line ends,
    ``data`` lines joined with ``\\n``, one space after the colon stripped, comments ignored)."""

    def __init__(self, max_line_bytes: int = 1048576) -> None:
        """``max_line_bytes`` caps one line; a longer one raises ``ValueError``."""

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        """The events completed by ``chunk``, as ``(event type or None, data)``."""

    def finish(self) -> list[tuple[str | None, bytes]]:
        """The trailing event, if the stream ended without its blank line; resets the framer."""

@final
class StreamTap:
    """Forwards an upstream SSE stream verbatim, in whole blocks, while reading its usage.

    Held back from the forwarded bytes: the ``[DONE]`` block (kept as ``done_raw``) and a
    usage-only chunk, one with a usage object and ``"choices": []`` (its data kept as
    ``usage_data``).
    """

    def __init__(self, dialect: str, max_line_bytes: int = 1048576) -> None:
        """``dialect`` is ``"openai_chat"``; any other raises ``ValueError``."""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to forward now: the blocks completed by ``chunk``, minus held-back ones.

        Raises ``ValueError`` when a line is longer than ``max_line_bytes``."""

    def finish(self) -> bytes:
        """What is left at the end of the stream, under the same rules."""

    @property
    def usage(self) -> tuple[int, int, int, int] | None:
        """``(input, cached, output, reasoning)`` as last reported, or None if never reported.
        ``input`` includes ``cached`` and ``output`` includes ``reasoning``."""

    @property
    def usage_data(self) -> bytes | None:
        """The data of the held-back usage chunk."""

    @property
    def done_raw(self) -> bytes | None:
        """The raw bytes of the held-back ``[DONE]`` block."""

    @property
    def data_events(self) -> int:
        """Data events forwarded so far (held-back ones not counted)."""

def openai_usage(body: bytes) -> tuple[int, int, int, int] | None:
    """``(input, cached, output, reasoning)`` of a non-streaming chat.completion body, or None
    when it has no usage."""
