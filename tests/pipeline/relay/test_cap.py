"""The endings of a stream stopped at its price cap, per dialect: well-formed events with the length stop reason,
the usage and cost billed, the open content block closed (Anthropic), the usage chunk only for clients that asked."""

from __future__ import annotations

import orjson

from weir._native import SseFramer
from weir.canonical.usage import Usage
from weir.dialects.registry import ANTHROPIC_MESSAGES, GEMINI, OPENAI_CHAT, OPENAI_RESPONSES

USAGE = Usage(input=12, output=34)


def events(data: bytes) -> list[tuple[str | None, object]]:
    framer = SseFramer()
    return [(kind, body if body == b"[DONE]" else orjson.loads(body)) for kind, body in framer.feed(data)]


def test_openai_chat_ends_with_finish_reason_length_then_usage_when_asked() -> None:
    end = OPENAI_CHAT.passthrough.capped_end
    assert end is not None
    last = {"id": "chatcmpl-1", "created": 7, "model": "up", "object": "chat.completion.chunk", "choices": []}
    asked = events(end(None, last, USAGE, 999, True, None))
    assert [e[1] for e in asked][-1] == b"[DONE]"
    final, usage = asked[0][1], asked[1][1]
    assert isinstance(final, dict) and final["id"] == "chatcmpl-1" and final["choices"][0]["finish_reason"] == "length"
    assert (
        isinstance(usage, dict)
        and usage["usage"]["completion_tokens"] == 34
        and usage["usage"]["cost_microcents"] == 999
    )
    not_asked = events(end(None, last, USAGE, 999, False, None))
    assert len(not_asked) == 2  # the final chunk and [DONE]


def test_anthropic_closes_the_open_block_and_stops_for_max_tokens() -> None:
    end = ANTHROPIC_MESSAGES.passthrough.capped_end
    assert end is not None
    out = events(end(None, {"type": "content_block_delta", "index": 1}, USAGE, 55, True, 1))
    assert [kind for kind, _ in out] == ["content_block_stop", "message_delta", "message_stop"]
    stop, delta = out[0][1], out[1][1]
    assert isinstance(stop, dict) and stop["index"] == 1
    assert isinstance(delta, dict) and delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 34 and delta["usage"]["cost_microcents"] == 55
    assert [kind for kind, _ in events(end(None, None, USAGE, 55, True, None))] == ["message_delta", "message_stop"]


def test_responses_end_incomplete_with_the_created_responses_ids_and_the_usage() -> None:
    end = OPENAI_RESPONSES.passthrough.capped_end
    assert end is not None
    head = {"type": "response.created", "response": {"id": "resp_weir1", "model": "up", "output": [{"x": 1}]}}
    last = {"type": "response.output_text.delta", "delta": "hi", "sequence_number": 7}
    ((kind, event),) = events(end(head, last, USAGE, 42, True, None))
    assert kind == "response.incomplete" and isinstance(event, dict) and event["sequence_number"] == 8
    response = event["response"]
    assert (response["id"], response["model"], response["status"]) == ("resp_weir1", "up", "incomplete")
    assert response["incomplete_details"] == {"reason": "max_output_tokens"} and response["output"] == []
    assert (response["usage"]["output_tokens"], response["usage"]["cost_microcents"]) == (34, 42)


def test_gemini_ends_with_max_tokens_in_its_own_framing_and_counts_its_parts() -> None:
    spec = GEMINI.passthrough
    assert spec.capped_end is not None and spec.streamed_text is not None
    out = spec.capped_end(None, {"modelVersion": "gemini-x"}, USAGE, 1, True, None)
    assert out.startswith(b"data: ") and out.endswith(b"\r\n\r\n")
    chunk = orjson.loads(out[6:])
    assert chunk["candidates"][0]["finishReason"] == "MAX_TOKENS" and chunk["modelVersion"] == "gemini-x"
    assert chunk["usageMetadata"]["candidatesTokenCount"] == 34
    parts = {"candidates": [{"content": {"parts": [{"text": "a"}, {"functionCall": {"name": "f", "args": {"x": 1}}}]}}]}
    assert list(spec.streamed_text(parts)) == ["a", "f", '{"x":1}']
