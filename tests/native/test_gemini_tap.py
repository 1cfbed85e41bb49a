"""StreamTap("gemini") and gemini_usage, against recorded streams and a plain-Python reference.

A Gemini stream (`streamGenerateContent?alt=sse`) is only `data: <json>` chunks: no event names, no sentinel, and any
chunk may carry the cumulative `usageMetadata`. So the tap holds nothing back (every chunk is passed on as it arrives,
`usage_data` stays None and `tail` empty), reads the last usage seen, and calls the stream complete once a whole chunk
ends a candidate (`finishReason`), blocks the prompt, or is an error. Besides the recordings as they are (CRLF, as
Google sends them), each is read with LF line ends, and, when it finishes, with a usage-only chunk after its last one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir._native import StreamTap, gemini_usage

from .streams import Usage5, fixtures, reference_blocks
from .test_sse import split_at

RECORDED = fixtures("gemini")

LATE_USAGE = (
    b'data: {"usageMetadata": {"promptTokenCount": 30,"candidatesTokenCount": 7,"thoughtsTokenCount": 5}}\r\n\r\n'
)


def with_lf(stream: bytes) -> bytes:
    return stream.replace(b"\r\n", b"\n")


STREAMS: list[tuple[str, bytes]] = [
    *RECORDED,
    *((f"{name}-lf", with_lf(stream)) for name, stream in RECORDED),
    *((f"{name}-late_usage", stream + LATE_USAGE) for name, stream in RECORDED if b"finishReason" in stream),
]
IDS = [name for name, _ in STREAMS]
CASES = [stream for _, stream in STREAMS]

Outcome = tuple[bytes, Usage5 | None, bytes | None, bytes, bool, int]


def tap_all(chunks: list[bytes], max_line_bytes: int = 1 << 20) -> Outcome:
    tap = StreamTap("gemini", max_line_bytes)
    forwarded = b"".join(tap.feed(chunk) for chunk in chunks) + tap.finish()
    return forwarded, tap.usage, tap.usage_data, tap.tail, tap.complete, tap.data_events


def json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def canonical(usage: Any) -> Usage5 | None:
    """The converter's reading (weir.dialects.gemini.response.usage_to_canonical), in the tuple form."""
    keys = (
        "promptTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "cachedContentTokenCount",
        "toolUsePromptTokenCount",
        "cacheWriteTokenCount",
    )
    if not isinstance(usage, dict) or all(usage.get(key) is None for key in keys):
        return None
    prompt, candidates, thoughts, cached, tool_use, cache_write = (usage.get(key) or 0 for key in keys)
    return prompt + tool_use, cached, candidates + thoughts, thoughts, cache_write


def is_set(reason: Any, unset: str) -> bool:
    return isinstance(reason, str) and reason not in ("", unset)


def ends_the_stream(chunk: dict[str, Any]) -> bool:
    candidates = chunk.get("candidates")
    if isinstance(candidates, list) and any(
        isinstance(c, dict) and is_set(c.get("finishReason"), "FINISH_REASON_UNSPECIFIED") for c in candidates
    ):
        return True
    feedback = chunk.get("promptFeedback")
    if isinstance(feedback, dict) and is_set(feedback.get("blockReason"), "BLOCK_REASON_UNSPECIFIED"):
        return True
    return isinstance(chunk.get("error"), dict)


def usage_of_a_cut_chunk(data: bytes) -> Usage5 | None:
    """A chunk cut short after its usageMetadata (the stream stopped inside it): the usage object is whole, and
    counts. (The recordings have one usageMetadata key per chunk, at the top level.)"""
    _, key, rest = data.partition(b'"usageMetadata"')
    _, colon, value_on = rest.partition(b":")
    if not (key and colon):
        return None
    value = value_on.decode("utf-8", "replace").lstrip()
    try:
        usage, _ = json.JSONDecoder().raw_decode(value)
    except ValueError:
        return None
    return canonical(usage)


