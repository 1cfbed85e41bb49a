"""Canonical events -> client chunks, read back by the rules and by the official openai SDK's stream parser."""

from __future__ import annotations

import json

import openai
import pytest
from msgspec import Raw
from openai.lib.streaming.chat import ChatCompletionStreamState

from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Finish,
    SignatureDelta,
    Start,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.openai_chat.stream import FromCanonical

from .streams import data_lines, from_canonical, read, sdk_chunks, to_canonical

COMPLETE = ["text_usage", "tool_call", "parallel_tools", "reasoning", "text_then_tool", "gemini_no_index", "crlf"]

# What an Anthropic upstream's stream looks like in canonical form: signed thinking, text, two tool calls.
ANTHROPIC_LIKE: list[StreamEvent] = [
    Start(id="msg_01XFDUDYJgAACzvnptvVoYEL", model="claude-sonnet-4-5", usage=Usage(input=25)),
    BlockStart(index=0, block=Thinking(origin="anthropic_messages")),
    ThinkingDelta(index=0, text="Let me check both."),
    SignatureDelta(index=0, signature="EqQBCgIYAh"),
    BlockStop(index=0),
    BlockStart(index=1, block=Text(text="")),
    TextDelta(index=1, text="Checking."),
    BlockStop(index=1),
    BlockStart(index=2, block=ToolUse(id="toolu_01A", name="get_weather", input=Raw(b"{}"))),
    ToolInputDelta(index=2, partial_json='{"city": "Par'),
    ToolInputDelta(index=2, partial_json='is"}'),
    BlockStop(index=2),
    BlockStart(index=3, block=ToolUse(id="toolu_01B", name="list_files", input=Raw(b"{}"))),
    BlockStop(index=3),  # a call without arguments
    UsageUpdate(usage=Usage(input=25, output=87)),
    Finish(stop_reason="tool_use"),
]


def test_chunks_follow_the_rules() -> None:
    body = from_canonical(ANTHROPIC_LIKE, model="claude-sonnet", usage=Usage(input=25, output=87))
    payloads = data_lines(body)
    assert payloads[-1] == b"[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {(c["id"], c["object"], c["created"], c["model"]) for c in chunks} == {
        ("chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL", "chat.completion.chunk", chunks[0]["created"], "claude-sonnet")
    }
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    calls = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
    firsts = [tc for tc in calls if "id" in tc]
    assert [(tc["index"], tc["id"], tc["type"], tc["function"]) for tc in firsts] == [
        (0, "toolu_01A", "function", {"name": "get_weather", "arguments": ""}),
        (1, "toolu_01B", "function", {"name": "list_files", "arguments": ""}),
    ]
    later = [tc for tc in calls if "id" not in tc]
    assert all(set(tc) == {"index", "function"} and set(tc["function"]) == {"arguments"} for tc in later)
    assert [(tc["index"], tc["function"]["arguments"]) for tc in later] == [
        (0, '{"city": "Par'),
        (0, 'is"}'),
        (1, "{}"),
    ]
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 87,
        "total_tokens": 112,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_the_sdk_accumulates_the_answer() -> None:
    body = from_canonical(
        ANTHROPIC_LIKE, usage=Usage(input=25, cached=20, output=87, reasoning=9), cost_microcents=4200
    )
    state = ChatCompletionStreamState()
    for chunk in sdk_chunks(body):
        state.handle_chunk(chunk)
    final = state.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Checking."
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("toolu_01A", "get_weather", '{"city": "Paris"}'),
        ("toolu_01B", "list_files", "{}"),
    ]
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (25, 87, 112)
    assert final.usage.prompt_tokens_details and final.usage.prompt_tokens_details.cached_tokens == 20
    assert final.usage.completion_tokens_details and final.usage.completion_tokens_details.reasoning_tokens == 9
    extra = final.usage.model_extra or {}
    assert extra["cost_microcents"] == 4200 and extra["cost"] == pytest.approx(0.000042)


