from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from tests.dialects.anthropic_messages.support import sdk_client
from weir.canonical.content import Opaque, Text, Thinking, ToolUse
from weir.canonical.response import Response
from weir.canonical.usage import Usage
from weir.dialects.anthropic_messages.request import to_canonical as request_to_canonical
from weir.dialects.anthropic_messages.response import from_canonical, to_canonical
from weir.dialects.base import Reply
from weir.errors import GatewayError

UPSTREAM = {
    "id": "msg_01HCDu5LRGeP2o7s2xGmxyx8",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "Paris, so celsius.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxB"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 30,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 8000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 120,
        "output_tokens_details": {"thinking_tokens": 40},
        "service_tier": "standard",
    },
}


def test_upstream_response_to_canonical() -> None:
    resp = to_canonical(json.dumps(UPSTREAM).encode())
    assert (resp.id, resp.model, resp.stop_reason, resp.stop_sequence) == (
        "msg_01HCDu5LRGeP2o7s2xGmxyx8",
        "claude-sonnet-4-5-20250929",
        "tool_use",
        None,
    )
    thinking, redacted, text, use = resp.content
    assert thinking == Thinking(
        text="Paris, so celsius.", signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxB", origin="anthropic"
    )
    assert redacted == Thinking(redacted="EmwKAhgBEgy3va3pzix", origin="anthropic")
    assert text == Text(text="Let me check.")
    assert isinstance(use, ToolUse) and use.id == "toolu_01A09q90qw90lq917835lq9"
    assert json.loads(bytes(use.input)) == {"city": "Paris", "unit": "celsius"}
    # canonical input counts every prompt token: 30 uncached + 8000 read + 2000 written
    assert resp.usage == Usage(input=10030, cached=8000, output=120, reasoning=40, cache_write=2000)


def test_canonical_response_to_client() -> None:
    resp = to_canonical(json.dumps(UPSTREAM).encode())
    wire = json.loads(from_canonical(resp, Reply(model="claude-sonnet-4-5", cost_microcents=123_456_789)))
    assert wire["id"] == "msg_01HCDu5LRGeP2o7s2xGmxyx8" and wire["model"] == "claude-sonnet-4-5"
    assert (wire["type"], wire["role"], wire["stop_reason"], wire["stop_sequence"]) == (
        "message",
        "assistant",
        "tool_use",
        None,
    )
    assert wire["content"] == UPSTREAM["content"]
    assert wire["usage"] == {
        "input_tokens": 30,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 8000,
        "output_tokens": 120,
        "output_tokens_details": {"thinking_tokens": 40},
        "cost_microcents": 123_456_789,
        "cost": 1.23456789,
    }


def test_round_trip_within_the_dialect() -> None:
    resp = to_canonical(json.dumps(UPSTREAM).encode())
    again = to_canonical(from_canonical(resp, Reply(model=resp.model)))
    assert again == resp


def test_the_sdk_reads_our_response() -> None:
    resp = to_canonical(json.dumps(UPSTREAM).encode())
    body = from_canonical(resp, Reply(model="claude-sonnet-4-5", cost_microcents=5))
    client = sdk_client(body, content_type="application/json")
    message = client.messages.create(model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "w?"}])
    assert [b.type for b in message.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert message.content[3].input == {"city": "Paris", "unit": "celsius"}
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        30,
        8000,
        120,
    )


def foreign(content: list[Any], stop_reason: Any = "end_turn") -> Response:
    usage = Usage(input=500, cached=200, output=50, reasoning=20)
    return Response(id="chatcmpl-9x", model="kimi-k2", content=content, stop_reason=stop_reason, usage=usage)


