from __future__ import annotations

import json

import msgspec
import pytest

from tests.dialects.anthropic_messages.support import FIXTURES, fixture, frames, read_stream, sdk_stream
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
from weir.dialects.anthropic_messages.request import to_canonical as request_to_canonical
from weir.dialects.anthropic_messages.stream import NO_INPUT, PING, FromCanonical, ToCanonical

SIGNATURE = (
    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+6ng8Ig6FRxb/Bz3Ezp5XJYcJYrVGuWm0ldZJsDKtUjz04sNIA7YdWl3a2mGCoQ"
    "46qwv1c="
)
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj"

EXPECTED: dict[str, list[StreamEvent]] = {
    "text.sse": [
        Start(
            id="msg_01XFDUDYJgAACzvnptvVoYEL",
            model="claude-sonnet-4-5-20250929",
            usage=Usage(input=6025, cached=4800, output=1, cache_write=1200),
        ),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Bonjour"),
        TextDelta(index=0, text=" ! Il fait 18 °C à Paris.\nÀ bientôt 👋"),
        BlockStop(index=0),
        # message_delta sent only output_tokens: the cache counts of message_start stand
        UsageUpdate(usage=Usage(input=6025, cached=4800, output=15, cache_write=1200)),
        Finish(stop_reason="end_turn"),
    ],
    "thinking_tool.sse": [
        Start(id="msg_01Aq9w938a90dw8q", model="claude-sonnet-4-5-20250929", usage=Usage(input=472, output=4)),
        BlockStart(index=0, block=Thinking(origin="anthropic")),
        ThinkingDelta(index=0, text="The user wants the weather in Paris."),
        ThinkingDelta(index=0, text=" I should call get_weather."),
        SignatureDelta(index=0, signature=SIGNATURE),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="Checking the weather."),
        BlockStop(index=1),
        BlockStart(index=2, block=ToolUse(id="toolu_01T1x1fJ34qAmk2tNTrN7Up6", name="get_weather", input=NO_INPUT)),
        ToolInputDelta(index=2, partial_json='{"city": "Par'),
        ToolInputDelta(index=2, partial_json='is", "unit": "celsius"}'),
        BlockStop(index=2),
        UsageUpdate(usage=Usage(input=472, output=89, reasoning=31)),
        Finish(stop_reason="tool_use"),
    ],
    "error_midstream.sse": [
        Start(id="msg_01Ne1uRDWdyGGmUfAhcbwBzi", model="claude-opus-4-1-20250805", usage=Usage(input=12, output=1)),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Once upon"),
        Failure(status=529, type="overloaded_error", message="Overloaded"),
    ],
    "truncated.sse": [
        Start(id="msg_013Zva2CMHLNnXjNJJKqJ2EF", model="claude-haiku-4-5-20251001", usage=Usage(input=9, output=1)),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="The first three primes are 2, 3"),
        TextDelta(index=0, text=" and"),
        BlockStop(index=0),
        Failure(status=502, type="api_error", message="The upstream stream ended before message_stop"),
    ],
    # redacted thinking kept; web search server-tool blocks skipped and the text renumbered; CRLF line ends
    "server_tool_crlf.sse": [
        Start(id="msg_01Ws4w8uFGJ7N3u6kyt2BxaQ", model="claude-sonnet-4-5-20250929", usage=Usage(input=3100, output=3)),
        BlockStart(index=0, block=Thinking(redacted=REDACTED, origin="anthropic")),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="It is sunny, 18C."),
        BlockStop(index=1),
        UsageUpdate(usage=Usage(input=3100, output=120)),
        Finish(stop_reason="end_turn"),
    ],
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.sse")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_to_canonical(name: str) -> None:
    assert read_stream([fixture(name)]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_split_gives_the_same_events(name: str) -> None:
    stream = fixture(name)
    whole = EXPECTED[name]
    for i in range(len(stream) + 1):
        assert read_stream([stream[:i], stream[i:]]) == whole, f"split at {i}"
    assert read_stream([stream[i : i + 1] for i in range(len(stream))]) == whole


def test_nothing_after_message_stop_or_error() -> None:
    reader = ToCanonical()
    reader.feed("error", b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}')
    assert reader.feed("message_start", b'{"type":"message_start","message":{"id":"x","model":"m"}}') == []
    assert reader.finish() == []


def test_events_named_only_in_the_data_and_unreadable_data() -> None:
    reader = ToCanonical()
    assert reader.feed(None, b'{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{}}}') == [
        Start(id="msg_1", model="m")  # all-zero usage at the start: not known yet
    ]
    assert reader.feed("ping", b'{"type": "ping"}') == []
    assert reader.feed("future_event", b'{"type":"future_event"}') == []
    [failure] = reader.feed("content_block_delta", b"{not json")
    assert isinstance(failure, Failure) and failure.status == 502


def test_message_stop_without_message_delta_still_finishes() -> None:
    reader = ToCanonical()
    reader.feed("message_start", b'{"type":"message_start","message":{"id":"msg_1","model":"m"}}')
    reader.feed(
        "content_block_start", b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
    )
    assert reader.feed("message_stop", b'{"type":"message_stop"}') == [BlockStop(index=0), Finish(stop_reason=None)]
    assert reader.finish() == []


def test_tool_input_sent_whole_in_the_start_block() -> None:
    reader = ToCanonical()
    block = b'{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}'
    start = b'{"type":"content_block_start","index":0,"content_block":' + block + b"}"
    assert reader.feed("content_block_start", start) == [
        BlockStart(index=0, block=ToolUse(id="t1", name="f", input=NO_INPUT)),
        ToolInputDelta(index=0, partial_json='{"a":1}'),
    ]


# ---- FromCanonical ----


def write(events: list[StreamEvent], usage: Usage, cost: int | None = None, model: str = "claude-x") -> bytes:
    writer = FromCanonical(model)
    return b"".join(writer.feed(ev) for ev in events) + writer.finish(usage, cost)


def final_usage(events: list[StreamEvent]) -> Usage:
    return next(ev.usage for ev in reversed(events) if isinstance(ev, UsageUpdate))


@pytest.mark.parametrize("name", ["text.sse", "thinking_tool.sse", "server_tool_crlf.sse"])
def test_round_trip_through_the_client_stream(name: str) -> None:
    events = EXPECTED[name]
    body = write(events, final_usage(events), model=events[0].model if isinstance(events[0], Start) else "")
    assert read_stream([body]) == events


def test_every_event_is_named_and_one_line_of_json() -> None:
    body = write(EXPECTED["thinking_tool.sse"], Usage(input=10, output=5))
    blocks = body.split(b"\n\n")
    assert blocks[-1] == b"" and all(b.count(b"\n") == 1 for b in blocks[:-1])
    names = [name for name, _ in frames(body)]
    assert None not in names
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert [data["type"] for _, data in frames(body)] == names


def test_the_sdk_rebuilds_the_message() -> None:
    events = EXPECTED["thinking_tool.sse"]
    usage = Usage(input=10472, cached=8000, output=89, reasoning=31, cache_write=2000)
    message = sdk_stream(write(events, usage, cost=987_654))
    thinking, text, use = message.content
    assert thinking.thinking == "The user wants the weather in Paris. I should call get_weather."
    assert thinking.signature == SIGNATURE
    assert text.text == "Checking the weather."
    assert (use.id, use.name, use.input) == (
        "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        "get_weather",
        {"city": "Paris", "unit": "celsius"},
    )
    assert message.stop_reason == "tool_use" and message.model == "claude-x"
    assert message.usage.input_tokens == 472  # uncached only, as Anthropic counts
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (8000, 2000)
    assert message.usage.output_tokens == 89


def test_stream_from_an_upstream_that_counts_usage_at_the_end() -> None:
    events: list[StreamEvent] = [
        Start(id="chatcmpl-7", model="deepseek-reasoner"),
        BlockStart(index=0, block=Thinking(origin="openai_chat")),
        ThinkingDelta(index=0, text="2+2 is 4."),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="4"),
        Finish(stop_reason="end_turn"),  # no BlockStop for the text: finish() closes it
        UsageUpdate(usage=Usage(input=20, output=9, reasoning=6)),
    ]
    body = write(events, Usage(input=20, output=9, reasoning=6), cost=42)
    data = [d for _, d in frames(body)]
    assert data[0]["message"]["id"] == "msg_chatcmpl-7"
    assert data[0]["message"]["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    assert data[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 9,
            "output_tokens_details": {"thinking_tokens": 6},
            "cost_microcents": 42,
            "cost": 4.2e-7,
        },
    }
    message = sdk_stream(body)
    assert message.content[0].type == "thinking" and message.content[0].thinking == "2+2 is 4."
    assert message.content[0].signature == "weir:v1:openai_chat:"  # so Claude Code keeps it, and we know it on replay
    assert message.content[1].text == "4"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 9)
    replay = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [b.to_dict() for b in message.content]},
        ],
    }
    back = request_to_canonical(json.dumps(replay).encode()).messages[1].content
    assert back == [Thinking(text="2+2 is 4.", origin="openai_chat"), Text(text="4")]


