"""StreamTap("openai_responses") and responses_usage, against recorded streams and a plain-Python reference.

The Responses stream ends with one lifecycle event that carries the whole response: `response.completed` (or
`response.incomplete`) is both the usage event and the terminal one, so it is withheld as `usage_data` and the stream
is complete; `response.failed` and `error` are terminal and held raw in `tail`. Besides the recordings as they are,
each is read in three variants made from it: without its `event:` lines (the JSON "type" decides, as it does for
Codex), with CRLF line ends, and with a comment and a stray `[DONE]` after the last event (held in the tail).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir._native import StreamTap, responses_usage

from .streams import FIXTURES, RefTap, Usage5, _Holder, fixtures, reference_blocks
from .test_sse import split_at

RECORDED = fixtures("openai_responses")

_EVENT_LINE = re.compile(rb"^event:[^\r\n]*(\r\n|\r|\n)", re.MULTILINE)
LAST_USAGE = ("response.completed", "response.incomplete")
TERMINAL = ("response.failed", "error")


def without_event_lines(stream: bytes) -> bytes:
    return _EVENT_LINE.sub(b"", stream)


def with_crlf(stream: bytes) -> bytes:
    return stream.replace(b"\n", b"\r\n")  # JSON strings hold escaped newlines only


def with_blocks_after_the_end(stream: bytes) -> bytes:
    return stream + b": keep-alive\n\ndata: [DONE]\n\n"


def ends(stream: bytes) -> bool:
    return any(f"event: {kind}".encode() in stream for kind in LAST_USAGE + TERMINAL)


STREAMS: list[tuple[str, bytes]] = [
    *RECORDED,
    *((f"{name}-no_event_lines", without_event_lines(stream)) for name, stream in RECORDED),
    *((f"{name}-crlf", with_crlf(stream)) for name, stream in RECORDED),
    *((f"{name}-after_end", with_blocks_after_the_end(stream)) for name, stream in RECORDED if ends(stream)),
]
IDS = [name for name, _ in STREAMS]
CASES = [stream for _, stream in STREAMS]

Outcome = tuple[bytes, Usage5 | None, bytes | None, bytes, bool, int]


def tap_all(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> Outcome:
    tap = StreamTap("openai_responses", max_line_bytes)
    forwarded = b"".join(tap.feed(chunk) for chunk in chunks) + tap.finish()
    return forwarded, tap.usage, tap.usage_data, tap.tail, tap.complete, tap.data_events


def json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def kind_of(event: dict[str, Any] | None, name: str | None) -> str | None:
    kind = (event or {}).get("type")
    return kind if isinstance(kind, str) else name


def canonical(usage: Any) -> Usage5 | None:
    """The converter's reading (weir.dialects.openai_responses.response.usage_to_canonical), in the tuple form."""
    if not isinstance(usage, dict) or ("input_tokens" not in usage and "output_tokens" not in usage):
        return None
    details = usage.get("input_tokens_details") or {}
    output = usage.get("output_tokens_details") or {}
    return (
        usage.get("input_tokens") or 0,
        details.get("cached_tokens") or 0,
        usage.get("output_tokens") or 0,
        output.get("reasoning_tokens") or 0,
        details.get("cache_write_tokens") or 0,
    )


def reference_tap(stream: bytes) -> tuple[RefTap, Usage5 | None]:
    """Every block passes until the last event; a last event counts only when its data is a whole JSON object."""
    tap = _Holder()
    usage: Usage5 | None = None
    for block in reference_blocks(stream):
        if block.data is None:
            tap.passed(block)
            continue
        event = json_object(block.data)
        kind = kind_of(event, block.event)
        if event is None or kind not in LAST_USAGE + TERMINAL:
            tap.passed(block)
            continue
        usage = canonical((event.get("response") or {}).get("usage")) or usage
        if kind in LAST_USAGE:
            tap.usage(block)
            tap.complete = True
        else:
            tap.terminal(block)
    return tap.result(), usage


