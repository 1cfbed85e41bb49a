"""The price cap inside a stream: a capped call's running cost, counted as its answer is forwarded, so that an
upstream that ignores the output budget cannot make the call cost more than its cap. The input is counted once
from the request, the output from the text of each block before it is sent (a block's pieces counted apart: never
fewer tokens than the whole); the block that would pass the cap is not sent, the upstream is closed, and the
dialect ends the stream with its length stop reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from weir._native import SseFramer, count_tokens_many
from weir.canonical.usage import Usage
from weir.dialects.registry import Dialect
from weir.pipeline.call import Call
from weir.pipeline.relay.left_early import decoded, request_tokens


class RunningCap:
    __slots__ = (
        "_call",
        "_encoding",
        "_framer",
        "_text",
        "cache_write",
        "cached",
        "cap",
        "head",
        "input",
        "last",
        "open_block",
        "output",
        "stopped",
    )

    def __init__(self, call: Call, client: Dialect, raw: bytes, cap: int, max_line: int) -> None:
        streamed_text = client.passthrough.streamed_text
        assert streamed_text is not None
        self._text: Callable[[Any], Iterator[str]] = streamed_text
        self._call = call
        self._encoding = call.model.token_encoding
        self._framer = SseFramer(max_line)
        self.cap = cap
        self.input = request_tokens(client, raw, self._encoding)  # until the upstream says (Anthropic, Gemini)
        self.cached = self.cache_write = 0
        self.output = 0
        self.head: dict[str, Any] | None = None  # the first event sent (Responses: response.created, its ids)
        self.last: dict[str, Any] | None = None  # the last event sent, for the ending's ids
        self.open_block: int | None = None  # Anthropic: the content block a delta was last sent for
        self.stopped = False  # a block would have taken the call past its cap: the stream ends here

    def passes(self, out: bytes, seen: tuple[int, int, int, int, int] | None) -> bool:
        """Whether sending `out` (whole SSE blocks) would take the call past its cap; if not, it is counted.
        `seen`: the usage the stream has reported so far (the tap's), whose input replaces the local count."""
        if seen is not None and seen[0] > 0:
            reported = Usage.from_tuple(seen)
            self.input, self.cached, self.cache_write = reported.input, reported.cached, reported.cache_write
        texts: list[str] = []
        head, last = self.head, self.last
        block = self.open_block
        for event in decoded(self._framer, out):
            if isinstance(event, dict):
                last = event
                if head is None:
                    head = event
                kind = event.get("type")
                if kind in ("content_block_start", "content_block_delta"):
                    block = event.get("index") if isinstance(event.get("index"), int) else block
                elif kind == "content_block_stop":
                    block = None
                texts.extend(self._text(event))
        output = self.output + (count_tokens_many(texts, self._encoding) if texts else 0)
        if self._call.cost_of(self.usage(output)) > self.cap:
            self.stopped = True
            return True
        self.output, self.head, self.last, self.open_block = output, head, last, block
        return False

    def usage(self, output: int | None = None) -> Usage:
        """What the call is billed: its input (as reported, else counted) and the output sent (or `output`)."""
        out = self.output if output is None else output
        return Usage(input=self.input, cached=self.cached, output=out, cache_write=self.cache_write)
