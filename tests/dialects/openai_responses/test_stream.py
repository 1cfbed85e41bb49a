"""Upstream Responses streams -> canonical events: recorded streams at every split point, and lax upstreams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from msgspec import Raw

from tests.dialects.openai_responses.support import FIXTURES, fixture, read_stream
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
from weir.dialects.openai_responses.stream import TRUNCATED, ToCanonical

ENCRYPTED = "gAAAAABo8x1Vb3Jp" + "Z2luYWxfZW5jcnlwdGVkX3JlYXNvbmluZ19ibG9i" * 3 + "Qk9PTT0="
ORIGIN = "openai_responses"
OBJECT = Raw(b"{}")
STRING = Raw(b'""')

EXPECTED: dict[str, list[StreamEvent]] = {
    "text.sse": [
        Start(id="resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9", model="gpt-5-mini-2025-08-07"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Bonjour"),
        TextDelta(index=0, text=" ! Il fait 18 °C à Paris."),
        TextDelta(index=0, text="\nÀ bientôt 👋"),
        BlockStop(index=0),
        UsageUpdate(usage=Usage(input=1830, cached=1536, output=19)),
        Finish(stop_reason="end_turn"),
    ],
    "function_call.sse": [
        Start(id="resp_68f2c0ffee0011223344556677889900", model="gpt-5-2025-08-07"),
        BlockStart(index=0, block=ToolUse(id="call_Jx7mH2kQ9", name="shell", input=OBJECT)),
        ToolInputDelta(index=0, partial_json='{"command":'),
        ToolInputDelta(index=0, partial_json='["ls",'),
        ToolInputDelta(index=0, partial_json='"-la"],'),
        ToolInputDelta(index=0, partial_json='"workdir":"/tmp"}'),
        BlockStop(index=0),
        UsageUpdate(usage=Usage(input=2410, output=24)),
        Finish(stop_reason="tool_use"),
    ],
    "reasoning_text.sse": [
        Start(id="resp_0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f", model="gpt-5-codex"),
        BlockStart(index=0, block=Thinking(origin=ORIGIN)),
        ThinkingDelta(index=0, text="**Inspecting"),
        ThinkingDelta(index=0, text=" the failing test**\n\nThe assertion compares"),
        ThinkingDelta(index=0, text="\n\n"),  # between two summary parts
        ThinkingDelta(index=0, text="**Planning"),
        ThinkingDelta(index=0, text=" the fix**"),
        SignatureDelta(index=0, signature=ENCRYPTED),  # the whole encrypted_content, from output_item.done
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="The test fails because "),
        TextDelta(index=1, text="`parse()` drops the sign."),
        BlockStop(index=1),
        UsageUpdate(usage=Usage(input=5120, cached=4096, output=310, reasoning=256)),
        Finish(stop_reason="end_turn"),
    ],
    "custom_tool.sse": [
        Start(id="resp_1f1e1d1c1b1a19181716151413121110", model="gpt-5-codex"),
        BlockStart(index=0, block=Thinking(origin=ORIGIN)),
        ThinkingDelta(index=0, text="**Editing"),
        ThinkingDelta(index=0, text=" the file**"),
        SignatureDelta(index=0, signature=ENCRYPTED),
        BlockStop(index=0),
        BlockStart(index=1, block=ToolUse(id="call_P4tch", name="apply_patch", input=STRING, kind="custom")),
        ToolInputDelta(index=1, partial_json="*** Begin Patch\n*** Update File: a.py\n"),
        ToolInputDelta(index=1, partial_json="@@\n-x = 1\n+x = 2\n"),
        ToolInputDelta(index=1, partial_json="*** End Patch"),
        BlockStop(index=1),
        UsageUpdate(usage=Usage(input=7000, cached=6912, output=95, reasoning=64)),
        Finish(stop_reason="tool_use"),
    ],
    "failed.sse": [
        Start(id="resp_2a2b2c2d2e2f30313233343536373839", model="gpt-5-2025-08-07"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Let me"),
        BlockStop(index=0),
        Failure(
            status=500, type="server_error", message="The model produced invalid content. Please retry your request."
        ),
    ],
    "incomplete.sse": [
        Start(id="resp_3a3b3c3d3e3f40414243444546474849", model="gpt-5-mini-2025-08-07"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Once upon a time,"),
        TextDelta(index=0, text=" in a land far"),
        BlockStop(index=0),
        UsageUpdate(usage=Usage(input=12, output=16)),
        Finish(stop_reason="max_tokens"),
    ],
}


def test_every_fixture_has_expectations() -> None:
    assert {p.name for p in FIXTURES.glob("*.sse")} == set(EXPECTED) | {"truncated.sse"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_stream(name: str) -> None:
    assert read_stream([fixture(name)]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED) + ["truncated.sse"])
def test_every_split_gives_the_same_events(name: str) -> None:
    stream = fixture(name)
    whole = read_stream([stream])
    for i in range(len(stream) + 1):
        assert read_stream([stream[:i], stream[i:]]) == whole, i
    assert read_stream([stream[i : i + 1] for i in range(len(stream))]) == whole


def test_a_stream_cut_short_ends_in_a_failure() -> None:
    events = read_stream([fixture("truncated.sse")])
    assert events[:4] == [
        Start(id="resp_4a4b4c4d4e4f50515253545556575859", model="gpt-5-2025-08-07"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Partial"),
        TextDelta(index=0, text=" answer"),
    ]
    assert events[4] == BlockStop(index=0)
    assert isinstance(events[5], Failure) and events[5].status == 502 and len(events) == 6
    # Cut on an event boundary: finish() is what notices.
    whole_events = fixture("truncated.sse").rpartition(b"event: ")[0]
    assert read_stream([whole_events])[-1] == Failure(status=502, type="upstream_error", message=TRUNCATED)


def feed(*events: dict[str, Any]) -> list[StreamEvent]:
    reader = ToCanonical()
    out: list[StreamEvent] = []
    for ev in events:
        out += reader.feed(ev["type"], json.dumps(ev).encode())
    return out + reader.finish()


CREATED = {
    "type": "response.created",
    "response": {"id": "resp_1", "model": "m", "status": "in_progress", "output": []},
}


def completed(output: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {"id": "resp_1", "model": "m", "status": "completed", "output": output, **extra},
    }


def test_items_sent_only_whole() -> None:
    """Some Responses-compatible servers send no deltas: items arrive in output_item.done only."""
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'}
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}], "encrypted_content": "gA"}
    events = feed(
        CREATED,
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.added", "output_index": 1, "item": dict(message, content=[])},
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.output_item.done", "output_index": 2, "item": call},
        completed([reasoning, message, call]),
    )
    assert events[1:] == [
        BlockStart(index=0, block=Thinking(origin=ORIGIN)),
        ThinkingDelta(index=0, text="hmm"),
        SignatureDelta(index=0, signature="gA"),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="Hi"),
        BlockStop(index=1),
        BlockStart(index=2, block=ToolUse(id="c1", name="f", input=OBJECT)),
        ToolInputDelta(index=2, partial_json='{"a":1}'),
        BlockStop(index=2),
        Finish(stop_reason="tool_use"),
    ]


def test_output_only_in_the_completed_response() -> None:
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    custom = {"type": "custom_tool_call", "call_id": "c1", "name": "patch", "input": "*** Begin"}
    usage = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    events = feed(CREATED, completed([message, custom], usage=usage))
    assert events[1:] == [
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Hi"),
        BlockStop(index=0),
        BlockStart(index=1, block=ToolUse(id="c1", name="patch", input=STRING, kind="custom")),
        ToolInputDelta(index=1, partial_json="*** Begin"),
        BlockStop(index=1),
        UsageUpdate(usage=Usage(input=5, output=2)),
        Finish(stop_reason="tool_use"),
    ]


def test_text_in_done_events_without_deltas_and_skipped_items() -> None:
    part = {"type": "output_text", "text": ""}
    events = feed(
        CREATED,
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "web_search_call", "id": "ws"}},
        {"type": "response.output_item.done", "output_index": 0, "item": {"type": "web_search_call", "id": "ws"}},
        {"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "content": []}},
        {"type": "response.content_part.added", "output_index": 1, "content_index": 0, "part": part},
        {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "All at once."},
        {
            "type": "response.content_part.done",
            "output_index": 1,
            "content_index": 0,
            "part": dict(part, text="All at once."),
        },
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"type": "function_call", "call_id": "c", "name": "f"},
        },
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"},
        completed([]),
    )
    assert events[1:] == [
        BlockStart(index=0, block=Text(text="")),  # the web search is not a canonical block: numbering goes on
        TextDelta(index=0, text="All at once."),
        BlockStop(index=0),
        BlockStart(index=1, block=ToolUse(id="c", name="f", input=OBJECT)),
        ToolInputDelta(index=1, partial_json="{}"),
        BlockStop(index=1),  # closed by the end of the response
        Finish(stop_reason="tool_use"),
    ]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"type": "error", "code": "rate_limit_exceeded", "message": "Try again in 1.5s."},
            Failure(status=429, type="rate_limit_exceeded", message="Try again in 1.5s."),
        ),
        (
            {
                "type": "response.failed",
                "response": {"id": "resp_1", "error": {"code": "context_length_exceeded", "message": "Too long."}},
            },
            Failure(status=400, type="context_length_exceeded", message="Too long."),
        ),
        (
            {"type": "response.failed", "response": {"id": "resp_1", "error": None}},
            Failure(status=502, type="server_error", message="The upstream response failed."),
        ),
    ],
)
def test_failures(event: dict[str, Any], expected: Failure) -> None:
    events = feed(CREATED, event, completed([]))
    assert events == [Start(id="resp_1", model="m"), expected]  # nothing is read after a failure


def test_unreadable_event_and_blank_data() -> None:
    reader = ToCanonical()
    assert reader.feed(None, b"") == [] and reader.feed("response.created", b"  ") == []
    events = reader.feed(None, b"{not json")
    assert len(events) == 1 and isinstance(events[0], Failure) and events[0].status == 502
    assert reader.feed(None, json.dumps(CREATED).encode()) == [] and reader.finish() == []
