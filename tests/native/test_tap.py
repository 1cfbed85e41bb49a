from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir._native import StreamTap, openai_usage

from .streams import fixtures, reference_openai_tap
from .test_sse import split_at

STREAMS = fixtures("openai_chat")
IDS = [name for name, _ in STREAMS]
CASES = [stream for _, stream in STREAMS]

Usage = tuple[int, int, int, int, int]
Outcome = tuple[bytes, Usage | None, bytes | None, bytes, bool, int]


def tap_all(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> Outcome:
    tap = StreamTap("openai_chat", max_line_bytes)
    forwarded = b"".join(tap.feed(chunk) for chunk in chunks) + tap.finish()
    return forwarded, tap.usage, tap.usage_data, tap.tail, tap.complete, tap.data_events


# (input, cached, output, reasoning, cache_write), data events passed on
EXPECTED: dict[str, tuple[Usage | None, int]] = {
    "text_usage": ((1117, 1024, 46, 0, 0), 9),
    "tool_call": ((82, 0, 219, 192, 0), 10),
    "keepalive": ((14, 0, 11, 0, 0), 5),
    "crlf": ((2048, 1920, 5, 0, 0), 5),
    "multiline_event_id": ((31, 0, 9, 0, 0), 4),
    "no_usage": (None, 5),
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(IDS)


@pytest.mark.parametrize(("name", "stream"), STREAMS, ids=IDS)
def test_usage_and_counts(name: str, stream: bytes) -> None:
    _, usage, _, _, complete, data_events = tap_all([stream])
    assert (usage, data_events) == EXPECTED[name]
    assert complete  # every fixture ends with [DONE]


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_matches_the_reference(stream: bytes) -> None:
    forwarded, _, usage_data, tail, complete, data_events = tap_all([stream])
    ref = reference_openai_tap(stream)
    assert forwarded == ref.forwarded
    assert usage_data == ref.usage_data
    assert tail == ref.tail
    assert complete == ref.complete
    assert data_events == ref.data_events


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_every_split_gives_same_result(stream: bytes) -> None:
    whole = tap_all([stream])
    for i in range(len(stream) + 1):
        assert tap_all([stream[:i], stream[i:]]) == whole, f"split at {i}"


@pytest.mark.parametrize("stream", CASES, ids=IDS)
@settings(max_examples=50, database=None, deadline=None)
@given(data=st.data())
def test_random_splits_give_same_result(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    assert tap_all(split_at(stream, cuts)) == tap_all([stream])


def test_withheld_tail_reconstructs_the_input() -> None:
    stream = dict(STREAMS)["text_usage"]
    forwarded, _, usage_data, tail, _, _ = tap_all([stream])
    assert usage_data is not None and tail == b"data: [DONE]\n\n"
    assert forwarded + b"data: " + usage_data + b"\n\n" + tail == stream
    assert json.loads(usage_data)["choices"] == []


def test_blocks_after_the_usage_chunk_are_held() -> None:
    stream = dict(STREAMS)["keepalive"]
    forwarded, _, usage_data, tail, _, _ = tap_all([stream])
    assert usage_data is not None
    usage_block = b"data: " + usage_data + b"\n\n"
    # The keep-alive between the usage chunk and [DONE] is held with [DONE], so it stays after the usage.
    assert tail == b": keep-alive\n\ndata: [DONE]\n\n"
    assert stream == forwarded + usage_block + tail
    assert forwarded.count(b": keep-alive\n\n") == 1


def test_crlf_blocks_keep_their_line_ends() -> None:
    stream = dict(STREAMS)["crlf"]
    forwarded, _, usage_data, tail, _, _ = tap_all([stream])
    assert tail == b"data: [DONE]\r\n\r\n"
    assert forwarded + b"data: " + (usage_data or b"") + b"\r\n\r\n" + tail == stream
    # Azure's prompt-filter chunk has empty choices but no usage: it is forwarded.
    assert forwarded.startswith(b'data: {"choices":[],"created":0')


def test_usage_in_a_content_chunk_is_forwarded() -> None:
    stream = dict(STREAMS)["multiline_event_id"]
    forwarded, usage, usage_data, tail, complete, _ = tap_all([stream])
    assert usage == (31, 0, 9, 0, 0)
    assert usage_data is None
    assert tail == b"data: [DONE]\n"  # the stream ends without its blank line
    assert complete
    assert forwarded + tail == stream


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_a_stream_cut_short_is_not_complete(stream: bytes) -> None:
    cut = stream.rindex(b"data: [DONE]")
    for end in (cut, cut + len(b"data: [DON")):
        forwarded, _, usage_data, tail, complete, _ = tap_all([stream[:end]])
        assert not complete
        assert tail == b"" or usage_data is not None  # held only after a usage chunk
        assert b"[DONE]" not in tail


def test_forwards_whole_blocks_only() -> None:
    tap = StreamTap("openai_chat")
    assert tap.feed(b'data: {"choices":[]}\n') == b""
    assert tap.feed(b"\n: ping\n") == b'data: {"choices":[]}\n\n'
    assert tap.feed(b"\r") == b""
    assert tap.feed(b"\ndata: [DONE]\n\n") == b": ping\n\r\n"
    assert tap.finish() == b""
    assert tap.data_events == 1
    assert tap.usage is None and tap.usage_data is None
    assert tap.tail == b"data: [DONE]\n\n"
    assert tap.complete


def test_nothing_held() -> None:
    tap = StreamTap("openai_chat")
    assert tap.tail == b"" and type(tap.tail) is bytes
    assert not tap.complete


def test_last_usage_wins() -> None:
    tap = StreamTap("openai_chat")
    tap.feed(b'data: {"choices":[{"delta":{}}],"usage":{"prompt_tokens":5,"completion_tokens":1}}\n\n')
    assert tap.usage == (5, 0, 1, 0, 0)
    tap.feed(b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n')
    assert tap.usage == (5, 0, 3, 0, 0)
    assert tap.data_events == 1


def test_several_usage_chunks_keep_the_last() -> None:
    tap = StreamTap("openai_chat")
    first = b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}'
    last = b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}'
    out = tap.feed(b"data: " + first + b"\n\n: between\n\ndata: " + last + b"\n\ndata: [DONE]\n\n")
    assert out == b""
    assert tap.usage_data == last
    assert tap.tail == b": between\n\ndata: [DONE]\n\n"  # the first usage chunk is superseded, not relayed


def test_aligned_chunk_comes_back_as_is() -> None:
    tap = StreamTap("openai_chat")
    chunk = b'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n'
    assert tap.feed(chunk) is chunk
    assert type(tap.feed(b"data: x")) is bytes


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        StreamTap("anthropic")
    with pytest.raises(ValueError, match="unknown dialect"):
        StreamTap("responses")


def test_line_cap() -> None:
    tap = StreamTap("openai_chat", max_line_bytes=32)
    assert tap.feed(b"data: short\n\n") == b"data: short\n\n"
    with pytest.raises(ValueError, match=r"max_line_bytes \(32 bytes\)"):
        tap.feed(b"data: " + b"x" * 27)
    with pytest.raises(ValueError):
        tap.finish()


BODY = b"""{
  "id": "chatcmpl-BX3q1", "object": "chat.completion", "created": 1741570400, "model": "o3-2025-04-16",
  "choices": [{"index": 0, "message": {"role": "assistant",
    "content": "Your \\"usage\\": {\\"prompt_tokens\\": 1} is fine", "refusal": null, "annotations": []},
    "logprobs": null, "finish_reason": "stop"}],
  "usage": {
    "prompt_tokens": 1324, "completion_tokens": 873, "total_tokens": 2197,
    "prompt_tokens_details": {"cached_tokens": 1152, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 640, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default", "system_fingerprint": null
}"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BODY, (1324, 1152, 873, 640, 0)),
        (b'{"usage":{"prompt_tokens":10,"completion_tokens":2}}', (10, 0, 2, 0, 0)),
        (
            b'{"usage":{"prompt_tokens":10,"completion_tokens":null,"prompt_tokens_details":null,'
            b'"completion_tokens_details":{"reasoning_tokens":null}}}',
            (10, 0, 0, 0, 0),
        ),
        (
            b'{"usage" :\n {"completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 0}}}',
            (0, 0, 4, 0, 0),
        ),
        (
            b'{"meta":{"usage":{"plan":"pro"}},"usage":{"prompt_tokens":1,"completion_tokens":1}}',
            (1, 0, 1, 0, 0),
        ),
        (
            b'{"usage":{"prompt_tokens":100,"completion_tokens":1,'
            b'"prompt_tokens_details":{"cached_tokens":50,"cache_write_tokens":40}}}',
            (100, 50, 1, 0, 40),
        ),
        (b'{"id":"x","choices":[]}', None),
        (b'{"id":"x","usage":null}', None),
        (b'{"content":"\\"usage\\": {\\"prompt_tokens\\": 3}"}', None),
        (b"", None),
        (b"not json", None),
    ],
)
def test_openai_usage(body: bytes, expected: Usage | None) -> None:
    assert openai_usage(body) == expected


def test_openai_usage_agrees_with_json() -> None:
    usage = json.loads(BODY)["usage"]
    assert openai_usage(BODY) == (
        usage["prompt_tokens"],
        usage["prompt_tokens_details"]["cached_tokens"],
        usage["completion_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"],
        0,
    )