def test_foreign_tool_ids_sanitized_and_stop_reason_fixed() -> None:
    events: list[StreamEvent] = [
        Start(id="c1", model="kimi"),
        BlockStart(index=0, block=ToolUse(id="functions.Read:0", name="Read", input=NO_INPUT)),
        ToolInputDelta(index=0, partial_json='{"path"'),
        ToolInputDelta(index=0, partial_json=': "a.py"}'),
        BlockStop(index=0),
        BlockStart(index=1, block=ToolUse(id="functions.Bash:1", name="Bash", input=NO_INPUT)),  # no arguments
        BlockStop(index=1),
        Finish(stop_reason="end_turn"),
    ]
    message = sdk_stream(write(events, Usage(input=5, output=5)))
    read, bash = message.content
    assert read.id.startswith("functions_Read_0_") and read.input == {"path": "a.py"}
    assert bash.id.startswith("functions_Bash_1_") and bash.input == {}
    assert message.stop_reason == "tool_use"
    deltas = [d for _, d in frames(write(events, Usage())) if d["type"] == "content_block_delta"]
    assert [d["index"] for d in deltas] == [0, 0]  # the argument-less call sent no input_json_delta


def test_custom_tool_input_is_wrapped() -> None:
    events: list[StreamEvent] = [
        BlockStart(index=0, block=ToolUse(id="call_1", name="apply_patch", input=NO_INPUT, kind="custom")),
        ToolInputDelta(index=0, partial_json="*** Begin Patch\n"),
        ToolInputDelta(index=0, partial_json='*** "quoted"'),
        BlockStop(index=0),
    ]
    message = sdk_stream(write(events, Usage()))
    assert message.content[0].input == {"input": '*** Begin Patch\n*** "quoted"'}


