"""Responses `response` objects <-> canonical Response, read back by the official openai SDK."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from msgspec import Raw

from tests.dialects.openai_responses.support import fixture, sdk_client
from weir.canonical.content import Opaque, Text, Thinking, ToolUse
from weir.canonical.response import Response
from weir.canonical.usage import Usage
from weir.dialects.base import Reply
from weir.dialects.openai_responses.errors import MalformedUpstreamResponse, UpstreamError
from weir.dialects.openai_responses.response import from_canonical, to_canonical

USAGE = Usage(input=3200, cached=2048, output=450, reasoning=320, cache_write=64)


def test_upstream_response_to_canonical() -> None:
    resp = to_canonical(fixture("response.json"))
    assert (resp.id, resp.model, resp.stop_reason) == (
        "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
        "gpt-5-2025-08-07",
        "tool_use",
    )
    thinking, search, text, call, custom = resp.content
    assert thinking == Thinking(
        text="**Checking the weather**",
        signature="gAAAAABozresp_encrypted_reasoning_ZW5jcnlwdGVk",
        origin="openai_responses",
    )
    assert isinstance(search, Opaque) and search.dialect == "openai_responses:item"
    assert json.loads(bytes(search.raw))["type"] == "web_search_call"
    assert text == Text(text="It is 18 °C in Paris.")
    assert isinstance(call, ToolUse) and (call.id, call.name, json.loads(bytes(call.input))) == (
        "call_L1",
        "get_weather",
        {"city": "Lyon"},
    )
    assert isinstance(custom, ToolUse) and custom.kind == "custom"
    assert json.loads(bytes(custom.input)) == "*** Begin Patch\n*** End Patch"
    assert resp.usage == USAGE


def body(resp: Response, cost: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(from_canonical(resp, Reply(model="my-alias", cost_microcents=cost)))
    return out


def test_canonical_to_client_response() -> None:
    resp = Response(
        id="msg_01Anthropic",
        model="claude-sonnet-4-5",
        content=[
            Thinking(text="Let me check.", signature="EqQBsig", origin="anthropic"),
            Text(text="Checking."),
            ToolUse(id="toolu_01", name="get_weather", input=Raw(b'{"city": "Paris"}')),
            ToolUse(id="call_2", name="apply_patch", input=Raw(b'"*** Begin Patch"'), kind="custom"),
        ],
        stop_reason="tool_use",
        usage=USAGE,
    )
    out = body(resp, cost=4321)
    assert out["object"] == "response" and out["model"] == "my-alias"
    assert re.fullmatch(r"resp_[0-9a-f]{32}", out["id"]), "another dialect's id is never reused: ids must be unique"
    assert (out["status"], out["error"], out["incomplete_details"]) == ("completed", None, None)
    reasoning, message, call, custom = out["output"]
    assert reasoning["id"].startswith("rs_") and reasoning["summary"] == [
        {"type": "summary_text", "text": "Let me check."}
    ]
    assert reasoning["encrypted_content"] == "weir:v1:anthropic:EqQBsig"  # where it came from, for the replay
    assert message["id"].startswith("msg_") and message["content"] == [
        {"type": "output_text", "text": "Checking.", "annotations": []}
    ]
    assert call["id"].startswith("fc_")
    assert {k: call[k] for k in ("type", "call_id", "name", "arguments", "status")} == {
        "type": "function_call",
        "call_id": "toolu_01",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "status": "completed",
    }
    assert custom["id"].startswith("ctc_") and custom["input"] == "*** Begin Patch"
    assert out["usage"] == {
        "input_tokens": 3200,
        "input_tokens_details": {"cached_tokens": 2048, "cache_write_tokens": 64},
        "output_tokens": 450,
        "output_tokens_details": {"reasoning_tokens": 320},
        "total_tokens": 3650,
        "cost_microcents": 4321,
        "cost": 4321 / 1e8,
    }
    assert "cost" not in body(resp)["usage"]


def test_round_trip() -> None:
    resp = to_canonical(fixture("response.json"))
    again = to_canonical(from_canonical(resp, Reply(model="gpt-5-2025-08-07")))
    assert again.content == resp.content and again.usage == resp.usage and again.stop_reason == "tool_use"
    assert again.id == resp.id


@pytest.mark.parametrize(("stop", "reason"), [("max_tokens", "max_output_tokens"), ("refusal", "content_filter")])
def test_cut_short_is_incomplete(stop: Any, reason: str) -> None:
    resp = Response(id="resp_1", model="m", content=[Text(text="Once upon")], stop_reason=stop)
    out = body(resp)
    assert (out["status"], out["incomplete_details"]) == ("incomplete", {"reason": reason})
    assert to_canonical(json.dumps(out).encode()).stop_reason == stop


def test_failed_response_raises_the_upstream_error() -> None:
    failed = {
        "id": "resp_1",
        "status": "failed",
        "output": [],
        "error": {"code": "rate_limit_exceeded", "message": "Slow down. Please try again in 2s."},
    }
    with pytest.raises(UpstreamError) as caught:
        to_canonical(json.dumps(failed).encode())
    assert (caught.value.status, caught.value.code) == (429, "rate_limit_exceeded")
    assert "try again in 2s" in caught.value.message


@pytest.mark.parametrize("bad", [b"<html>", b'{"output": [{"type": "function_call", "name": "f"}]}', b'{"output": 3}'])
def test_malformed_upstream_response(bad: bytes) -> None:
    with pytest.raises(MalformedUpstreamResponse):
        to_canonical(bad)


def test_sdk_reads_our_response() -> None:
    resp = Response(
        id="x",
        model="m",
        content=[Text(text="Hello "), Text(text="there."), ToolUse(id="call_9", name="f", input=Raw(b"{}"))],
        stop_reason="tool_use",
        usage=Usage(input=10, cached=4, output=5, reasoning=2),
    )
    client = sdk_client(from_canonical(resp, Reply(model="gpt-5", cost_microcents=7)), content_type="application/json")
    answer = client.responses.create(model="gpt-5", input="hi")
    assert answer.output_text == "Hello there."
    assert answer.id.startswith("resp_") and answer.status == "completed"
    assert [(o.type, getattr(o, "call_id", None)) for o in answer.output] == [
        ("message", None),
        ("message", None),
        ("function_call", "call_9"),
    ]
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (10, 5, 15)
    assert answer.usage.input_tokens_details.cached_tokens == 4
    assert answer.usage.output_tokens_details.reasoning_tokens == 2
