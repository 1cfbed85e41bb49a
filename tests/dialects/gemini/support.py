"""Shared helpers: recorded streams, our converters end to end, and google-genai over canned bytes.

google-genai is an optional test dependency (`pip install google-genai`); the tests that need it skip without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from weir._native import SseFramer
from weir.canonical.stream import StreamEvent, UsageUpdate
from weir.canonical.usage import Usage
from weir.dialects.gemini.stream import FromCanonical, ToCanonical

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gemini"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def recorded() -> list[str]:
    names = sorted(path.name for path in FIXTURES.glob("*.sse"))
    assert names, f"no fixtures under {FIXTURES}"
    return names


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
    events: list[StreamEvent], *, model: str = "gemini-2.5-flash", cost_microcents: int | None = None
) -> bytes:
    """Canonical events -> client bytes; the final usage is the last UsageUpdate's."""
    writer = FromCanonical(model)
    body = b"".join(writer.feed(ev) for ev in events)
    usage = next((ev.usage for ev in reversed(events) if isinstance(ev, UsageUpdate)), Usage())
    return body + writer.finish(usage, cost_microcents)


def data_lines(body: bytes) -> list[Any]:
    """The JSON of every event, checking the framing google-genai and the legacy JS SDK need: each event exactly
    one line starting `data: `, events separated by a CRLF blank line, nothing else."""
    assert body.endswith(b"\r\n\r\n"), body[-40:]
    events = body[:-4].split(b"\r\n\r\n")
    for event in events:
        assert event.startswith(b"data: {") and b"\n" not in event and b"\r" not in event, event
    return [json.loads(event[6:]) for event in events]


def genai() -> Any:
    return pytest.importorskip("google.genai")


def sdk_client(answer: Callable[[httpx.Request], httpx.Response]) -> Any:
    """A google-genai client whose every request is answered by `answer`."""
    module = genai()
    options = module.types.HttpOptions(
        base_url="http://weir.test", client_args={"transport": httpx.MockTransport(answer)}
    )
    return module.Client(api_key="weir-test", http_options=options)


def serving(body: bytes, *, status: int = 200, stream: bool = True) -> Any:
    content_type = "text/event-stream" if stream else "application/json"
    return sdk_client(lambda request: httpx.Response(status, content=body, headers={"content-type": content_type}))


def sdk_stream(body: bytes) -> list[Any]:
    """google-genai's GenerateContentResponse chunks for our stream bytes (it raises on an error event)."""
    client = serving(body)  # kept referenced: google-genai closes its HTTP client when the Client is collected
    return list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))


def sdk_request(contents: Any, config: Any = None) -> bytes:
    """The body google-genai sends for `generate_content(contents, config)`."""
    seen: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        reply = b'{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}]}'
        return httpx.Response(200, content=reply, headers={"content-type": "application/json"})

    client = sdk_client(answer)
    client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
    return seen[0]
