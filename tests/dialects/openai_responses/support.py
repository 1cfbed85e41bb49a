"""Shared helpers: recorded Responses streams, our SSE output read back, and the official openai SDK over canned
bytes (an httpx2.MockTransport answers every request)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
from openai import OpenAI

from weir._native import SseFramer
from weir.canonical.stream import StreamEvent, UsageUpdate
from weir.canonical.usage import Usage
from weir.dialects.openai_responses.stream import FromCanonical, ToCanonical

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openai_responses"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read_stream(chunks: list[bytes]) -> list[StreamEvent]:
    """Upstream bytes, chunked as given, through SseFramer and ToCanonical."""
    framer, reader = SseFramer(), ToCanonical()
    events: list[StreamEvent] = []
    for chunk in chunks:
        for name, data in framer.feed(chunk):
            events += reader.feed(name, data)
    for name, data in framer.finish():
        events += reader.feed(name, data)
    return events + reader.finish()


def write_stream(
    events: list[StreamEvent], *, model: str = "gpt-5", usage: Usage | None = None, cost: int | None = None
) -> bytes:
    """Canonical events -> client bytes; the final usage is the last UsageUpdate's unless given."""
    writer = FromCanonical(model)
    body = b"".join(writer.feed(ev) for ev in events)
    if usage is None:
        usage = next((ev.usage for ev in reversed(events) if isinstance(ev, UsageUpdate)), Usage())
    return body + writer.finish(usage, cost)


def frames(body: bytes) -> list[tuple[str | None, Any]]:
    """Our SSE output as (event name, parsed JSON) pairs."""
    framer = SseFramer()
    return [(name, json.loads(data)) for name, data in framer.feed(body) + framer.finish()]


def sdk_client(body: bytes, *, status: int = 200, content_type: str = "text/event-stream") -> OpenAI:
    """An openai SDK client whose every request is answered with `body`."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers={"content-type": content_type})

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    return OpenAI(api_key="sk-test", base_url="http://weir.test/v1", http_client=http, max_retries=0)


def sdk_final(body: bytes) -> Any:
    """The SDK's final response after its `.stream()` helper accumulated our stream (`get_final_response()`)."""
    client = sdk_client(body)
    with client.responses.stream(model="gpt-5", input="hi") as stream:
        return stream.get_final_response()


def sdk_events(body: bytes) -> list[Any]:
    """Every event the SDK's `.stream()` helper yields for our stream."""
    client = sdk_client(body)
    with client.responses.stream(model="gpt-5", input="hi") as stream:
        return list(stream)
