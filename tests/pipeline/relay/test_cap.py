"""The endings of a stream stopped at its price cap, per dialect: well-formed events with the length stop reason,
the usage and cost billed, the open content block closed (Anthropic), the usage chunk only for clients that asked."""

from __future__ import annotations

import orjson

from weir._native import SseFramer
from weir.canonical.usage import Usage
from weir.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT

USAGE = Usage(input=12, output=34)


def events(data: bytes) -> list[tuple[str | None, object]]:
    framer = SseFramer()
    return [(kind, body if body == b"[DONE]" else orjson.loads(body)) for kind, body in framer.feed(data)]


def test_openai_chat_ends_with_finish_reason_length_then_usage_when_asked() -> None:
    end = OPENAI_CHAT.passthrough.capped_end
    assert end is not None
    last = {"id": "chatcmpl-1", "created": 7, "model": "up", "object": "chat.completion.chunk", "choices": []}
    asked = events(end(last, USAGE, 999, True, None))
    assert [e[1] for e in asked][-1] == b"[DONE]"
    final, usage = asked[0][1], asked[1][1]
    assert isinstance(final, dict) and final["id"] == "chatcmpl-1" and final["choices"][0]["finish_reason"] == "length"
    assert (
        isinstance(usage, dict)
        and usage["usage"]["completion_tokens"] == 34
        and usage["usage"]["cost_microcents"] == 999
    )
    not_asked = events(end(last, USAGE, 999, False, None))
    assert len(not_asked) == 2  # the final chunk and [DONE]


def test_anthropic_closes_the_open_block_and_stops_for_max_tokens() -> None:
    end = ANTHROPIC_MESSAGES.passthrough.capped_end
    assert end is not None
    out = events(end({"type": "content_block_delta", "index": 1}, USAGE, 55, True, 1))
    assert [kind for kind, _ in out] == ["content_block_stop", "message_delta", "message_stop"]
    stop, delta = out[0][1], out[1][1]
    assert isinstance(stop, dict) and stop["index"] == 1
    assert isinstance(delta, dict) and delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 34 and delta["usage"]["cost_microcents"] == 55
    assert [kind for kind, _ in events(end(None, USAGE, 55, True, None))] == ["message_delta", "message_stop"]
