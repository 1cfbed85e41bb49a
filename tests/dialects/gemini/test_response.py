from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from tests.dialects.gemini.support import genai, serving
from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.response import Response
from weir.canonical.usage import Usage
from weir.dialects.base import Reply
from weir.dialects.gemini.response import from_canonical, to_canonical
from weir.dialects.registry import DIALECTS
from weir.errors import GatewayError

SIG = "CiQB0e2Kb3cLd7PXLgZlMBKnbyhW4mJ9sVPoBp4oW7G7c0ZfAQsK"
RID = "m0CaaLWFHI2Y1MkPsZvbuQE"

# A gemini-2.5-pro answer with thought summaries, a signed call and implicit caching.
ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "**Plan**\nLook up the weather.", "thought": True},
                    {"text": "I'll check."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 5230,
        "candidatesTokenCount": 21,
        "totalTokenCount": 5446,
        "cachedContentTokenCount": 4096,
        "thoughtsTokenCount": 195,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5230}],
    },
    "modelVersion": "gemini-2.5-pro",
    "responseId": RID,
}


def test_answer_to_canonical() -> None:
    resp = to_canonical(json.dumps(ANSWER).encode())
    assert (resp.id, resp.model, resp.stop_reason) == (RID, "gemini-2.5-pro", "tool_use")  # STOP + functionCall
    assert resp.content == [
        Thinking(text="**Plan**\nLook up the weather.", origin="gemini"),
        Text(text="I'll check."),
        ToolUse(
            id=f"call_{RID[:16]}_0_get_weather",
            name="get_weather",
            input=msgspec.Raw(b'{"city": "Paris"}'),
            signature=SIG,
        ),
    ]
    # prompt includes the cached tokens; output = candidates + thoughts
    assert resp.usage == Usage(input=5230, cached=4096, output=216, reasoning=195)


@pytest.mark.parametrize(
    ("reason", "stop"),
    [
        ("STOP", "end_turn"),
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "refusal"),
        ("RECITATION", "refusal"),
        ("PROHIBITED_CONTENT", "refusal"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "end_turn"),
        ("SOMETHING_NEWER", "end_turn"),
    ],
)
def test_finish_reasons(reason: str, stop: str) -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert to_canonical(json.dumps(body).encode()).stop_reason == stop


def test_blocked_prompt_and_broken_answers() -> None:
    blocked = to_canonical(b'{"promptFeedback": {"blockReason": "SAFETY"}, "responseId": "r"}')
    assert (blocked.content, blocked.stop_reason) == ([], "refusal")
    with pytest.raises(GatewayError) as caught:
        to_canonical(b'{"candidates": []}')
    assert caught.value.status == 502
    with pytest.raises(GatewayError) as caught:
        to_canonical(b"<html>502</html>")
    assert caught.value.status == 502
    with pytest.raises(GatewayError) as caught:
        to_canonical(b'{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}')
    assert (caught.value.status, caught.value.type, caught.value.message) == (
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
    )


def test_from_canonical_writes_usage_and_cost() -> None:
    resp = Response(
        id="msg_01",
        model="claude-sonnet-4-5",
        content=[
            Thinking(text="Hmm.", signature="EqQBCg-anthropic", origin="anthropic"),
            Text(text="Done."),
            ToolUse(id="toolu_01", name="now", input=msgspec.Raw(b"{}")),
        ],
        stop_reason="tool_use",
        usage=Usage(input=1234, cached=200, output=567, reasoning=100, cache_write=30),
    )
    body = json.loads(from_canonical(resp, Reply(model="my-gemini", cost_microcents=2_500_000)))
    assert body == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Hmm.", "thought": True},  # shown, without Anthropic's signature
                        {"text": "Done."},
                        {"functionCall": {"name": "now", "args": {}, "id": "toolu_01"}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 1234,
            "candidatesTokenCount": 467,
            "totalTokenCount": 1801,
            "cachedContentTokenCount": 200,
            "thoughtsTokenCount": 100,
            "cacheWriteTokenCount": 30,
            "costMicrocents": 2_500_000,
            "cost": 0.025,
        },
        "modelVersion": "my-gemini",
        "responseId": "msg_01",
    }


def test_gemini_round_trip() -> None:
    resp = to_canonical(json.dumps(ANSWER).encode())
    again = to_canonical(from_canonical(resp, Reply(model="gemini-2.5-pro")))
    assert again == resp  # the call id went out to the client as functionCall.id and came back


def test_empty_answer_still_has_a_part() -> None:
    body = json.loads(
        from_canonical(Response(id="", model="m", content=[], stop_reason="max_tokens"), Reply(model="m"))
    )
    candidate = body["candidates"][0]
    assert candidate["content"]["parts"] == [{"text": ""}] and candidate["finishReason"] == "MAX_TOKENS"
    assert body["responseId"]  # made up when the upstream had none


def test_google_genai_reads_our_answer() -> None:
    resp = to_canonical(json.dumps(ANSWER).encode())
    client = serving(from_canonical(resp, Reply(model="gemini-2.5-pro", cost_microcents=7)), stream=False)
    answer = client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert answer.text == "I'll check."
    call = answer.function_calls[0]
    assert (call.name, call.args, call.id) == ("get_weather", {"city": "Paris"}, f"call_{RID[:16]}_0_get_weather")
    assert answer.candidates[0].content.parts[2].thought_signature == base64.b64decode(SIG)
    assert answer.candidates[0].finish_reason == genai().types.FinishReason.STOP
    usage = answer.usage_metadata
    assert (usage.prompt_token_count, usage.cached_content_token_count) == (5230, 4096)
    assert (usage.candidates_token_count, usage.thoughts_token_count, usage.total_token_count) == (21, 195, 5446)


@pytest.mark.parametrize("other", sorted(set(DIALECTS) - {"gemini"}))
def test_signatures_never_reach_other_clients(other: str) -> None:
    resp = to_canonical(json.dumps(ANSWER).encode())
    resp.content.append(Text(text="", signature="c2lnLXRleHQ="))
    body = DIALECTS[other].response.from_canonical(resp, Reply(model="m"))
    assert SIG.encode() not in body and b"c2lnLXRleHQ=" not in body and b"get_weather" in body