def test_no_blocks_is_still_a_valid_stream() -> None:
    body = write([], Usage(input=3, output=0))
    assert [name for name, _ in frames(body)] == ["message_start", "message_delta", "message_stop"]
    message = sdk_stream(body)
    assert message.content == [] and message.stop_reason == "end_turn" and message.usage.input_tokens == 3


def test_failure_becomes_an_error_event_the_sdk_raises() -> None:
    anthropic = pytest.importorskip("anthropic")
    writer = FromCanonical("claude-x")
    body = writer.feed(Start(id="msg_1", model="m")) + writer.feed(BlockStart(index=0, block=Text(text="")))
    body += writer.feed(TextDelta(index=0, text="Once"))
    error = writer.feed(Failure(status=529, type="overloaded_error", message="Overloaded"))
    assert (
        error == b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    assert writer.finish(Usage(), None) == b"" and writer.ping() == b""
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk_stream(body + error)
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    foreign = FromCanonical("m").feed(Failure(status=503, type="server_error", message="down"))
    assert json.loads(foreign.split(b"data: ")[1])["error"]["type"] == "api_error"


def test_failure_round_trips() -> None:
    events: list[StreamEvent] = [
        Start(id="msg_1", model="m", usage=Usage(input=12, output=1)),
        Failure(status=429, type="rate_limit_error", message="Too many tokens"),
    ]
    body = b"".join(FromCanonical("m").feed(ev) for ev in events)
    assert read_stream([body]) == events


def test_ping() -> None:
    assert FromCanonical("m").ping() == PING == b'event: ping\ndata: {"type": "ping"}\n\n'


def test_blocks_never_interleave_and_late_stops_are_ignored() -> None:
    events: list[StreamEvent] = [
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="a"),
        BlockStart(index=1, block=ToolUse(id="t", name="f", input=NO_INPUT)),  # opened while 0 is still open
        BlockStop(index=0),
        ToolInputDelta(index=1, partial_json="{}"),
        BlockStop(index=1),
    ]
    names = [(name, data.get("index")) for name, data in frames(write(events, Usage()))]
    assert names == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]


def test_anthropic_redacted_and_foreign_encrypted_thinking() -> None:
    events: list[StreamEvent] = [
        BlockStart(index=0, block=Thinking(redacted="gAAAA", origin="openai_responses")),  # not for clients
        BlockStop(index=0),
        BlockStart(index=1, block=Thinking(redacted=REDACTED, origin="anthropic")),
        BlockStop(index=1),
        BlockStart(index=2, block=Thinking(origin="gemini")),
        ThinkingDelta(index=2, text="plan"),
        SignatureDelta(index=2, signature="CiQB"),
        BlockStop(index=2),
    ]
    message = sdk_stream(write(events, Usage()))
    assert [b.type for b in message.content] == ["redacted_thinking", "thinking"]
    assert message.content[0].data == REDACTED
    assert (message.content[1].thinking, message.content[1].signature) == ("plan", "weir:v1:gemini:CiQB")


def test_tool_input_raw_is_no_input() -> None:
    assert NO_INPUT == msgspec.Raw(b"{}")
