"""SSE framing, usage extraction and token counting, in Rust (``rust/``).

The SSE and usage functions work on bytes: a stream is fed chunk by chunk as it arrives, and
the result does not depend on where the chunks were split. Token counting works on str.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    The dialect's reader sorts each event: passed on, the event carrying the final usage, or
    the stream's terminal event (``[DONE]`` for ``openai_chat``, ``message_stop`` for
    ``anthropic_messages``). The usage event is held back, its data kept as ``usage_data``
    (``openai_chat``: the usage-only chunk, with ``"choices": []``; ``anthropic_messages``:
    ``message_delta``). From then on every block is held, its raw bytes appended to ``tail``;
    the terminal event is always held there. The caller writes its rewrite of ``usage_data``,
    then ``tail``. Should a stream hold several usage events, ``usage_data`` is the last one's
    (usage is cumulative) and the earlier ones are dropped.

    ``openai_responses``: ``response.completed`` (or ``response.incomplete``) is both the usage
    event and the terminal one: its data is ``usage_data`` (when it is a JSON object), the
    stream is complete, and ``tail`` holds what follows it. ``response.failed`` and an
    ``error`` event are terminal, held in ``tail``. The event type is the JSON ``"type"``, else
    the ``event:`` line.

    ``gemini``: nothing is held (``usage_data`` stays None and ``tail`` empty); every chunk is
    passed on as it arrives, the last ``usageMetadata`` seen is the usage, and the stream is
    complete once a chunk has a candidate with a ``finishReason``, a
    ``promptFeedback.blockReason``, or is an ``{"error": {...}}`` object.
    """

    def __init__(self, dialect: str, max_line_bytes: int = 1048576) -> None:
        """``dialect`` is ``"openai_chat"``, ``"anthropic_messages"``, ``"openai_responses"`` or
        ``"gemini"``; any other raises ``ValueError``."""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to forward now: the blocks completed by ``chunk``, minus held-back ones.

        Raises ``ValueError`` when a line is longer than ``max_line_bytes``."""

    def finish(self) -> bytes:
        """What is left at the end of the stream, under the same rules."""

    @property
    def usage(self) -> tuple[int, int, int, int, int] | None:
        """``(input, cached, output, reasoning, cache_write)`` as reported so far (for
        ``anthropic_messages``, ``message_start``'s counts overridden by ``message_delta``'s),
        or None if never reported. ``input`` includes ``cached`` and ``cache_write``; ``output``
        includes ``reasoning``."""

    @property
    def usage_data(self) -> bytes | None:
        """The data of the held-back usage event."""

    @property
    def tail(self) -> bytes:
        """The raw blocks held after the usage event, and the terminal event; empty when nothing
        is held."""

    @property
    def complete(self) -> bool:
        """Whether the terminal event was seen (a stream cut short never has it)."""

    @property
    def data_events(self) -> int:
        """Data events passed on verbatim, forwarded or held in ``tail`` (the usage event and
        the terminal event not counted; ``gemini``'s last chunk, passed on, is counted)."""

def openai_usage(body: bytes) -> tuple[int, int, int, int, int] | None:
    """``(input, cached, output, reasoning, cache_write)`` of a non-streaming chat.completion
    body, or None when it has no usage."""

def anthropic_usage(body: bytes) -> tuple[int, int, int, int, int] | None:
    """``(input, cached, output, reasoning, cache_write)`` of a non-streaming Anthropic message
    body (its top-level ``usage``), or None when it has no usage. ``input`` is
    ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``."""

def responses_usage(body: bytes) -> tuple[int, int, int, int, int] | None:
    """``(input, cached, output, reasoning, cache_write)`` of a non-streaming OpenAI Responses
    ``response`` body (its top-level ``usage``), or None when it has no usage. ``input`` is
    ``input_tokens`` (cached included), ``output`` is ``output_tokens`` (reasoning included),
    ``cache_write`` is ``input_tokens_details.cache_write_tokens`` (0 when absent)."""

def gemini_usage(body: bytes) -> tuple[int, int, int, int, int] | None:
    """``(input, cached, output, reasoning, cache_write)`` of a non-streaming Gemini
    ``GenerateContentResponse`` body (its top-level ``usageMetadata``), or None when it has no
    usage. ``input`` is ``promptTokenCount + toolUsePromptTokenCount``, ``cached`` is
    ``cachedContentTokenCount``, ``output`` is ``candidatesTokenCount + thoughtsTokenCount``,
    ``reasoning`` is ``thoughtsTokenCount``, ``cache_write`` is Weir's own
    ``cacheWriteTokenCount`` (0 when absent)."""

def count_tokens(text: str, encoding: str) -> int:
    """The number of tokens of ``text`` in ``encoding`` (``"o200k_base"`` or ``"cl100k_base"``;
    any other raises ``ValueError``), special-token strings counted as plain text, as
    tiktoken's ``encode_ordinary`` does. Long texts are counted with the GIL released."""

def count_tokens_many(texts: Sequence[str], encoding: str) -> int:
    """The total of ``count_tokens(text, encoding)`` over ``texts``, in one call."""
