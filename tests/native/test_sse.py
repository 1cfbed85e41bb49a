from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir._native import SseFramer

from .streams import fixtures, reference_events

STREAMS = fixtures("openai_chat")
IDS = [name for name, _ in STREAMS]
CASES = [stream for _, stream in STREAMS]

Events = list[tuple[str | None, bytes]]


def decode_all(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> Events:
    framer = SseFramer(max_line_bytes)
    events: Events = []
    for chunk in chunks:
        events += framer.feed(chunk)
    return events + framer.finish()


def split_at(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in pairwise(bounds)]


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_events_match_the_reference(stream: bytes) -> None:
    assert decode_all([stream]) == reference_events(stream)


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_every_split_gives_same_events(stream: bytes) -> None:
    whole = decode_all([stream])
    for i in range(len(stream) + 1):
        assert decode_all([stream[:i], stream[i:]]) == whole, f"split at {i}"


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_byte_by_byte(stream: bytes) -> None:
    assert decode_all([stream[i : i + 1] for i in range(len(stream))]) == decode_all([stream])


@pytest.mark.parametrize("stream", CASES, ids=IDS)
@settings(max_examples=50, database=None, deadline=None)
@given(data=st.data())
def test_random_splits_give_same_events(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert decode_all(split_at(stream, cuts)) == decode_all([stream])


def test_text_stream_events() -> None:
    events = decode_all([dict(STREAMS)["text_usage"]])
    assert len(events) == 11
    assert all(event is None for event, _ in events)
    assert b'"content":"\xc3\xa9 au"' in events[2][1]
    assert events[-2][1].startswith(b'{"id":"chatcmpl-BX3kq9aZ7cHn2mJ4pLr8TtVw1yQeS"')
    assert events[-1] == (None, b"[DONE]")


def test_multiline_data_and_event_lines() -> None:
    events = decode_all([dict(STREAMS)["multiline_event_id"]])
    assert [event for event, _ in events] == ["message", None, None, "message", None]
    assert b',\n"delta":{"content":"multi"}' in events[1][1]
    assert events[-1] == (None, b"[DONE]")


def test_comments_dispatch_nothing() -> None:
    assert decode_all([b": keep-alive\n\n: OPENROUTER PROCESSING\r\n\r\n"]) == []


def test_line_endings() -> None:
    stream = b"data: a\r\rdata: b\n\ndata: c\r\n\r\ndata:d\r\ndata:  e\r\n\n"
    assert decode_all([stream]) == [(None, b"a"), (None, b"b"), (None, b"c"), (None, b"d\n e")]


def test_trailing_cr_waits_for_the_next_byte() -> None:
    framer = SseFramer()
    assert framer.feed(b"data: a\r") == []
    assert framer.feed(b"\n") == []  # CRLF: one line end, not a blank line
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == [(None, b"a")]
    assert framer.feed(b"data: b\r\r") == []
    assert framer.feed(b"x") == [(None, b"b")]


def test_finish_dispatches_a_block_without_blank_line() -> None:
    framer = SseFramer()
    assert framer.feed(b"event: done\ndata: {}\n") == []
    assert framer.finish() == [("done", b"{}")]
    assert framer.finish() == []


def test_field_rules() -> None:
    stream = (
        b"event:\ndata: x\n\n"  # empty event type -> None
        b"event: a\nevent: b\ndata\n\n"  # last event wins; "data" alone is an empty data line
        b"data:\ndata:\n\n"  # two empty data lines -> "\n"
        b"Data: no\nretry: 5\nid: 9\n\n"  # no data line, nothing dispatched
        b"data: \xe2\x82\xac\n\n"
    )
    assert decode_all([stream]) == [(None, b"x"), ("b", b""), (None, b"\n"), (None, "€".encode())]


def test_bom_is_skipped_at_stream_start() -> None:
    assert decode_all([b"\xef\xbb", b"\xbfdata: 1\n\n"]) == [(None, b"1")]


def test_line_cap() -> None:
    assert decode_all([b"data: 1234\n\n"], max_line_bytes=10) == [(None, b"1234")]
    with pytest.raises(ValueError, match=r"max_line_bytes \(10 bytes\)"):
        decode_all([b"data: 12345\n\n"], max_line_bytes=10)
    framer = SseFramer(max_line_bytes=16)
    assert framer.feed(b"data: " + b"x" * 10) == []
    with pytest.raises(ValueError, match="16 bytes"):
        framer.feed(b"y")  # the partial line alone is over the cap
    with pytest.raises(ValueError, match="16 bytes"):
        framer.feed(b"\n\n")


def test_default_cap_is_one_mebibyte() -> None:
    line = b"data: " + b"x" * ((1 << 20) - 6)
    assert decode_all([line, b"\n\n"]) == [(None, b"x" * ((1 << 20) - 6))]
    with pytest.raises(ValueError, match="1048576 bytes"):
        decode_all([line + b"x"])


def test_rejects_str() -> None:
    with pytest.raises(TypeError):
        SseFramer().feed("data: 1\n\n")  # type: ignore[arg-type]
