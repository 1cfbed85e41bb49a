"""Recorded OpenAI chat streams, and the ways the tests read and write them.

The top-level `tests/fixtures/openai_chat/*.sse` files are shared with tests/native (which expects exactly that
set); the streams only these tests use live in `streams/` next to them.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
from openai import OpenAI, Stream
from openai.types.chat import ChatCompletionChunk

from weir._native import SseFramer
from weir.canonical.stream import StreamEvent, UsageUpdate
from weir.canonical.usage import Usage
from weir.dialects.openai_chat.stream import FromCanonical, ToCanonical

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openai_chat"


def recorded() -> list[tuple[str, bytes]]:
    paths = sorted(FIXTURES.glob("*.sse")) + sorted((FIXTURES / "streams").glob("*.sse"))
    assert paths, f"no fixtures under {FIXTURES}"
    return [(path.stem, path.read_bytes()) for path in paths]


def read(name: str) -> bytes:
    return dict(recorded())[name]


def to_canonical(chunks: list[bytes]) -> list[StreamEvent]:
    """Upstream bytes, as they arrive in `chunks`, -> canonical events (framed by the native SseFramer)."""
    framer = SseFramer()
    reader = ToCanonical()
    out: list[StreamEvent] = []
    for chunk in chunks:
        for event, data in framer.feed(chunk):
            out += reader.feed(event, data)
    for event, data in framer.finish():
        out += reader.feed(event, data)
    return out + reader.finish()


def from_canonical(
    events: list[StreamEvent],
    *,
    model: str = "gpt-4o-mini",
    include_usage: bool = True,
    usage: Usage | None = None,
    cost_microcents: int | None = None,
) -> bytes:
    """Canonical events -> client bytes; the final usage is the last UsageUpdate's unless given."""
    writer = FromCanonical(model, include_usage)
    body = b"".join(writer.feed(ev) for ev in events)
    if usage is None:
        usage = next((ev.usage for ev in reversed(events) if isinstance(ev, UsageUpdate)), Usage())
    return body + writer.finish(usage, cost_microcents)


def sdk_chunks(body: bytes) -> list[ChatCompletionChunk]:
    """What the official openai SDK's stream parser makes of `body` (it raises APIError on an error chunk)."""
    client = OpenAI(api_key="test", base_url="http://weir.invalid/v1", max_retries=0)
    request = httpx2.Request("POST", "http://weir.invalid/v1/chat/completions")
    response = httpx2.Response(200, content=body, request=request, headers={"content-type": "text/event-stream"})
    with client:
        return list(Stream(cast_to=ChatCompletionChunk, response=response, client=client))


def data_lines(body: bytes) -> list[bytes]:
    """The payload of every event, checking each event is exactly one `data: ` line."""
    assert body.endswith(b"\n\n")
    events = body[:-2].split(b"\n\n")
    for event in events:
        assert event.startswith(b"data: ") and b"\n" not in event, event
    return [event[6:] for event in events]