def test_reasoning_goes_out_as_reasoning_content() -> None:
    body = from_canonical(to_canonical([read("reasoning")]), model="deepseek-reasoner")
    deltas = [c.choices[0].delta for c in sdk_chunks(body) if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert reasoning == "The user asks 9.11 vs 9.9. 0.90 > 0.11."
    assert "".join(d.content or "" for d in deltas) == "9.9 is larger."


def test_failure_is_an_error_chunk_and_no_done() -> None:
    body = from_canonical(to_canonical([read("error_mid_stream")]))
    assert body.endswith(
        b'data: {"error":{"message":"Provider disconnected unexpectedly","type":"upstream_error",'
        b'"code":null,"param":null}}\n\n'
    )
    assert b"[DONE]" not in body and b'"usage"' not in body
    with pytest.raises(openai.APIError, match="Provider disconnected unexpectedly"):
        sdk_chunks(body)


def test_a_stream_without_finish_never_looks_complete() -> None:
    writer = FromCanonical("m", include_usage=True)
    body = writer.feed(Start(id="x", model="m")) + writer.feed(TextDelta(index=0, text="Once"))
    tail = writer.finish(Usage(input=1, output=1), None)
    assert b"[DONE]" not in tail and b'"error"' in tail
    with pytest.raises(openai.APIError):
        sdk_chunks(body + tail)
    assert writer.finish(Usage(), None) == b"" and writer.feed(TextDelta(index=0, text="more")) == b""


def test_without_include_usage_there_is_no_usage_chunk() -> None:
    body = from_canonical(to_canonical([read("text_usage")]), include_usage=False)
    payloads = data_lines(body)
    assert payloads[-1] == b"[DONE]"
    assert all(json.loads(p)["choices"] for p in payloads[:-1])
    assert b'"usage"' not in body


def test_events_before_start_still_open_with_a_role_chunk() -> None:
    writer = FromCanonical("m", include_usage=False)
    out = writer.feed(TextDelta(index=0, text="hi"))
    first, second = data_lines(out)
    assert json.loads(first)["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert json.loads(second)["choices"][0]["delta"] == {"content": "hi"}
    assert json.loads(first)["id"].startswith("chatcmpl-")


def test_custom_tool_calls() -> None:
    events: list[StreamEvent] = [
        Start(id="chatcmpl-9", model="m"),
        BlockStart(index=0, block=ToolUse(id="call_1", name="apply_patch", input=Raw(b'""'), kind="custom")),
        ToolInputDelta(index=0, partial_json="*** Begin Patch"),
        BlockStop(index=0),
        Finish(stop_reason="tool_use"),
    ]
    payloads = [json.loads(p) for p in data_lines(from_canonical(events, include_usage=False))[:-1]]
    calls = [tc for c in payloads for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert calls == [
        {"index": 0, "id": "call_1", "type": "custom", "custom": {"name": "apply_patch", "input": ""}},
        {"index": 0, "custom": {"input": "*** Begin Patch"}},
    ]
    assert to_canonical([from_canonical(events, model="m", include_usage=False)]) == events


@pytest.mark.parametrize("name", COMPLETE)
def test_round_trip(name: str) -> None:
    events = to_canonical([read(name)])
    start = events[0]
    assert isinstance(start, Start)
    again = to_canonical([from_canonical(events, model=start.model)])
    assert again[0] == Start(
        id=start.id if start.id.startswith("chatcmpl-") else "chatcmpl-" + start.id, model=start.model
    )
    assert again[1:] == events[1:]


@pytest.mark.parametrize("name", COMPLETE)
def test_sdk_reads_every_recorded_answer(name: str) -> None:
    events = to_canonical([read(name)])
    state = ChatCompletionStreamState()
    for chunk in sdk_chunks(from_canonical(events)):
        state.handle_chunk(chunk)
    message = state.get_final_completion().choices[0].message
    text = "".join(ev.text for ev in events if isinstance(ev, TextDelta))
    assert (message.content or "") == text
    starts = [ev.block for ev in events if isinstance(ev, BlockStart) and isinstance(ev.block, ToolUse)]
    assert [(c.id, c.function.name) for c in message.tool_calls or []] == [(b.id, b.name) for b in starts]
    for call in message.tool_calls or []:
        json.loads(call.function.arguments)


def test_created_is_fixed_per_stream() -> None:
    writer = FromCanonical("m", include_usage=True)
    writer.created = 1741570000
    body = writer.feed(Start(id="chatcmpl-a", model="up")) + writer.feed(TextDelta(index=0, text="x"))
    body += writer.feed(Finish(stop_reason="max_tokens")) + writer.finish(Usage(), None)
    payloads = data_lines(body)
    assert {json.loads(p)["created"] for p in payloads[:-1]} == {1741570000}
    assert json.loads(payloads[2])["choices"][0]["finish_reason"] == "length"
