"""chat.completion bodies <-> canonical Response."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from msgspec import Raw
from openai.types.chat import ChatCompletion

from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.response import Response
from weir.canonical.usage import Usage
from weir.dialects.base import Reply
from weir.dialects.openai_chat.errors import MalformedUpstreamResponse
from weir.dialects.openai_chat.response import from_canonical, to_canonical

# Recorded from api.openai.com (ids shortened)
TEXT = {
    "id": "chatcmpl-BX3kq9aZ7cHn2mJ4pLr8TtVw1yQeS",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_34a54ae93c",
}

TOOLS = {
    "id": "5f0c7d2e-8a41-4b6e-9c3d-2e7f1a9b4c60",
    "object": "chat.completion",
    "created": 1741571100,
    "model": "deepseek-reasoner",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Need the weather.",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_0_a1b2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"index": 1, "id": "call_1_c3d4", "type": "function", "function": {"name": "now", "arguments": ""}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 320,
        "completion_tokens": 90,
        "total_tokens": 410,
        "prompt_tokens_details": {"cached_tokens": 256, "cache_write_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 70},
        "prompt_cache_hit_tokens": 256,
    },
}


def test_text_answer() -> None:
    resp = to_canonical(orjson.dumps(TEXT))
    assert resp == Response(
        id="chatcmpl-BX3kq9aZ7cHn2mJ4pLr8TtVw1yQeS",
        model="gpt-4o-mini-2024-07-18",
        content=[Text(text="Paris.")],
        stop_reason="end_turn",
        usage=Usage(input=1117, cached=1024, output=46, reasoning=0),
    )


def test_tool_calls_reasoning_and_usage() -> None:
    resp = to_canonical(orjson.dumps(TOOLS))
    assert resp.content == [
        Thinking(text="Need the weather.", origin="openai_chat"),
        ToolUse(id="call_0_a1b2", name="get_weather", input=Raw(b'{"city":"Paris"}')),
        ToolUse(id="call_1_c3d4", name="now", input=Raw(b"{}")),
    ]
    assert resp.stop_reason == "tool_use"
    assert resp.usage == Usage(input=320, cached=256, output=90, reasoning=70, cache_write=64)


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons(finish: str | None, reason: str) -> None:
    body = json.loads(json.dumps(TEXT))
    body["choices"][0]["finish_reason"] = finish
    assert to_canonical(orjson.dumps(body)).stop_reason == reason


def test_null_details_and_missing_usage() -> None:  # vLLM sends null details; some servers no usage at all
    body: dict[str, Any] = json.loads(json.dumps(TEXT))
    body["usage"] = {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40, "prompt_tokens_details": None}
    assert to_canonical(orjson.dumps(body)).usage == Usage(input=31, output=9)
    del body["usage"]
    assert to_canonical(orjson.dumps(body)).usage == Usage()


@pytest.mark.parametrize("body", [b"<html>502</html>", b'{"choices": []}', b'{"choices": [{"message": 3}]}'])
def test_malformed_answers(body: bytes) -> None:
    with pytest.raises(MalformedUpstreamResponse) as info:
        to_canonical(body)
    assert info.value.status == 502


def test_from_canonical_text() -> None:
    resp = Response(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        model="claude-sonnet-4-5-20250929",
        content=[Thinking(text="Easy.", signature="sig", origin="anthropic_messages"), Text(text="Paris.")],
        stop_reason="end_turn",
        usage=Usage(input=1200, cached=1000, output=30, reasoning=0, cache_write=100),
    )
    body = json.loads(from_canonical(resp, Reply(model="claude-sonnet", cost_microcents=12345)))
    ChatCompletion.model_validate(body)
    assert body["id"] == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL"
    assert (body["object"], body["model"]) == ("chat.completion", "claude-sonnet")
    assert isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None, "reasoning_content": "Easy."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 1200,
        "completion_tokens": 30,
        "total_tokens": 1230,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 0},
        "cost_microcents": 12345,
        "cost": 0.00012345,
    }


def test_from_canonical_tool_calls() -> None:
    resp = Response(
        id="chatcmpl-keep",
        model="m",
        content=[
            ToolUse(id="toolu_01A", name="get_weather", input=Raw(b'{"city": "Paris"}')),
            ToolUse(id="toolu_01B", name="bad", input=Raw(b'"not json"')),
        ],
        stop_reason="tool_use",
    )
    body = json.loads(from_canonical(resp, Reply(model="m")))
    completion = ChatCompletion.model_validate(body)
    assert body["id"] == "chatcmpl-keep"
    message = body["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] is None
    assert message["tool_calls"] == [
        {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "toolu_01B", "type": "function", "function": {"name": "bad", "arguments": "not json"}},
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert "cost" not in body["usage"] and "cost_microcents" not in body["usage"]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_finish_reasons_back(reason: Any, finish: str) -> None:
    resp = Response(id="x", model="m", content=[Text(text="a")], stop_reason=reason)
    assert json.loads(from_canonical(resp, Reply(model="m")))["choices"][0]["finish_reason"] == finish


def test_round_trip() -> None:
    resp = to_canonical(orjson.dumps(TOOLS))
    again = to_canonical(from_canonical(resp, Reply(model=resp.model)))
    assert again.content == resp.content and again.usage == resp.usage and again.stop_reason == resp.stop_reason
    assert again.id == "chatcmpl-" + resp.id