# (input, cached, output, reasoning, cache_write), data events passed on, complete
EXPECTED: dict[str, tuple[Usage5 | None, int, bool]] = {
    "text": ((1830, 1536, 19, 0, 0), 10, True),
    "function_call": ((2410, 0, 24, 0, 0), 9, True),
    "custom_tool": ((7000, 6912, 95, 64, 0), 15, True),
    "reasoning_text": ((5120, 4096, 310, 256, 0), 21, True),
    # Cut at max_output_tokens: response.incomplete carries the usage like response.completed.
    "incomplete": ((12, 0, 16, 0, 0), 9, True),
    # response.failed with "usage": null: complete (the upstream said how it ended), no usage.
    "failed": (None, 5, True),
    # Cut inside a delta: the broken last block is passed on as it is, and the stream is not complete.
    "truncated": (None, 7, False),
}


def test_every_recording_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(name for name, _ in RECORDED)


@pytest.mark.parametrize(("name", "stream"), STREAMS, ids=IDS)
def test_usage_counts_and_completeness(name: str, stream: bytes) -> None:
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([stream])
    base, _, variant = name.partition("-")
    want_usage, want_events, want_complete = EXPECTED[base]
    assert usage == want_usage
    assert complete == want_complete
    assert data_events == want_events + (variant == "after_end")  # the stray [DONE], held
    if base == "failed":
        assert usage_data is None
        assert json.loads(reference_blocks(tail)[0].data or b"")["type"] == "response.failed"
    elif want_complete:
        assert usage_data is not None
        assert json.loads(usage_data)["type"] in LAST_USAGE
        assert tail == (b": keep-alive\n\ndata: [DONE]\n\n" if variant == "after_end" else b"")
    else:
        assert (usage_data, tail, forwarded) == (None, b"", stream)


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_matches_the_reference(stream: bytes) -> None:
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([stream])
    ref, ref_usage = reference_tap(stream)
    assert (forwarded, usage_data, tail, complete, data_events) == (
        ref.forwarded,
        ref.usage_data,
        ref.tail,
        ref.complete,
        ref.data_events,
    )
    assert usage == ref_usage


def withheld_block(stream: bytes, outcome: Outcome) -> bytes:
    """The bytes between what was forwarded and the tail: the withheld usage event's block, or nothing."""
    forwarded, _, _, tail, _, _ = outcome
    assert stream.startswith(forwarded) and stream.endswith(tail)
    return stream[len(forwarded) : len(stream) - len(tail)]


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_forwarded_usage_and_tail_make_up_the_input(stream: bytes) -> None:
    outcome = tap_all([stream])
    forwarded, _, usage_data, tail, _, _ = outcome
    middle = withheld_block(stream, outcome)
    if usage_data is None:
        assert middle == b""
    else:
        blocks = reference_blocks(middle)
        assert [block.data for block in blocks] == [usage_data]
        # Held: the terminal event and everything after it; nothing of it was forwarded.
        assert b'"type":"response.completed"' not in forwarded + tail
        assert b'"type":"response.incomplete"' not in forwarded + tail


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_every_split_gives_the_same_result(stream: bytes) -> None:
    whole = tap_all([stream])
    for i in range(len(stream) + 1):
        assert tap_all([stream[:i], stream[i:]]) == whole, f"split at {i}"


@pytest.mark.parametrize("stream", [s for name, s in RECORDED if name in ("text", "failed")])
def test_byte_by_byte(stream: bytes) -> None:
    assert tap_all([stream[i : i + 1] for i in range(len(stream))]) == tap_all([stream])


@pytest.mark.parametrize("stream", CASES, ids=IDS)
@settings(max_examples=25, database=None, deadline=None)
@given(data=st.data())
def test_random_splits_give_the_same_result(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40))
    assert tap_all(split_at(stream, cuts)) == tap_all([stream])


@pytest.mark.parametrize(("name", "stream"), RECORDED, ids=[name for name, _ in RECORDED])
def test_every_prefix_matches_the_reference(name: str, stream: bytes) -> None:
    """A stream cut anywhere: what was passed on, held and read agrees with the reference, and the stream is
    complete only once the whole of its last event's JSON has arrived (a last event cut short ends nothing)."""
    last = max(stream.rfind(f'data: {{"type":"{kind}"'.encode()) for kind in LAST_USAGE + TERMINAL)
    last_end = -1 if last < 0 else stream.index(b"\n", last)  # the end of its data line
    for end in range(len(stream) + 1):
        prefix = stream[:end]
        forwarded, usage, usage_data, tail, complete, data_events = tap_all([prefix])
        ref, ref_usage = reference_tap(prefix)
        assert (forwarded, usage_data, tail, complete, data_events) == (
            ref.forwarded,
            ref.usage_data,
            ref.tail,
            ref.complete,
            ref.data_events,
        ), f"cut at {end}"
        assert usage == ref_usage, f"cut at {end}"
        assert complete == (last >= 0 and end >= last_end), f"cut at {end}"