def reference_tap(stream: bytes) -> tuple[Usage5 | None, bool, int]:
    """(the last usage seen, complete, data events) over the whole stream; everything is forwarded. Only a whole
    chunk ends the stream."""
    usage: Usage5 | None = None
    complete = False
    data_events = 0
    for block in reference_blocks(stream):
        if block.data is None:
            continue
        data_events += 1
        chunk = json_object(block.data)
        if chunk is None:
            usage = usage_of_a_cut_chunk(block.data) or usage
            continue
        usage = canonical(chunk.get("usageMetadata")) or usage
        complete |= ends_the_stream(chunk)
    return usage, complete, data_events


# (input, cached, output, reasoning, cache_write), data events, complete
EXPECTED: dict[str, tuple[Usage5 | None, int, bool]] = {
    # promptTokenCount already counts the 2048 cached tokens.
    "text": ((2113, 2048, 15, 0, 0), 2, True),
    # Thoughts are output: candidates 12 + thoughts 80.
    "signed_text": ((11, 0, 92, 80, 0), 3, True),
    # The first chunks report thoughts only; the last one candidates 41 + thoughts 103.
    "thinking_tool": ((412, 0, 144, 103, 0), 4, True),
    # An {"error": ...} chunk ends the stream: complete, with the usage of the chunk before it.
    "error_midstream": ((7, 0, 4, 0, 0), 2, True),
    # No finishReason: cut short.
    "truncated": ((9, 0, 11, 0, 0), 2, False),
}


def test_every_recording_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(name for name, _ in RECORDED)


@pytest.mark.parametrize(("name", "stream"), STREAMS, ids=IDS)
def test_usage_counts_and_completeness(name: str, stream: bytes) -> None:
    forwarded, usage, usage_data, tail, complete, data_events = tap_all([stream])
    base, _, variant = name.partition("-")
    want_usage, want_events, want_complete = EXPECTED[base]
    if variant == "late_usage":
        want_usage, want_events = (30, 0, 12, 5, 0), want_events + 1
    assert usage == want_usage
    assert complete == want_complete
    assert data_events == want_events
    # Nothing is held back.
    assert (forwarded, usage_data, tail) == (stream, None, b"")


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_matches_the_reference(stream: bytes) -> None:
    _, usage, _, _, complete, data_events = tap_all([stream])
    assert (usage, complete, data_events) == reference_tap(stream)


@pytest.mark.parametrize("stream", CASES, ids=IDS)
def test_every_split_gives_the_same_result(stream: bytes) -> None:
    whole = tap_all([stream])
    for i in range(len(stream) + 1):
        assert tap_all([stream[:i], stream[i:]]) == whole, f"split at {i}"


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
    """A stream cut anywhere: whole blocks are passed on as they complete, the usage and completeness agree with the
    reference, and the stream is complete only once the whole of its finishing chunk has arrived."""
    blocks = reference_blocks(stream)
    finishing = [b for b in blocks if b.data is not None and ends_the_stream(json.loads(b.data))]
    # The end of the finishing chunk's JSON: its data line, without the line end.
    done_at = -1 if not finishing else stream.index(finishing[0].raw) + len(finishing[0].raw.rstrip(b"\r\n"))
    for end in range(len(stream) + 1):
        prefix = stream[:end]
        tap = StreamTap("gemini")
        forwarded = tap.feed(prefix)
        assert prefix.startswith(forwarded), f"cut at {end}"
        assert forwarded == b"".join(b.raw for b in reference_blocks(forwarded)), f"cut at {end}"
        forwarded += tap.finish()
        assert forwarded == prefix, f"cut at {end}"
        assert (tap.usage, tap.complete, tap.data_events) == reference_tap(prefix), f"cut at {end}"
        assert tap.complete == (done_at >= 0 and end >= done_at), f"cut at {end}"
        assert (tap.usage_data, tap.tail) == (None, b""), f"cut at {end}"