def test_response_from_another_upstream() -> None:
    resp = foreign(
        [
            Thinking(text="I will call Read.", origin="openai_chat"),
            Thinking(redacted="gAAAAB", origin="openai_responses"),  # encrypted elsewhere: nothing to show
            Text(text=""),
            ToolUse(id="functions.Read:0", name="Read", input=msgspec.Raw(b'{"path":"a.py"}')),
            Opaque(dialect="gemini", raw=msgspec.Raw(b'{"executableCode":{}}')),
        ],
        stop_reason="end_turn",  # some OpenAI-compatible upstreams say "stop" with tool calls
    )
    wire = json.loads(from_canonical(resp, Reply(model="claude-sonnet-4-5")))
    assert wire["id"] == "msg_chatcmpl-9x"
    assert wire["content"] == [
        {"type": "thinking", "thinking": "I will call Read.", "signature": "weir:v1:openai_chat:"},
        {"type": "tool_use", "id": wire["content"][1]["id"], "name": "Read", "input": {"path": "a.py"}},
    ]
    assert wire["content"][1]["id"].startswith("functions_Read_0_")
    assert wire["stop_reason"] == "tool_use"
    assert wire["usage"] == {
        "input_tokens": 300,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 200,
        "output_tokens": 50,
        "output_tokens_details": {"thinking_tokens": 20},
    }


def test_foreign_thinking_survives_the_client_and_returns_to_its_dialect() -> None:
    resp = foreign([Thinking(text="r", signature="enc==", origin="openai_responses"), Text(text="done")])
    content = json.loads(from_canonical(resp, Reply(model="m")))["content"]
    replay = {"model": "m", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": content}]}
    req = request_to_canonical(json.dumps(replay).encode())
    assert req.messages[1].content == [
        Thinking(text="r", signature="enc==", origin="openai_responses"),
        Text(text="done"),
    ]


@pytest.mark.parametrize(
    ("upstream", "canonical", "client"),
    [
        ("end_turn", "end_turn", "end_turn"),
        ("max_tokens", "max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence", "stop_sequence"),
        ("pause_turn", "pause_turn", "pause_turn"),
        ("refusal", "refusal", "refusal"),
        ("model_context_window_exceeded", "max_tokens", "max_tokens"),
        ("something_new", "end_turn", "end_turn"),
    ],
)
def test_stop_reasons(upstream: str, canonical: str, client: str) -> None:
    body = dict(UPSTREAM, content=[{"type": "text", "text": "x"}], stop_reason=upstream, stop_sequence=None)
    resp = to_canonical(json.dumps(body).encode())
    assert resp.stop_reason == canonical
    assert json.loads(from_canonical(resp, Reply(model="m")))["stop_reason"] == client


def test_stop_sequence_and_error_reason() -> None:
    resp = foreign([Text(text="a")], stop_reason="stop_sequence")
    resp.stop_sequence = "END"
    wire = json.loads(from_canonical(resp, Reply(model="m")))
    assert (wire["stop_reason"], wire["stop_sequence"]) == ("stop_sequence", "END")
    assert json.loads(from_canonical(foreign([], stop_reason="error"), Reply(model="m")))["stop_reason"] == "end_turn"


def test_server_tool_blocks_round_trip_as_opaque() -> None:
    blocks = [
        {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "paris"}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_01",
            "content": [{"type": "web_search_result", "url": "https://e"}],
        },
        {"type": "text", "text": "Sunny.", "citations": [{"type": "web_search_result_location", "url": "https://e"}]},
    ]
    resp = to_canonical(json.dumps(dict(UPSTREAM, content=blocks)).encode())
    assert [type(b).__name__ for b in resp.content] == ["Opaque", "Opaque", "Text"]
    wire = json.loads(from_canonical(resp, Reply(model="m")))
    assert wire["content"] == [*blocks[:2], {"type": "text", "text": "Sunny."}]  # citations are not carried


def test_usage_missing_is_zero() -> None:
    resp = to_canonical(b'{"id":"msg_1","model":"m","content":[],"stop_reason":"end_turn"}')
    assert resp.usage == Usage()


@pytest.mark.parametrize("body", [b"<html>502</html>", b'{"content": 5}', b'{"content":[{"type":"text"}]}'])
def test_unreadable_upstream_response(body: bytes) -> None:
    with pytest.raises(GatewayError) as caught:
        to_canonical(body)
    assert caught.value.status == 502