def test_a_truncated_stream_is_passed_on_whole_and_not_complete() -> None:
    stream = dict(RECORDED)["text"]
    cut = stream.index(b"event: response.completed") + 60  # inside the data line
    tap = StreamTap("openai_responses")
    forwarded = tap.feed(stream[:cut]) + tap.finish()
    assert forwarded == stream[:cut]
    assert (tap.usage, tap.usage_data, tap.tail, tap.complete) == (None, None, b"", False)


def test_completed_is_held_and_the_rest_passes() -> None:
    stream = dict(RECORDED)["function_call"]
    tap = StreamTap("openai_responses")
    forwarded = tap.feed(stream) + tap.finish()
    at = stream.index(b"event: response.completed")
    assert forwarded == stream[:at]
    assert b": keep-alive\n\n" in forwarded
    assert tap.usage_data is not None
    completed = json.loads(tap.usage_data)
    assert completed["response"]["id"] == "resp_68f2c0ffee0011223344556677889900"
    assert stream[at:] == b"event: response.completed\ndata: " + tap.usage_data + b"\n\n"
    assert tap.tail == b""
    assert tap.complete


def test_an_error_event_is_terminal() -> None:
    delta = b'data: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
    error = b'event: error\ndata: {"type":"error","code":"server_error","message":"boom","param":null}\n\n'
    failed = b'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed"}}\n\n'
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([delta + error + failed])
    assert forwarded == delta
    assert (usage, usage_data) == (None, None)
    assert tail == error + failed
    assert complete
    assert data_events == 1


def test_line_cap() -> None:
    stream = dict(RECORDED)["text"]
    longest = max(len(line) for line in stream.splitlines())
    assert tap_all([stream], max_line_bytes=longest) == tap_all([stream])
    tap = StreamTap("openai_responses", max_line_bytes=longest - 1)
    with pytest.raises(ValueError, match=rf"max_line_bytes \({longest - 1} bytes\)"):
        for i in range(0, len(stream), 512):
            tap.feed(stream[i : i + 512])
        tap.finish()


def test_responses_usage_of_a_body() -> None:
    body = (FIXTURES / "openai_responses" / "response.json").read_bytes()
    assert responses_usage(body) == canonical(json.loads(body)["usage"])
    assert responses_usage(body) == (3200, 2048, 450, 320, 64)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"id":"r","output":[{"type":"function_call","arguments":"{}","usage":{"input_tokens":9}}]}', None),
        (b'{"id":"r","usage":null}', None),
        (b'{"usage":{"total_tokens":3}}', None),
        (b'{"usage":[1,2]}', None),
        (b'{"usage":{"input_tokens":"many"}}', None),
        (b"", None),
        (b"[]", None),
        (b'{"usage":{"input_tokens":5}}', (5, 0, 0, 0, 0)),
        (
            b'{"output":[{"content":[{"text":"\\"usage\\": {\\"input_tokens\\": 1}"}]}],'
            b'"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":null},'
            b'"output_tokens":16,"output_tokens_details":{"reasoning_tokens":4}}}',
            (12, 0, 16, 4, 0),
        ),
    ],
)
def test_responses_usage(body: bytes, expected: Usage5 | None) -> None:
    assert responses_usage(body) == expected


@pytest.mark.parametrize(("name", "stream"), RECORDED, ids=[name for name, _ in RECORDED])
def test_responses_usage_of_the_last_event_agrees_with_the_stream(name: str, stream: bytes) -> None:
    """The response a stream ends with, read as a body, has the usage the tap read from the stream."""
    _, usage, usage_data, tail, _, _ = tap_all([stream])
    last = usage_data if usage_data is not None else next((b.data for b in reference_blocks(tail) if b.data), None)
    if last is None:
        assert usage is None
        return
    response = json.dumps(json.loads(last)["response"]).encode()
    assert responses_usage(response) == usage