def test_each_chunk_passes_as_soon_as_it_is_whole() -> None:
    stream = dict(RECORDED)["text"]
    first_end = stream.index(b"\r\n\r\n") + 4
    tap = StreamTap("gemini")
    assert tap.feed(stream[: first_end - 1]) == b""  # the blank line's LF still missing
    assert tap.usage is None
    assert tap.feed(stream[first_end - 1 : first_end]) == stream[:first_end]
    assert tap.usage == (2113, 2048, 4, 0, 0)
    assert not tap.complete
    assert tap.feed(stream[first_end:]) == stream[first_end:]
    assert tap.complete
    assert tap.finish() == b""


def test_a_blocked_prompt_ends_the_stream() -> None:
    blocked = (
        b'data: {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},'
        b'"usageMetadata": {"promptTokenCount": 21,"totalTokenCount": 21}}\r\n\r\n'
    )
    assert tap_all([blocked]) == (blocked, (21, 0, 0, 0, 0), None, b"", True, 1)
    feedback = b'data: {"promptFeedback": {"safetyRatings": []},"candidates": [{"index": 0}]}\r\n\r\n'
    assert tap_all([feedback])[4] is False


def test_a_finish_reason_elsewhere_ends_nothing() -> None:
    call = (
        b'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "set",'
        b'"args": {"finishReason": "STOP"}}}],"role": "model"},"index": 0}]}\r\n\r\n'
    )
    text = b'data: {"candidates": [{"content": {"parts": [{"text": "\\"finishReason\\": \\"STOP\\""}]}}]}\r\n\r\n'
    assert tap_all([call + text])[4] is False


def test_line_cap() -> None:
    stream = dict(RECORDED)["thinking_tool"]
    longest = max(len(line) for line in stream.splitlines())
    assert tap_all([stream], max_line_bytes=longest) == tap_all([stream])
    tap = StreamTap("gemini", max_line_bytes=longest - 1)
    with pytest.raises(ValueError, match=rf"max_line_bytes \({longest - 1} bytes\)"):
        for i in range(0, len(stream), 100):
            tap.feed(stream[i : i + 100])
        tap.finish()


@pytest.mark.parametrize(("name", "stream"), RECORDED, ids=[name for name, _ in RECORDED])
def test_gemini_usage_of_each_chunk(name: str, stream: bytes) -> None:
    """Each chunk is a whole GenerateContentResponse: read as a body, it has the usage its usageMetadata says."""
    for block in reference_blocks(stream):
        if block.data is not None:
            assert gemini_usage(block.data) == canonical(json.loads(block.data).get("usageMetadata"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"candidates": [{"content": {"parts": [{"functionCall": {"name": "log",'
            b'"args": {"usageMetadata": {"promptTokenCount": 1}}}}],"role": "model"},"finishReason": "STOP"}],'
            b'"usageMetadata": {"promptTokenCount": 500,"candidatesTokenCount": 20,"thoughtsTokenCount": 64,'
            b'"cachedContentTokenCount": 256,"toolUsePromptTokenCount": 30,"totalTokenCount": 614}}',
            (530, 256, 84, 64, 0),
        ),
        (b'{"usageMetadata": {"promptTokenCount": 10,"cacheWriteTokenCount": 4}}', (10, 0, 0, 0, 4)),
        (b'{"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": null}}', (9, 0, 0, 0, 0)),
        (b'{"candidates": [],"usageMetadata": null}', None),
        (b'{"usageMetadata": {"totalTokenCount": 3}}', None),
        (b'{"usageMetadata": {"promptTokenCount": "many"}}', None),
        (b'{"candidates": [{"usageMetadata": {"promptTokenCount": 1}}]}', None),
        (b"", None),
        (b"[]", None),
    ],
)
def test_gemini_usage(body: bytes, expected: Usage5 | None) -> None:
    assert gemini_usage(body) == expected
