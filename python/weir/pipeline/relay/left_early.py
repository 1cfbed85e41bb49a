"""What a streamed answer's client was sent, kept so that it can be counted when the stream's own usage never came:
a client that hung up before the end of a stream whose upstream reports usage only there (OpenAI Chat and
Responses, Anthropic's output) is billed for the input and for the output it was sent, counted here with the
model's BPE encoding, and its record says `usage_estimated`. Error events carry no output text, so an upstream's
error text is never counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from weir._native import SseFramer, count_tokens, count_tokens_many
from weir.canonical.usage import Usage
from weir.dialects.registry import Dialect
from weir.errors import GatewayError
from weir.pipeline.relay.count import local_count

MAX_KEPT_CHUNKS = 16_384  # a longer stream is counted on its first chunks (an estimate that is low, never high)


class Sent:
    """The chunks forwarded to the client, by reference (no copy), up to MAX_KEPT_CHUNKS. The relay appends to
    `chunks` itself (one list append per chunk, on every stream's path)."""

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def output_tokens(self, streamed_text: Callable[[Any], Iterator[str]], encoding: str, max_line: int) -> int:
        framer = SseFramer(max_line)
        try:
            texts = [text for event in decoded(framer, b"".join(self.chunks), True) for text in streamed_text(event)]
        except ValueError:  # a line longer than the limit: count nothing rather than guess
            texts = []
        return count_tokens_many(texts, encoding) if texts else 0


def decoded(framer: SseFramer, data: bytes, last: bool = False) -> Iterator[Any]:
    """The JSON data of each event `data` completes (`last`: and of the one it ends without its blank line);
    [DONE] and anything else that is not JSON is skipped. ValueError for a line over the framer's limit."""
    events = framer.feed(data) + framer.finish() if last else framer.feed(data)
    for _, body in events:
        try:
            yield orjson.loads(body)
        except orjson.JSONDecodeError:
            continue


def estimated(seen: Usage, sent: Sent, client: Dialect, raw: bytes, encoding: str, max_line: int) -> Usage:
    """The usage to bill a stream its client left early: what the upstream had reported (`seen`), with the output
    counted from what was sent when more than that, and the input counted from the request when none was reported.
    """
    streamed_text = client.passthrough.streamed_text
    assert streamed_text is not None
    output = max(seen.output, sent.output_tokens(streamed_text, encoding, max_line))
    prompt = seen.input or request_tokens(client, raw, encoding)
    return Usage(
        input=prompt, cached=seen.cached, output=output, reasoning=seen.reasoning, cache_write=seen.cache_write
    )


def request_tokens(client: Dialect, raw: bytes, encoding: str) -> int:
    """The request's input tokens, counted here: its messages, system and tools with their framing, or, for a body
    only the upstream understands, its whole text."""
    try:
        return local_count(client.request.to_canonical(raw), encoding)
    except GatewayError:
        return int(count_tokens(raw.decode("utf-8", "replace"), encoding))
