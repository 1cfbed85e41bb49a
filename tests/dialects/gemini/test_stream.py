from __future__ import annotations

import base64
import json

import pytest

from tests.dialects.gemini.support import (
    data_lines,
    fixture,
    genai,
    read_stream,
    recorded,
    sdk_stream,
    serving,
    write_stream,
)
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
from weir.dialects.gemini.stream import NO_INPUT, TRUNCATED, FromCanonical, ToCanonical
from weir.dialects.registry import DIALECTS

SIG = (
    "CiQB0e2Kb3cLd7PXLgZlMBKnbyhW4mJ9sVPoBp4oW7G7c0ZfAQsKYgHR7YpvK1Fh0v7WPq0eUbB2vYq+3T9hJmI8xQ5fLZ0rC8n0d1sUeQ3zP5Yk2g"
    "=="
)
SIG2 = "Cq0CAdHtim9Y3uwRZ0tQ2vH9L0m4uq0c8kq2dMRn3uVgWnJHtA0nQvG7xB8M3mV2p5hQ6w=="
TOOL_RID = "xk2ZaMG0OYKQ1MkP4fOd8Q0"

EXPECTED: dict[str, list[StreamEvent]] = {
    "text.sse": [
        Start(id="pUqYaLzVBfeFz7IPkb6SkAM", model="gemini-2.5-flash"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Bonjour ! Il fait"),
        # promptTokenCount already counts the cached tokens
        UsageUpdate(usage=Usage(input=2113, cached=2048, output=4)),
        TextDelta(index=0, text=" 18 °C à Paris.\nÀ bientôt 👋"),
        UsageUpdate(usage=Usage(input=2113, cached=2048, output=15)),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
    ],
    "thinking_tool.sse": [
        Start(id=TOOL_RID, model="gemini-3-pro-preview"),
        BlockStart(index=0, block=Thinking(origin="gemini")),
        ThinkingDelta(index=0, text="**Checking the forecast**\n\nThe user wants the weather in Paris"),
        # candidatesTokenCount leaves the thoughts out: output = candidates + thoughts
        UsageUpdate(usage=Usage(input=412, output=58, reasoning=58)),
        ThinkingDelta(index=0, text=" and the local time. I can call both tools at once."),
        UsageUpdate(usage=Usage(input=412, output=103, reasoning=103)),
        BlockStop(index=0),
        BlockStart(index=1, block=Text(text="")),
        TextDelta(index=1, text="Let me look both up."),
        UsageUpdate(usage=Usage(input=412, output=109, reasoning=103)),
        BlockStop(index=1),
        BlockStart(
            index=2,
            block=ToolUse(id=f"call_{TOOL_RID[:16]}_0_get_weather", name="get_weather", input=NO_INPUT, signature=SIG),
        ),
        ToolInputDelta(index=2, partial_json='{"city": "Paris","unit": "celsius"}'),
        BlockStop(index=2),
        BlockStart(index=3, block=ToolUse(id=f"call_{TOOL_RID[:16]}_1_get_time", name="get_time", input=NO_INPUT)),
        ToolInputDelta(index=3, partial_json='{"timezone": "Europe/Paris"}'),
        BlockStop(index=3),
        UsageUpdate(usage=Usage(input=412, output=144, reasoning=103)),
        Finish(stop_reason="tool_use"),  # Gemini says STOP; the functionCall parts say tool_use
    ],
    "signed_text.sse": [
        Start(id="Zr6ZaJ3DA9K_1MkPqcK8-AU", model="gemini-2.5-flash"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="The first three primes"),
        UsageUpdate(usage=Usage(input=11, output=84, reasoning=80)),
        TextDelta(index=0, text=" are 2, 3 and 5."),
        UsageUpdate(usage=Usage(input=11, output=92, reasoning=80)),
        # the last, empty part carries the signature: it goes to the text block it ends
        SignatureDelta(index=0, signature=SIG2),
        BlockStop(index=0),
        Finish(stop_reason="end_turn"),
    ],
    "error_midstream.sse": [
        Start(id="8L6ZaNyXGPyS1MkPpPG3yAc", model="gemini-2.5-pro"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Once upon a time"),
        UsageUpdate(usage=Usage(input=7, output=4)),
        BlockStop(index=0),
        Failure(status=503, type="UNAVAILABLE", message="The model is overloaded. Please try again later."),
    ],
    "truncated.sse": [
        Start(id="Ab7ZaKqSMo2B1MkP_7nR8Q4", model="gemini-2.5-flash-lite"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="Step one: preheat"),
        UsageUpdate(usage=Usage(input=9, output=4)),
        TextDelta(index=0, text=" the oven to 200 °C."),
        UsageUpdate(usage=Usage(input=9, output=11)),
        BlockStop(index=0),
        Failure(status=502, type="upstream_error", message=TRUNCATED),
    ],
}


def test_every_fixture_has_expectations() -> None:
    assert recorded() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_stream_to_canonical(name: str) -> None:
    assert read_stream([fixture(name)]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_split_gives_same_events(name: str) -> None:
    case = fixture(name)
    for i in range(len(case) + 1):
        assert read_stream([case[:i], case[i:]]) == EXPECTED[name], i


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_byte_by_byte(name: str) -> None:
    case = fixture(name)
    assert read_stream([case[i : i + 1] for i in range(len(case))]) == EXPECTED[name]


def test_blocked_prompt_is_a_refusal() -> None:
    chunk = b'{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":5,'
    chunk += b'"totalTokenCount":5},"modelVersion":"gemini-2.5-flash","responseId":"r1"}'
    reader = ToCanonical()
    assert reader.feed(None, chunk) + reader.finish() == [
        Start(id="r1", model="gemini-2.5-flash"),
        UsageUpdate(usage=Usage(input=5)),
        Finish(stop_reason="refusal"),
    ]


@pytest.mark.parametrize(
    ("reason", "stop"), [("MAX_TOKENS", "max_tokens"), ("SAFETY", "refusal"), ("MALFORMED_FUNCTION_CALL", "error")]
)
def test_finish_reasons(reason: str, stop: str) -> None:
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": reason}]}
    reader = ToCanonical()
    events = reader.feed(None, json.dumps(chunk).encode())
    assert events[-1] == Finish(stop_reason=stop)  # type: ignore[arg-type]


def test_unreadable_chunk_fails_and_stops() -> None:
    reader = ToCanonical()
    events = reader.feed(None, b'{"candidates": [')
    assert isinstance(events[-1], Failure) and events[-1].status == 502
    assert reader.feed(None, fixture("text.sse")[6:]) == [] and reader.finish() == []


# ---- FromCanonical ----


@pytest.mark.parametrize("name", ["text.sse", "thinking_tool.sse", "signed_text.sse"])
def test_gemini_round_trip_keeps_every_event(name: str) -> None:
    """upstream Gemini -> canonical -> Gemini client -> canonical: the same events (the model is the client's).
    Usage goes out once, with the last chunk."""
    events = EXPECTED[name]
    again = read_stream([write_stream(events, model="my-alias")])
    start = events[0]
    assert isinstance(start, Start) and again[0] == Start(id=start.id, model="my-alias")

    def content(evs: list[StreamEvent]) -> list[StreamEvent]:
        return [e for e in evs[1:] if not isinstance(e, UsageUpdate)]

    assert content(again) == content(events)
    assert [e for e in again if isinstance(e, UsageUpdate)] == [e for e in events if isinstance(e, UsageUpdate)][-1:]


def test_output_framing_and_chunks() -> None:
    body = write_stream(EXPECTED["thinking_tool.sse"], model="gemini-3-pro-preview", cost_microcents=4321)
    chunks = data_lines(body)
    parts = [c["candidates"][0]["content"]["parts"] for c in chunks]
    assert parts == [
        [{"text": "**Checking the forecast**\n\nThe user wants the weather in Paris", "thought": True}],
        [{"text": " and the local time. I can call both tools at once.", "thought": True}],
        [{"text": "Let me look both up."}],
        [
            {
                "functionCall": {
                    "name": "get_weather",
                    "args": {"city": "Paris", "unit": "celsius"},
                    "id": f"call_{TOOL_RID[:16]}_0_get_weather",
                },
                "thoughtSignature": SIG,
            }
        ],
        [
            {
                "functionCall": {
                    "name": "get_time",
                    "args": {"timezone": "Europe/Paris"},
                    "id": f"call_{TOOL_RID[:16]}_1_get_time",
                }
            }
        ],
        [{"text": ""}],  # the last chunk: google-genai's chat drops a turn with a part-less chunk
    ]
    assert all(c["responseId"] == TOOL_RID and c["modelVersion"] == "gemini-3-pro-preview" for c in chunks)
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None] * 5 + ["STOP"]
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": 412,
        "candidatesTokenCount": 41,
        "thoughtsTokenCount": 103,
        "totalTokenCount": 556,
        "costMicrocents": 4321,
        "cost": 4321 / 100_000_000,
    }
    assert all("usageMetadata" not in c for c in chunks[:-1])


def test_google_genai_reads_our_stream() -> None:
    chunks = sdk_stream(write_stream(EXPECTED["thinking_tool.sse"]))
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    thoughts = "".join(p.text for p in parts if p.thought)
    assert thoughts.endswith("in Paris and the local time. I can call both tools at once.")
    calls = [p for p in parts if p.function_call is not None]
    assert [(p.function_call.name, p.function_call.args) for p in calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]
    assert calls[0].thought_signature == base64.b64decode(SIG) and calls[1].thought_signature is None
    last = chunks[-1]
    assert last.candidates[0].finish_reason == genai().types.FinishReason.STOP
    usage = last.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count) == (412, 41, 103)


