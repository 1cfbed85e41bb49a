"""StreamTap("anthropic_messages") and anthropic_usage, against recorded streams and a plain-Python reference.

Besides the recorded streams as they are, each is also read in two variants made from it: without its `event:`
lines (the tap then goes by the JSON "type"), and with a comment and a ping between message_delta and message_stop
(blocks after the usage event are held).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir._native import StreamTap, anthropic_usage

from .streams import Usage5, fixtures, reference_anthropic_tap, reference_anthropic_usage
from .test_sse import split_at

RECORDED = fixtures("anthropic_messages")

_EVENT_LINE = re.compile(rb"^event:[^\r\n]*(\r\n|\r|\n)", re.MULTILINE)


def without_event_lines(stream: bytes) -> bytes:
    return _EVENT_LINE.sub(b"", stream)


def eol_of(stream: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in stream else b"\n"


def with_blocks_after_the_usage(stream: bytes) -> bytes:
    eol = eol_of(stream)
    at = stream.find(b"event: message_stop")
    assert at > 0
    extra = b": keep-alive" + eol + eol + b"event: ping" + eol + b'data: {"type": "ping"}' + eol + eol
    return stream[:at] + extra + stream[at:]


STREAMS: list[tuple[str, bytes]] = [
    *RECORDED,
    *((f"{name}-no_event_lines", without_event_lines(stream)) for name, stream in RECORDED),
    *(
        (f"{name}-held_after_usage", with_blocks_after_the_usage(stream))
        for name, stream in RECORDED
        if b"event: message_stop" in stream
    ),
]
IDS = [name for name, _ in STREAMS]
CASES = [stream for _, stream in STREAMS]

Outcome = tuple[bytes, Usage5 | None, bytes | None, bytes, bool, int]


def tap_all(chunks: list[bytes]) -> Outcome:
    tap = StreamTap("anthropic_messages")
    forwarded = b"".join(tap.feed(chunk) for chunk in chunks) + tap.finish()
    return forwarded, tap.usage, tap.usage_data, tap.tail, tap.complete, tap.data_events


def usage_block(stream: bytes, usage_data: bytes) -> bytes:
    """The withheld message_delta block as it was in the stream, made from its data (what a gateway that wanted
    the upstream's own usage event back would write)."""
    eol = eol_of(stream)
    event = b"event: message_delta" + eol if b"event: message_delta" in stream else b""
    return event + b"data: " + usage_data + eol + eol


def reconstruct(stream: bytes, outcome: Outcome) -> bytes:
    forwarded, _, usage_data, tail, _, _ = outcome
    return forwarded + (b"" if usage_data is None else usage_block(stream, usage_data)) + tail


# (input, cached, output, reasoning, cache_write), data events passed on, complete
EXPECTED: dict[str, tuple[Usage5 | None, int, bool]] = {
    # message_start: input 25, cache writes 1200, cache reads 4800; message_delta: output 15.
    "text": ((25 + 4800 + 1200, 4800, 15, 0, 1200), 6, True),
    # message_delta repeats the input counts and adds output_tokens_details.thinking_tokens.
    "thinking_tool": ((472, 0, 89, 31, 0), 15, True),
    "server_tool_crlf": ((3100, 0, 120, 0, 0), 12, True),
    # Cut short: the counts of message_start only, and never complete.
    "error_midstream": ((12, 0, 1, 0, 0), 4, False),
    "truncated": ((9, 0, 1, 0, 0), 4, False),
}


def test_every_recording_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(name for name, _ in RECORDED)


@pytest.mark.parametrize(("name", "stream"), STREAMS, ids=IDS)
def test_usage_counts_and_completeness(name: str, stream: bytes) -> None:
    _, usage, usage_data, tail, complete, data_events = tap_all([stream])
    base, _, variant = name.partition("-")
    want_usage, want_events, want_complete = EXPECTED[base]
    assert usage == want_usage
    assert usage == reference_anthropic_usage(stream)
    assert complete == want_complete
    assert data_events == want_events + (variant == "held_after_usage")  # the extra ping
    assert (usage_data is not None) == want_complete  # message_delta comes just before message_stop
    assert tail.endswith(b'message_stop"}' + eol_of(stream) * 2) == want_complete


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_matches_the_reference(stream: bytes) -> None:
    forwarded, _, usage_data, tail, complete, data_events = tap_all([stream])
    ref = reference_anthropic_tap(stream)
    assert forwarded == ref.forwarded
    assert usage_data == ref.usage_data
    assert tail == ref.tail
    assert complete == ref.complete
    assert data_events == ref.data_events


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_forwarded_usage_and_tail_reconstruct_the_input(stream: bytes) -> None:
    outcome = tap_all([stream])
    forwarded, _, usage_data, tail, _, _ = outcome
    assert reconstruct(stream, outcome) == stream
    if usage_data is not None:
        event = json.loads(usage_data)
        assert event["type"] == "message_delta"
        # Held: the usage event and everything after it, and nothing before it.
        assert b"message_delta" not in forwarded and b"message_delta" not in tail


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_every_split_gives_the_same_result(stream: bytes) -> None:
    whole = tap_all([stream])
    for i in range(len(stream) + 1):
        split = tap_all([stream[:i], stream[i:]])
        assert split == whole, f"split at {i}"
        assert reconstruct(stream, split) == stream, f"split at {i}"


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_byte_by_byte(stream: bytes) -> None:
    assert tap_all([stream[i : i + 1] for i in range(len(stream))]) == tap_all([stream])


@pytest.mark.parametrize("stream", CASES, ids=IDS)
@settings(max_examples=30, database=None, deadline=None)
@given(data=st.data())
def test_random_splits_give_the_same_result(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert tap_all(split_at(stream, cuts)) == tap_all([stream])


@pytest.mark.parametrize(("name", "stream"), RECORDED, ids=[name for name, _ in RECORDED])
def test_every_prefix_matches_the_reference(name: str, stream: bytes) -> None:
    """A stream cut anywhere: what was passed on, held and read agrees with the reference, and the stream is
    complete only once message_stop's data line has begun (its event name decides, not its data)."""
    stop = stream.find(b'data: {"type":"message_stop"')
    for end in range(len(stream) + 1):
        prefix = stream[:end]
        forwarded, usage, usage_data, tail, complete, data_events = tap_all([prefix])
        ref = reference_anthropic_tap(prefix)
        assert (forwarded, usage_data, tail, complete, data_events) == (
            ref.forwarded,
            ref.usage_data,
            ref.tail,
            ref.complete,
            ref.data_events,
        ), f"cut at {end}"
        assert usage == reference_anthropic_usage(prefix), f"cut at {end}"
        assert complete == (stop >= 0 and end >= stop + len(b"data")), f"cut at {end}"
        rebuilt = forwarded + (b"" if usage_data is None else usage_block(prefix, usage_data)) + tail
        # A message_delta cut before its blank line is rebuilt with it.
        assert rebuilt == prefix or (tail == b"" and rebuilt.startswith(prefix)), f"cut at {end}"


def test_message_delta_is_held_and_the_rest_passes() -> None:
    stream = dict(RECORDED)["text"]
    tap = StreamTap("anthropic_messages")
    forwarded = tap.feed(stream) + tap.finish()
    delta_at = stream.index(b"event: message_delta")
    assert forwarded == stream[:delta_at]
    assert tap.usage_data == (
        b'{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}'
    )
    assert tap.tail == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert tap.complete


def test_pings_and_errors_are_forwarded() -> None:
    tap = StreamTap("anthropic_messages")
    ping = b'event: ping\ndata: {"type": "ping"}\n\n'
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    assert tap.feed(ping) == ping
    assert tap.feed(error) == error
    assert tap.finish() == b""
    assert tap.usage is None and tap.usage_data is None
    assert tap.tail == b"" and not tap.complete
    assert tap.data_events == 2


def test_usage_counted_only_at_the_end() -> None:
    """An Anthropic-compatible translator in front of an OpenAI upstream: zero input in message_start, the real
    counts, cache included, in message_delta; no event lines."""
    stream = (
        b'data: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":0,"output_tokens":0}}}\n\n'
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'data: {"type":"content_block_stop","index":0}\n\n'
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":20,'
        b'"cache_read_input_tokens":300,"cache_creation_input_tokens":50,"output_tokens":7}}\n\n'
        b'data: {"type":"message_stop"}\n\n'
    )
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([stream])
    assert usage == (370, 300, 7, 0, 50)
    assert usage == reference_anthropic_usage(stream)
    assert complete and data_events == 4
    assert tail == b'data: {"type":"message_stop"}\n\n'
    assert forwarded + b"data: " + (usage_data or b"") + b"\n\n" + tail == stream


def test_several_message_deltas() -> None:
    """Held from the first; usage_data is the last one's; the usage merges them all."""
    first = b'{"type":"message_delta","usage":{"input_tokens":5,"output_tokens":1}}'
    last = b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}'
    stream = (
        b"event: message_delta\ndata: " + first + b"\n\n"
        b'event: ping\ndata: {"type": "ping"}\n\n'
        b"event: message_delta\ndata: " + last + b"\n\n"
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([stream])
    assert forwarded == b""
    assert usage_data == last
    assert usage == (5, 0, 9, 0, 0)
    assert tail == b'event: ping\ndata: {"type": "ping"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert complete and data_events == 1


def test_a_message_delta_that_is_not_json_is_forwarded() -> None:
    block = b"event: message_delta\ndata: {oops\n\n"
    forwarded, usage, usage_data, tail, complete, _ = tap_all([block])
    assert forwarded == block
    assert usage is None and usage_data is None and tail == b"" and not complete


def test_event_names_come_before_the_json_type() -> None:
    # The SSE event name decides; the data is not looked at for a ping.
    stream = b'event: ping\ndata: {"type":"message_stop"}\n\n'
    assert tap_all([stream]) == (stream, None, None, b"", False, 1)


BODY = b"""{
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
  "content": [
    {"type": "text", "text": "Your \\"usage\\": {\\"input_tokens\\": 1} is fine"},
    {"type": "tool_use", "id": "toolu_01", "name": "report",
     "input": {"usage": {"input_tokens": 99, "output_tokens": 99}, "type": "message_stop"}}
  ],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {
    "input_tokens": 120, "cache_creation_input_tokens": 2048, "cache_read_input_tokens": 10240,
    "cache_creation": {"ephemeral_5m_input_tokens": 2048, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 503, "service_tier": "standard"
  }
}"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BODY, (120 + 10240 + 2048, 10240, 503, 0, 2048)),
        (b'{"usage":{"input_tokens":10,"output_tokens":2}}', (10, 0, 2, 0, 0)),
        (
            b'{"usage":{"input_tokens":10,"cache_read_input_tokens":null,"cache_creation_input_tokens":null,'
            b'"output_tokens":3}}',
            (10, 0, 3, 0, 0),
        ),
        (
            b'{"usage":{"input_tokens":4,"output_tokens":9,"output_tokens_details":{"thinking_tokens":6}}}',
            (4, 0, 9, 6, 0),
        ),
        (b'{"content":[{"type":"tool_use","input":{"usage":{"input_tokens":5}}}]}', None),
        (b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', None),
        (b'{"id":"x","usage":null}', None),
        (b'{"usage":{}}', None),
        (b'{"content":[{"type":"text","text":"\\"usage\\": {\\"input_tokens\\": 3}"}]}', None),
        (b"", None),
        (b"not json", None),
        (b'[{"usage":{"input_tokens":1}}]', None),
    ],
)
def test_anthropic_usage(body: bytes, expected: Usage5 | None) -> None:
    assert anthropic_usage(body) == expected


def test_anthropic_usage_agrees_with_json() -> None:
    usage = json.loads(BODY)["usage"]
    cached, written = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
    assert anthropic_usage(BODY) == (
        usage["input_tokens"] + cached + written,
        cached,
        usage["output_tokens"],
        0,
        written,
    )
