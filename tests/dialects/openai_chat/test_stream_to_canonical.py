"""Upstream chat.completion.chunk streams -> canonical events, on recorded streams split every possible way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import Raw

from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Failure,
    Finish,
    Start,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.openai_chat.stream import ToCanonical

from .streams import recorded, to_canonical

STREAMS = recorded()
IDS = [name for name, _ in STREAMS]
TRUNCATED = Failure(status=502, type="upstream_error", message="The upstream ended the stream before it was complete.")


def tool(index: int, call_id: str, name: str) -> BlockStart:
    return BlockStart(index=index, block=ToolUse(id=call_id, name=name, input=Raw(b"{}")))


EXPECTED: dict[str, list[StreamEvent]] = {
    "text_usage": [
        Start(id="chatcmpl-BX3kq9aZ7cHn2mJ4pLr8TtVw1yQeS", model="gpt-4o-mini-2024-07-18"),
        BlockStart(index=0, block=Text(text="")),
        *(
            TextDelta(index=0, text=t)
            for t in ["Caf", "é au", " lait", ': the "usage"', " of milk", " is 1/3 \u2615", "."]
        ),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
        UsageUpdate(usage=Usage(input=1117, cached=1024, output=46, reasoning=0)),
    ],
    "tool_call": [
        Start(id="chatcmpl-BX3lT0hVdR6uKp2sXz9gNcYbAaE1f", model="o4-mini-2025-04-16"),
        tool(0, "call_Vq3nR8sKpL2mXw7tYh5JcB1e", "get_weather"),
        *(
            ToolInputDelta(index=0, partial_json=f)
            for f in [
                '{"locatio',
                'n": "Pari',
                "s, France",
                '", "unit"',
                ': "celsiu',
                's", "usag',
                'e": "fore',
                'cast"}',
            ]
        ),
        BlockStop(index=0),
        Finish(stop_reason="tool_use"),
        UsageUpdate(usage=Usage(input=82, cached=0, output=219, reasoning=192)),
    ],
    "parallel_tools": [
        Start(id="chatcmpl-BYp2c7TzL1kQw9xRv4mJ8sNd3fHa0", model="gpt-4.1-2025-04-14"),
        tool(0, "call_kP4wQ9zR2sTn8mBv1xYc5LdE", "get_weather"),
        *(ToolInputDelta(index=0, partial_json=f) for f in ['{"ci', 'ty": "Pa', 'ris"}']),
        BlockStop(index=0),
        tool(1, "call_Hn7cT2vL9qWx4sJm6rBa0KeZ", "get_time"),
        *(ToolInputDelta(index=1, partial_json=f) for f in ['{"ti', 'mezone": "Europe/', 'Paris"}']),
        BlockStop(index=1),
        Finish(stop_reason="tool_use"),
        UsageUpdate(usage=Usage(input=156, cached=0, output=52, reasoning=0)),
    ],
    "reasoning": [
        Start(id="5f0c7d2e-8a41-4b6e-9c3d-2e7f1a9b4c60", model="deepseek-reasoner"),
        BlockStart(index=0, block=Thinking(origin="openai_chat")),
        *(ThinkingDelta(index=0, text=t) for t in ["The user", " asks 9.11", " vs 9.9.", " 0.90 > 0.11."]),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        *(TextDelta(index=1, text=t) for t in ["9.9", " is larger", "."]),
        BlockStop(index=1),
        Finish(stop_reason="end_turn"),
        UsageUpdate(usage=Usage(input=18, cached=0, output=97, reasoning=86)),
    ],
    "text_then_tool": [
        Start(id="chatcmpl-4f1d9b2a-7c3e-4a85-b6d0-9e2f1c8a7b54", model="claude-sonnet-4-5"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="I'll read"),
        TextDelta(index=0, text=" the file."),
        BlockStop(index=0),
        tool(1, "toolu_01XkV3nB8qR2wT5yL9mC4pZs", "Read"),
        ToolInputDelta(index=1, partial_json='{"file_path": "/src/ma'),
        ToolInputDelta(index=1, partial_json='in.py"}'),
        BlockStop(index=1),
        Finish(stop_reason="tool_use"),
        UsageUpdate(usage=Usage(input=5230, cached=4096, output=61, reasoning=0, cache_write=1024)),
    ],
    "gemini_no_index": [  # whole calls in one chunk, no `index`, finish_reason "stop"
        Start(id="mJ3aaPqwK9u-xN8P4vLr2Ak", model="gemini-2.5-flash"),
        tool(0, "function-call-1184720311289373265", "get_weather"),
        ToolInputDelta(index=0, partial_json='{"city":"Paris"}'),
        BlockStop(index=0),
        tool(1, "function-call-9936401182873301254", "get_weather"),
        ToolInputDelta(index=1, partial_json='{"city":"Tokyo"}'),
        BlockStop(index=1),
        Finish(stop_reason="tool_use"),  # a turn that called tools ends in tool_use
        UsageUpdate(usage=Usage(input=61, output=34)),
    ],
    "crlf": [  # Azure: the leading prompt_filter_results chunk (empty id, no choices) is skipped
        Start(id="chatcmpl-BX3mZ5cVqT8nLr2pHk6sYw0dJgF3a", model="gpt-4o-2024-11-20"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Line one\n"),
        TextDelta(index=0, text="line two"),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
        UsageUpdate(usage=Usage(input=2048, cached=1920, output=5)),
    ],
    "multiline_event_id": [  # `event: message`, id/retry lines, data split over lines; usage in the finish chunk
        Start(id="cmpl-7f3c2a9e1b4d4c0e8a6b5d2f1e0c9b8a", model="Qwen/Qwen3-8B"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="multi"),
        TextDelta(index=0, text="-line"),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
        UsageUpdate(usage=Usage(input=31, output=9)),
    ],
    "keepalive": [  # OpenRouter: comments, `role` on every delta, content "" in the finish chunk
        Start(id="gen-1741570301-kX8mQ2vR9tLp4sWz", model="anthropic/claude-sonnet-4"),
        BlockStart(index=0, block=Text(text="")),
        *(TextDelta(index=0, text=t) for t in ["Hello", "! How", " can I help", " today?"]),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
        UsageUpdate(usage=Usage(input=14, output=11)),
    ],
    "no_usage": [  # no finish_reason, but [DONE]: the upstream says the answer is whole
        Start(id="0195d3a4-6b7e-7c1f-9a2b-3c4d5e6f7a8b", model="deepseek-chat"),
        BlockStart(index=0, block=Text(text="")),
        *(TextDelta(index=0, text=t) for t in ["Sure", ",", " here", " it is", "."]),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
    ],
    "error_mid_stream": [  # OpenRouter: HTTP 200, then an error chunk; what follows it is not read
        Start(id="gen-1741571200-Qm3xT8vR1sLp6wZk", model="openai/gpt-4o"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="The answer"),
        TextDelta(index=0, text=" begins"),
        BlockStop(index=0),
        Failure(status=502, type="upstream_error", message="Provider disconnected unexpectedly"),
    ],
    "truncated": [
        Start(id="chatcmpl-BYp9dR2mT5vK8xQw1zLn4sHc7jFa3", model="gpt-4o-mini-2024-07-18"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Once upon"),
        TextDelta(index=0, text=" a time"),
        BlockStop(index=0),
        TRUNCATED,
    ],
    "truncated_mid_event": [
        Start(id="chatcmpl-BYp9dR2mT5vK8xQw1zLn4sHc7jFa3", model="gpt-4o-mini-2024-07-18"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Once upon"),
        TextDelta(index=0, text=" a time"),
        BlockStop(index=0),
        Failure(status=502, type="upstream_error", message="The upstream sent a malformed stream chunk."),
    ],
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(IDS)


@pytest.mark.parametrize(("name", "stream"), STREAMS, ids=IDS)
def test_recorded_stream(name: str, stream: bytes) -> None:
    assert to_canonical([stream]) == EXPECTED[name]


@pytest.mark.parametrize("stream", [s for _, s in STREAMS], ids=IDS)
def test_every_split_gives_same_events(stream: bytes) -> None:
    whole = to_canonical([stream])
    for i in range(len(stream) + 1):
        assert to_canonical([stream[:i], stream[i:]]) == whole, f"split at {i}"


@pytest.mark.parametrize("stream", [s for _, s in STREAMS], ids=IDS)
@settings(max_examples=30, database=None, deadline=None)
@given(data=st.data())
def test_random_splits_give_same_events(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert to_canonical(chunks) == to_canonical([stream])


@pytest.mark.parametrize("stream", [s for _, s in STREAMS], ids=IDS)
def test_blocks_are_sequential_and_the_end_is_explicit(stream: bytes) -> None:
    events = to_canonical([stream])
    assert isinstance(events[0], Start)
    open_index: int | None = None
    next_index = 0
    for ev in events:
        if isinstance(ev, BlockStart):
            assert open_index is None and ev.index == next_index
            open_index, next_index = ev.index, next_index + 1
        elif isinstance(ev, TextDelta | ThinkingDelta | ToolInputDelta):
            assert ev.index == open_index
        elif isinstance(ev, BlockStop):
            assert ev.index == open_index
            open_index = None
        elif isinstance(ev, Finish | Failure):
            assert open_index is None
    ends = [ev for ev in events if isinstance(ev, Finish | Failure)]
    assert len(ends) == 1


def chunk(delta: str, finish: str = "null", extra: str = "") -> bytes:
    return (
        b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":'
        + delta.encode()
        + b',"finish_reason":'
        + finish.encode()
        + b"}]"
        + extra.encode()
        + b"}"
    )


def test_content_and_finish_in_one_chunk() -> None:
    reader = ToCanonical()
    events = reader.feed(None, chunk('{"role":"assistant","content":"Hi"}', '"length"'))
    assert events == [
        Start(id="chatcmpl-1", model="m"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Hi"),
        BlockStop(index=0),
        Finish(stop_reason="max_tokens"),
    ]
    assert reader.feed(None, chunk('{"content":"late"}')) == []  # nothing after the finish but usage
    assert reader.finish() == []


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_finish_reasons(finish: str, reason: str) -> None:
    events = ToCanonical().feed(None, chunk("{}", f'"{finish}"'))
    assert events[-1] == Finish(stop_reason=reason)  # type: ignore[arg-type]


def test_error_code_sets_the_status() -> None:
    reader = ToCanonical()
    reader.feed(None, chunk('{"content":"a"}'))
    events = reader.feed(None, b'{"error":{"message":"Rate limit reached","type":"requests","code":429}}')
    assert events == [BlockStop(index=0), Failure(status=429, type="requests", message="Rate limit reached")]
    assert reader.feed(None, b"[DONE]") == [] and reader.finish() == []


def test_error_event_and_string_error() -> None:
    assert ToCanonical().feed("error", b'{"detail":"overloaded"}') == [
        Failure(status=502, type="upstream_error", message='{"detail":"overloaded"}')
    ]
    assert ToCanonical().feed(None, b'{"error":"boom"}') == [Failure(status=502, type="upstream_error", message="boom")]


def test_nothing_at_all_is_a_failure() -> None:
    reader = ToCanonical()
    assert reader.feed(None, b"") == []  # an event with no data (e.g. only `id:`) is skipped
    assert reader.finish() == [TRUNCATED]


def test_finish_without_done_is_complete() -> None:
    reader = ToCanonical()
    reader.feed(None, chunk('{"content":"a"}', '"stop"'))
    assert reader.finish() == []


def test_reasoning_field_and_refusal_delta() -> None:
    reader = ToCanonical()
    events = reader.feed(None, chunk('{"reasoning":"hmm","content":null}'))
    events += reader.feed(None, chunk('{"refusal":"I cannot help with that."}', '"stop"'))
    assert events[1:] == [
        BlockStart(index=0, block=Thinking(origin="openai_chat")),
        ThinkingDelta(index=0, text="hmm"),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="I cannot help with that."),
        BlockStop(index=1),
        Finish(stop_reason="end_turn"),
    ]


def test_custom_tool_call_streams_its_input() -> None:
    reader = ToCanonical()
    first = '{"tool_calls":[{"index":0,"id":"call_1","type":"custom","custom":{"name":"apply_patch","input":""}}]}'
    events = reader.feed(None, chunk(first))
    events += reader.feed(None, chunk('{"tool_calls":[{"index":0,"custom":{"input":"*** Begin"}}]}', '"tool_calls"'))
    assert events[1:] == [
        BlockStart(index=0, block=ToolUse(id="call_1", name="apply_patch", input=Raw(b'""'), kind="custom")),
        ToolInputDelta(index=0, partial_json="*** Begin"),
        BlockStop(index=0),
        Finish(stop_reason="tool_use"),
    ]


def test_usage_only_chunk_with_continuous_usage() -> None:
    reader = ToCanonical()
    usage = ',"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6,"prompt_tokens_details":null}'
    events = reader.feed(None, chunk('{"content":"a"}', extra=usage))
    assert events[-1] == UsageUpdate(usage=Usage(input=5, output=1))


def test_other_choices_are_ignored() -> None:
    events = ToCanonical().feed(None, chunk('{"content":"a"}').replace(b'"index":0', b'"index":1'))
    assert events == [Start(id="chatcmpl-1", model="m")]


def test_fixture_reader_state_is_visible() -> None:
    reader = ToCanonical()
    reader.feed(None, b'{"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}')
    assert (reader.started, reader.open_kind, reader.open_index, reader.finished) == (True, "text", 0, False)