def test_google_genai_chat_keeps_the_turn() -> None:
    """google-genai's chat records a streamed turn only if every chunk has parts and one has a finishReason."""
    client = serving(write_stream(EXPECTED["text.sse"]))
    chat = client.chats.create(model="gemini-2.5-flash")
    text = "".join(c.text or "" for c in chat.send_message_stream("Quel temps fait-il ?"))
    assert text == "Bonjour ! Il fait 18 °C à Paris.\nÀ bientôt 👋"
    history = chat.get_history(curated=True)  # one model content per chunk, as with Google's own streams
    assert [c.role for c in history] == ["user", "model", "model", "model"]


def test_google_genai_raises_on_midstream_error() -> None:
    errors = genai().errors
    body = write_stream(EXPECTED["error_midstream.sse"])
    assert data_lines(body)[-1] == {
        "error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}
    }
    with pytest.raises(errors.ServerError) as caught:
        sdk_stream(body)
    assert caught.value.code == 503 and caught.value.status == "UNAVAILABLE"


def test_truncated_answer_never_looks_complete() -> None:
    events = [e for e in EXPECTED["text.sse"] if not isinstance(e, Finish)]
    last = data_lines(write_stream(events))[-1]
    assert last == {"error": {"code": 502, "message": TRUNCATED, "status": "UNAVAILABLE"}}


