"""Counting what a stream's client was sent when it left before the stream's usage came: each dialect's output text
(never its error text), the input from the request, the real BPE counter."""

from __future__ import annotations

import orjson

from weir._native import count_tokens, count_tokens_many
from weir.canonical.usage import Usage
from weir.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from weir.pipeline.relay.left_early import Sent, estimated

ENC = "o200k_base"


def sse(*events: object, named: bool = False) -> bytes:
    out = b""
    for event in events:
        if named and isinstance(event, dict):
            out += b"event: " + str(event["type"]).encode() + b"\n"
        out += b"data: " + (event if isinstance(event, bytes) else orjson.dumps(event)) + b"\n\n"
    return out


def sent_of(data: bytes, split: int = 7) -> Sent:
    sent = Sent()
    for i in range(0, len(data), split):  # split anywhere: the count does not depend on where
        sent.chunks.append(data[i : i + split])
    return sent


CHAT = sse(
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello there"}}]},
    {"choices": [{"index": 0, "delta": {"reasoning_content": "thinking hard"}}]},
    {
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "get", "arguments": '{"a":'}}]}}
        ]
    },
    {"error": {"message": "upstream exploded with a long error text that must not be billed"}},
    b"[DONE]",
)


def test_openai_chat_counts_content_reasoning_and_tool_calls_but_no_error_text() -> None:
    spec = OPENAI_CHAT.passthrough
    assert spec.streamed_text is not None
    want = count_tokens_many(["Hello there", "thinking hard", "get", '{"a":'], ENC)
    assert sent_of(CHAT).output_tokens(spec.streamed_text, ENC, 1 << 20) == want


def test_responses_and_anthropic_count_their_deltas() -> None:
    responses = sse(
        {"type": "response.created", "response": {"id": "r"}},
        {"type": "response.output_text.delta", "delta": "Bonjour"},
        {"type": "response.function_call_arguments.delta", "delta": '{"x": 1}'},
        {"type": "error", "message": "not output"},
    )
    spec = OPENAI_RESPONSES.passthrough
    assert spec.streamed_text is not None
    assert sent_of(responses).output_tokens(spec.streamed_text, ENC, 1 << 20) == count_tokens_many(
        ["Bonjour", '{"x": 1}'], ENC
    )
    anthropic = sse(
        {"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "name": "lookup"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"q"'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Sure, "}},
        named=True,
    )
    spec = ANTHROPIC_MESSAGES.passthrough
    assert spec.streamed_text is not None
    assert sent_of(anthropic).output_tokens(spec.streamed_text, ENC, 1 << 20) == count_tokens_many(
        ["lookup", '{"q"', "Sure, "], ENC
    )


def test_the_estimate_keeps_what_the_upstream_reported_and_counts_the_rest() -> None:
    body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "Say hello"}]})
    none_seen = estimated(Usage(), sent_of(CHAT), OPENAI_CHAT, body, ENC, 1 << 20)
    assert none_seen.input > count_tokens("Say hello", ENC)  # the message and its framing
    assert none_seen.output == count_tokens_many(["Hello there", "thinking hard", "get", '{"a":'], ENC)
    reported = estimated(Usage(input=40, cached=8, output=1), sent_of(CHAT), OPENAI_CHAT, body, ENC, 1 << 20)
    assert (reported.input, reported.cached) == (40, 8)  # the upstream's own input count wins
    assert reported.output == none_seen.output
    odd = estimated(Usage(), Sent(), OPENAI_CHAT, b'{"model": "m", "messages": "not a list"}', ENC, 1 << 20)
    assert odd.input == count_tokens('{"model": "m", "messages": "not a list"}', ENC) and odd.output == 0
