"""Shared helpers: fixtures, a plain reading of our output, and the official anthropic SDK over canned bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from weir._native import SseFramer
from weir.canonical.stream import StreamEvent
from weir.dialects.anthropic_messages.stream import ToCanonical

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic_messages"


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


def frames(body: bytes) -> list[tuple[str | None, Any]]:
    """Our SSE output as (event name, parsed JSON) pairs."""
    framer = SseFramer()
    return [(name, json.loads(data)) for name, data in framer.feed(body) + framer.finish()]


def sdk_client(body: bytes, *, status: int = 200, content_type: str = "text/event-stream") -> Any:
    """An anthropic SDK client whose every request is answered with `body`."""
    anthropic = pytest.importorskip("anthropic")
    httpx2 = pytest.importorskip("httpx2")

    def answer(request: Any) -> Any:
        return httpx2.Response(status, content=body, headers={"content-type": content_type})

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    return anthropic.Anthropic(api_key="sk-test", base_url="http://weir.test", http_client=http, max_retries=0)


def sdk_stream(body: bytes) -> Any:
    """The SDK's final message after accumulating our stream (`messages.stream(...).get_final_message()`)."""
    client = sdk_client(body)
    with client.messages.stream(model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        return s.get_final_message()