def test_other_thinking_is_shown_but_its_signature_never_sent() -> None:
    events: list[StreamEvent] = [
        Start(id="msg_01", model="claude-sonnet-4-5"),
        BlockStart(index=0, block=Thinking(origin="anthropic")),
        ThinkingDelta(index=0, text="Let me think."),
        SignatureDelta(index=0, signature="EqQBCgIYAhIM-anthropic-signature"),
        BlockStop(index=0),
        BlockStart(index=1, block=Thinking(redacted="EmwKAhgB-redacted", origin="anthropic")),
        BlockStop(index=1),
        BlockStart(index=2, block=ToolUse(id="toolu_01", name="Read", input=NO_INPUT)),
        ToolInputDelta(index=2, partial_json='{"file_pa'),
        ToolInputDelta(index=2, partial_json='th": "/a"}'),
        BlockStop(index=2),
        Finish(stop_reason="tool_use"),
    ]
    body = write_stream(events)
    assert b"anthropic-signature" not in body and b"redacted" not in body
    parts = [c["candidates"][0]["content"]["parts"][0] for c in data_lines(body)]
    assert parts[:2] == [
        {"text": "Let me think.", "thought": True},
        {"functionCall": {"name": "Read", "args": {"file_path": "/a"}, "id": "toolu_01"}},
    ]


def test_custom_tool_input_and_unclosed_call() -> None:
    writer = FromCanonical("m")
    out = writer.feed(BlockStart(index=0, block=ToolUse(id="c1", name="apply_patch", input=NO_INPUT, kind="custom")))
    out += writer.feed(ToolInputDelta(index=0, partial_json="*** Begin Patch"))
    out += writer.feed(Finish(stop_reason="tool_use"))
    out += writer.finish(Usage(input=3, output=2), None)  # no BlockStop: the call still goes out, before the end
    chunks = data_lines(out)
    call = chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "apply_patch", "args": {"input": "*** Begin Patch"}, "id": "c1"}
    assert chunks[1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("name", sorted(set(DIALECTS) - {"gemini"}))
@pytest.mark.parametrize("stream", ["thinking_tool.sse", "signed_text.sse"])
def test_signatures_never_reach_other_clients(name: str, stream: str) -> None:
    """Signatures on functionCall and text parts are Gemini's alone: other dialects' clients never see them."""
    writer = DIALECTS[name].writer("m", True)
    body = b"".join(writer.feed(ev) for ev in EXPECTED[stream]) + writer.finish(Usage(input=1, output=1), None)
    assert SIG.encode() not in body and SIG2.encode() not in body
    assert b"Let me look both up" in body or b"primes" in body  # the stream itself did get through


def test_unicode_line_separators_are_escaped() -> None:
    """google-genai before 3.x splits lines with str.splitlines(): U+2028, U+2029 and U+0085 must not appear raw."""
    text = "a\u2028b\u2029c\x85d é 👋"
    events: list[StreamEvent] = [
        Start(id="r", model="m"),
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text=text),
        BlockStop(index=0),
        Failure(status=500, type="INTERNAL", message="bad\u2028news"),
    ]
    body = write_stream(events)
    assert len(body.decode().splitlines()) == 4  # two events, each a line and a blank line
    assert [c.get("candidates", [{}])[0].get("content", {}).get("parts") for c in data_lines(body)][0] == [
        {"text": text}
    ]
    assert data_lines(body)[1]["error"]["message"] == "bad\u2028news"
