"""Canonical events -> the Responses stream a client reads, checked by its rules and by the official openai SDK's
`.stream()` helper (stricter than Codex: item before part before delta, one response id, unique output_index)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from msgspec import Raw

from tests.dialects.openai_responses.support import (
    fixture,
    frames,
    read_stream,
    sdk_client,
    sdk_events,
    sdk_final,
    write_stream,
)
from tests.dialects.openai_responses.test_stream import EXPECTED
from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Failure,
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
from weir.dialects.openai_responses.stream import FromCanonical

USAGE = Usage(input=25, cached=5, output=87, reasoning=40)

# What an Anthropic upstream's stream looks like in canonical form: signed thinking, text, two tool calls (the
# second without arguments), then a custom (freeform) call as a Chat upstream streams one.
ANTHROPIC_LIKE: list[StreamEvent] = [
    Start(id="msg_01XFDUDYJgAACzvnptvVoYEL", model="claude-sonnet-4-5", usage=Usage(input=25)),
    BlockStart(index=0, block=Thinking(origin="anthropic")),
    ThinkingDelta(index=0, text="Let me check "),
    ThinkingDelta(index=0, text="both."),
    SignatureDelta(index=0, signature="EqQBCgIYAh"),
    BlockStop(index=0),
    BlockStart(index=1, block=Text(text="")),
    TextDelta(index=1, text="Checking"),
    TextDelta(index=1, text=" now."),
    BlockStop(index=1),
    BlockStart(index=2, block=ToolUse(id="toolu_01A", name="get_weather", input=Raw(b"{}"))),
    ToolInputDelta(index=2, partial_json='{"city": "Par'),
    ToolInputDelta(index=2, partial_json='is"}'),
    BlockStop(index=2),
    BlockStart(index=3, block=ToolUse(id="toolu_01B", name="list_files", input=Raw(b"{}"))),
    BlockStop(index=3),
    BlockStart(index=4, block=ToolUse(id="call_C", name="apply_patch", input=Raw(b'""'), kind="custom")),
    ToolInputDelta(index=4, partial_json="*** Begin Patch\n"),
    ToolInputDelta(index=4, partial_json="*** End Patch"),
    BlockStop(index=4),
    UsageUpdate(usage=USAGE),
    Finish(stop_reason="tool_use"),
]


def test_the_full_sequence() -> None:
    body = write_stream(ANTHROPIC_LIKE, model="claude-alias", cost=1234)
    events = frames(body)
    assert [name for name, _ in events] == [data["type"] for _, data in events]  # `event:` names the JSON type
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert body.count(b"\n\n") == len(events) and all(
        chunk.count(b"\n") == 1 for chunk in body.split(b"\n\n")[:-1]
    )  # each event: one `event:` line and one `data:` line
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",  # reasoning
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",  # message
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",  # function call
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",  # function call without arguments
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",  # custom tool call
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    lifecycle = [data["response"] for name, data in events if "response" in data]
    ids = {r["id"] for r in lifecycle}
    assert len(ids) == 1 and ids.pop().startswith("resp_"), "one new response id on every lifecycle event"
    assert {r["model"] for r in lifecycle} == {"claude-alias"}
    assert [r["status"] for r in lifecycle] == ["in_progress", "in_progress", "completed"]
    added = [data for name, data in events if name == "response.output_item.added"]
    done = [data for name, data in events if name == "response.output_item.done"]
    assert [d["output_index"] for d in added] == [d["output_index"] for d in done] == [0, 1, 2, 3, 4]
    assert [d["item"]["id"] for d in added] == [d["item"]["id"] for d in done]
    assert [d["item"]["id"][: d["item"]["id"].index("_")] for d in done] == ["rs", "msg", "fc", "fc", "ctc"]
    for name, data in events:  # every delta and done names the item it belongs to
        if "item_id" in data:
            assert data["item_id"] == done[data["output_index"]]["item"]["id"], name
    final = lifecycle[-1]
    assert final["output"] == [d["item"] for d in done]
    reasoning, message, call, bare, custom = final["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me check both."}]
    assert reasoning["encrypted_content"] == "weir:v1:anthropic:EqQBCgIYAh"
    assert message["content"] == [{"type": "output_text", "text": "Checking now.", "annotations": []}]
    assert (call["call_id"], call["arguments"], call["status"]) == ("toolu_01A", '{"city": "Paris"}', "completed")
    assert (bare["call_id"], bare["arguments"]) == ("toolu_01B", "{}")
    assert (custom["type"], custom["call_id"], custom["input"]) == (
        "custom_tool_call",
        "call_C",
        "*** Begin Patch\n*** End Patch",
    )
    assert final["usage"] == {
        "input_tokens": 25,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 40},
        "total_tokens": 112,
        "cost_microcents": 1234,
        "cost": 1234 / 1e8,
    }


def test_the_sdk_stream_helper_accepts_it() -> None:
    final = sdk_final(write_stream(ANTHROPIC_LIKE))
    assert final.id.startswith("resp_") and final.status == "completed"
    assert final.output_text == "Checking now."
    calls = [(o.call_id, o.name, o.arguments) for o in final.output if o.type == "function_call"]
    assert calls == [("toolu_01A", "get_weather", '{"city": "Paris"}'), ("toolu_01B", "list_files", "{}")]
    assert [(o.call_id, o.input) for o in final.output if o.type == "custom_tool_call"] == [
        ("call_C", "*** Begin Patch\n*** End Patch")
    ]
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (25, 87, 112)
    assert final.usage.input_tokens_details.cached_tokens == 5
    assert final.usage.output_tokens_details.reasoning_tokens == 40
    snapshots = [
        ev.snapshot for ev in sdk_events(write_stream(ANTHROPIC_LIKE)) if ev.type == "response.output_text.delta"
    ]
    assert snapshots == ["Checking", "Checking now."]


@pytest.mark.parametrize("name", ["text.sse", "function_call.sse", "reasoning_text.sse", "custom_tool.sse"])
def test_recorded_upstream_streams_through_to_the_sdk(name: str) -> None:
    """Upstream Responses stream -> canonical -> our client stream -> the SDK: what it reads is what was sent."""
    original = json.loads(fixture(name).rstrip().rpartition(b"\ndata: ")[2])["response"]
    final = sdk_final(write_stream(read_stream([fixture(name)]), cost=99))
    assert final.id == original["id"]
    kept = ("type", "call_id", "name", "arguments", "input", "summary", "encrypted_content", "content")
    for ours, theirs in zip(final.output, original["output"], strict=True):
        mine = ours.to_dict()
        for part in mine.get("content", []):
            part.pop("parsed", None)
        expected = {k: v for k, v in theirs.items() if k in kept}
        if "content" in expected:
            expected["content"] = [{k: v for k, v in p.items() if k != "logprobs"} for p in expected["content"]]
        if "summary" in expected:  # summary parts are joined into the one canonical thinking text
            text = "\n\n".join(p["text"] for p in expected["summary"])
            expected["summary"] = [{"type": "summary_text", "text": text}]
        assert {k: mine.get(k) for k in expected} == expected
    assert final.usage is not None and final.usage.to_dict() == dict(
        original["usage"], input_tokens_details=dict(original["usage"]["input_tokens_details"], cache_write_tokens=0),
        cost_microcents=99, cost=99 / 1e8,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_our_stream_reads_back_the_same(name: str) -> None:
    """ToCanonical(FromCanonical(events)) == events, for every recorded stream (ids and model kept)."""
    events = EXPECTED[name]
    start = events[0]
    assert isinstance(start, Start)
    assert read_stream([write_stream(events, model=start.model)]) == events


def test_a_failure_is_the_last_event() -> None:
    writer = FromCanonical("gpt-5")
    body = b"".join(writer.feed(ev) for ev in ANTHROPIC_LIKE[:8])  # mid-text
    body += writer.feed(Failure(status=429, type="rate_limit_error", message="Rate limited. Try again in 3s."))
    assert writer.feed(TextDelta(index=1, text="more")) == b"" and writer.finish(USAGE, None) == b""
    events = frames(body)
    name, data = events[-1]
    assert name == "response.failed" and data["sequence_number"] == len(events) - 1
    assert data["response"]["status"] == "failed"
    assert data["response"]["error"] == {"code": "rate_limit_exceeded", "message": "Rate limited. Try again in 3s."}
    assert [item["type"] for item in data["response"]["output"]] == ["reasoning"]  # the items completed so far
    assert data["response"]["id"] == events[0][1]["response"]["id"]
    with pytest.raises(RuntimeError, match="response.completed"):
        sdk_final(body)
    failed = [ev for ev in sdk_events(body) if ev.type == "response.failed"]
    assert len(failed) == 1 and failed[0].response.error.code == "rate_limit_exceeded"


def test_a_stream_without_finish_fails() -> None:
    writer = FromCanonical("gpt-5")
    body = b"".join(writer.feed(ev) for ev in ANTHROPIC_LIKE[:8]) + writer.finish(USAGE, None)
    events = frames(body)
    assert [name for name, _ in events[-4:]] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",  # open items are closed first
        "response.failed",
    ]
    assert events[-1][1]["response"]["error"]["code"] == "upstream_stream_error"
    assert writer.finish(USAGE, None) == b""


def test_max_tokens_still_completes() -> None:
    events = EXPECTED["incomplete.sse"]
    body = write_stream(events)
    name, data = frames(body)[-1]
    assert name == "response.completed"
    assert (data["response"]["status"], data["response"]["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    final = sdk_final(body)
    assert final.status == "incomplete" and final.output_text == "Once upon a time, in a land far"


def test_keepalives_between_events() -> None:
    body = write_stream(ANTHROPIC_LIKE)
    chunks = body.split(b"\n\n")
    spaced = b"\n\n".join(chunk + b"\n\n: keep-alive" for chunk in chunks[:-1]) + b"\n\n"
    assert sdk_final(spaced).output_text == "Checking now."
    assert read_stream([spaced]) == read_stream([body])


def test_no_start_and_thinking_kinds() -> None:
    """A producer that sends no Start still gets a response id; reasoning of every kind becomes an item."""
    events: list[StreamEvent] = [
        BlockStart(index=0, block=Thinking(origin="openai_chat")),
        ThinkingDelta(index=0, text="plain reasoning"),
        BlockStop(index=0),
        BlockStart(index=1, block=Thinking(redacted="EmwKAhgB", origin="anthropic")),
        BlockStop(index=1),
        BlockStart(index=2, block=Thinking(text="whole", signature="gAAA", origin="openai_responses")),
        BlockStop(index=2),
        Finish(stop_reason="end_turn"),
    ]
    body = write_stream(events)
    output = frames(body)[-1][1]["response"]["output"]
    assert frames(body)[0][1]["response"]["id"].startswith("resp_")
    assert [(o["summary"], o.get("encrypted_content")) for o in output] == [
        ([{"type": "summary_text", "text": "plain reasoning"}], "weir:v1:openai_chat:"),
        ([], "weir:v1r:anthropic:EmwKAhgB"),
        ([{"type": "summary_text", "text": "whole"}], "gAAA"),
    ]
    assert sdk_final(body).status == "completed"


def test_sdk_raw_stream_reads_every_event() -> None:
    """Without the helper, the SDK's raw stream (`stream=True`) parses every event we send."""
    body = write_stream(ANTHROPIC_LIKE)
    with sdk_client(body).responses.create(model="gpt-5", input="hi", stream=True) as stream:
        kinds = [type(ev).__name__ for ev in stream]
    assert kinds[0] == "ResponseCreatedEvent" and kinds[-1] == "ResponseCompletedEvent"
    assert "ResponseReasoningSummaryTextDeltaEvent" in kinds and "ResponseCustomToolCallInputDeltaEvent" in kinds


def test_sdk_errors_on_an_error_envelope_before_the_stream() -> None:
    from weir.dialects.openai_responses.errors import render
    from weir.errors import InsufficientBalance

    client = sdk_client(render(InsufficientBalance("No credit left.")), status=402, content_type="application/json")
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="gpt-5", input="hi", stream=True)
    error: Any = caught.value.body
    assert error["message"] == "No credit left." and error["code"] == "insufficient_balance"
