"""Responses request bodies <-> canonical Request, with a Codex-shaped request as the main fixture."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson
import pytest
from msgspec import Raw

from tests.dialects.openai_responses.support import fixture
from weir.canonical.content import Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message, Reasoning, Request, Tool, ToolChoice
from weir.dialects.anthropic_messages import request as anthropic
from weir.dialects.base import Target
from weir.dialects.openai_chat import request as chat
from weir.dialects.openai_responses.request import from_canonical, to_canonical
from weir.errors import InvalidRequest

TARGET = Target(model="gpt-5-codex", stream=True)
CODEX = fixture("codex_request.json")


def canonical(**body: Any) -> Request:
    body.setdefault("model", "gpt-5")
    body.setdefault("input", "Hi")
    return to_canonical(orjson.dumps(body))


def wire(req: Request, target: Target = TARGET) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(from_canonical(req, target).body)
    return out


def plain(value: Any) -> Any:
    """Canonical Structs as plain JSON values (Raw fields compared by value, not by their whitespace)."""
    return json.loads(msgspec.json.encode(value))


def raw_json(raw: Raw | None) -> Any:
    assert raw is not None
    return json.loads(bytes(raw))


# --- the Codex request ---------------------------------------------------------------------------------------------


def test_codex_request_to_canonical() -> None:
    req = to_canonical(CODEX)
    sent = json.loads(CODEX)
    assert req.model == "gpt-5-codex" and req.stream is True
    assert [t.text for t in req.system] == [sent["instructions"], sent["input"][0]["content"][0]["text"]]
    assert [m.role for m in req.messages] == ["user", "user", "assistant", "user", "assistant", "user"]
    env, ask, first, shell_out, second, last = req.messages
    assert env.content == [Text(text=sent["input"][1]["content"][0]["text"])]
    image = ask.content[1]
    assert isinstance(image, Image) and (image.media_type, image.detail) == ("image/png", "auto")
    thinking, shell = first.content
    assert thinking == Thinking(
        text="**Listing the project**\n\nI'll look at the files first.",
        signature=sent["input"][3]["encrypted_content"],
        origin="openai_responses",
    )
    assert isinstance(shell, ToolUse) and (shell.id, shell.name, shell.kind) == ("call_Q1w2e3", "shell", "function")
    assert raw_json(shell.input) == {"command": ["rg", "--files"], "workdir": "/home/dev/calc"}
    assert shell_out.content == [ToolResult(tool_use_id="call_Q1w2e3", content=[Text(text="calc.py\ntest_calc.py")])]
    reasoning, said, patch = second.content
    assert isinstance(reasoning, Thinking) and reasoning.text == "**Reading parse()**\n\n**Patching the sign handling**"
    assert said == Text(text="The sign is dropped when the input starts with '-'. Patching it.")
    assert isinstance(patch, ToolUse) and (patch.id, patch.name, patch.kind) == ("call_R4t5y6", "apply_patch", "custom")
    assert raw_json(patch.input) == sent["input"][8]["input"]  # the freeform text, as a JSON string
    # The patch's output and the next user text join one user message, the result first.
    assert last.content == [
        ToolResult(
            tool_use_id="call_R4t5y6", content=[Text(text="Success. Updated the following files:\nM calc.py\n")]
        ),
        Text(text="now run the tests"),
    ]
    assert [(t.name, t.kind) for t in req.tools] == [
        ("shell", "function"),
        ("apply_patch", "custom"),
        ("view_image", "function"),
    ]
    assert raw_json(req.tools[1].format) == sent["tools"][1]["format"]
    assert req.tools[0].strict is False and raw_json(req.tools[0].input_schema) == sent["tools"][0]["parameters"]
    assert req.tool_choice == ToolChoice(mode="auto", parallel=False)
    assert req.reasoning == Reasoning(effort="medium")
    assert sorted(req.extras) == ["include", "prompt_cache_key", "reasoning", "store", "text"]
    assert req.extras_dialect == "openai_responses"


def test_codex_request_round_trips_to_responses() -> None:
    """Back out to a Responses upstream: the same content, reasoning (encrypted) included, custom tools custom."""
    sent = json.loads(CODEX)
    egress = from_canonical(to_canonical(CODEX), TARGET)
    out = json.loads(egress.body)
    assert egress.dropped == ()
    assert {k: v for k, v in out.items() if k != "input"} == {k: v for k, v in sent.items() if k != "input"}
    expected = []
    for item in sent["input"]:
        item = dict(item)
        if item["type"] == "custom_tool_call":
            del item["status"]  # item states are not carried (Codex leaves ids out for the same reason)
        if item["type"] == "reasoning":  # summary parts are joined into the one canonical text
            item["summary"] = [{"type": "summary_text", "text": "\n\n".join(p["text"] for p in item["summary"])}]
        if item["type"] == "message" and item["role"] == "assistant":
            item["content"] = [dict(p, annotations=[]) for p in item["content"]]
        expected.append(item)
    assert out["input"] == expected
    assert plain(to_canonical(egress.body)) == plain(to_canonical(CODEX))


def test_codex_request_to_chat_drops_reasoning_and_keeps_custom_tools() -> None:
    egress = chat.from_canonical(to_canonical(CODEX), Target(model="gpt-4.1"))
    out = json.loads(egress.body)
    assert egress.dropped == ("thinking", "store", "include", "prompt_cache_key", "text", "reasoning")
    assert b"codex_reasoning_turn" not in egress.body  # no encrypted reasoning reaches another dialect
    assert out["reasoning_effort"] == "medium" and out["parallel_tool_calls"] is False
    assert [m["role"] for m in out["messages"]] == [
        "system", "system", "user", "user", "assistant", "tool", "assistant", "tool", "user"
    ]  # fmt: skip
    custom = out["tools"][1]
    assert custom == {
        "type": "custom",
        "custom": {k: v for k, v in json.loads(CODEX)["tools"][1].items() if k != "type"},
    }
    patch_call = out["messages"][6]
    assert patch_call["content"] == "The sign is dropped when the input starts with '-'. Patching it."
    assert patch_call["tool_calls"][0]["type"] == "custom"
    assert patch_call["tool_calls"][0]["custom"]["input"].startswith("*** Begin Patch\n")
    back = chat.to_canonical(egress.body)
    uses = [b for m in back.messages for b in m.content if isinstance(b, ToolUse)]
    assert [(u.id, u.kind) for u in uses] == [("call_Q1w2e3", "function"), ("call_R4t5y6", "custom")]


def test_codex_request_to_anthropic_wraps_the_freeform_tool() -> None:
    egress = anthropic.from_canonical(to_canonical(CODEX), Target(model="claude-sonnet-4-5", default_max_tokens=8000))
    out = json.loads(egress.body)
    assert "thinking" in egress.dropped and "tool format" in egress.dropped
    patch_tool = out["tools"][1]
    assert patch_tool["input_schema"]["required"] == ["input"]
    calls = [b for m in out["messages"] for b in m["content"] if isinstance(b, dict) and b["type"] == "tool_use"]
    assert calls[1]["input"] == {"input": json.loads(CODEX)["input"][8]["input"]}


# --- input items ---------------------------------------------------------------------------------------------------


def test_minimal_request_sends_nothing_it_was_not_given() -> None:
    req = canonical()
    assert req.messages == [Message(role="user", content=[Text(text="Hi")])]
    assert (req.max_tokens, req.tool_choice, req.reasoning, req.extras, req.stream) == (None, None, None, {}, False)
    assert wire(req, Target(model="gpt-5")) == {
        "model": "gpt-5",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
    }


def test_easy_messages_and_string_content() -> None:
    req = canonical(
        input=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {
                "role": "developer",
                "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
            },
        ],
        instructions="Top.",
    )
    assert [t.text for t in req.system] == ["Top.", "Be terse.", "a\nb"]
    assert req.messages == [
        Message(role="user", content=[Text(text="Hi")]),
        Message(role="assistant", content=[Text(text="Hello.")]),
    ]
    assert wire(req)["input"][0] == {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Be terse."}],
    }


def test_unmodelled_parts_and_items_stay_in_place() -> None:
    file_part = {"type": "input_file", "file_id": "file-abc"}
    file_image = {"type": "input_image", "file_id": "file-img", "detail": "high"}
    search = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    req = canonical(
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "look"}, file_part, file_image],
            },
            search,
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Found it."}]},
        ]
    )
    user, assistant = req.messages
    assert [b.dialect for b in user.content if isinstance(b, Opaque)] == ["openai_responses"] * 2 + [
        "openai_responses:item"
    ]
    assert [json.loads(bytes(b.raw)) for b in user.content if isinstance(b, Opaque)] == [file_part, file_image, search]
    out = wire(req)["input"]
    assert out[0]["content"][1:] == [file_part, file_image]
    assert out[1] == search and out[2]["role"] == "assistant"
    egress = chat.from_canonical(req, Target(model="gpt-4.1"))
    assert egress.dropped == ("opaque:openai_responses", "opaque:openai_responses:item")


def test_function_call_outputs_with_parts_and_odd_arguments() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    req = canonical(
        input=[
            {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": ""},
            {"type": "function_call", "call_id": "c2", "name": "echo", "arguments": "not json"},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "here"}, {"type": "input_image", "image_url": png}],
            },  # fmt: skip
            {"type": "function_call_output", "call_id": "c2", "output": ""},
        ]
    )
    calls, results = req.messages
    assert [raw_json(b.input) for b in calls.content if isinstance(b, ToolUse)] == [{}, "not json"]
    first, second = results.content
    assert isinstance(first, ToolResult) and first.content[0] == Text(text="here")
    assert isinstance(first.content[1], Image) and first.content[1].data == "iVBORw0KGgo="
    assert second == ToolResult(tool_use_id="c2", content=[])
    out = wire(req)["input"]
    assert [i.get("arguments") for i in out[:2]] == ["{}", "not json"]
    assert out[2]["output"] == [
        {"type": "input_text", "text": "here"},
        {"type": "input_image", "image_url": png, "detail": "auto"},
    ]
    assert out[3] == {"type": "function_call_output", "call_id": "c2", "output": ""}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "m", "input": [{"type": "message", "role": "tool", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"model": "m", "input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        (
            {"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0]",
        ),
    ],
)
def test_invalid_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_canonical(orjson.dumps(body))
    assert caught.value.param == param


def test_not_json() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        to_canonical(b"{nope")


# --- tools, choice, reasoning, extras ------------------------------------------------------------------------------


def test_hosted_tools_stay_raw_for_responses_and_are_reported_elsewhere() -> None:
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}, {"type": "web_search"}]
    req = canonical(
        tools=tools, tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]}
    )
    assert req.tools == [Tool(name="f", input_schema=Raw(b'{"type":"object"}'))]
    assert set(req.extras) == {"tools", "tool_choice"} and req.tool_choice is None
    out = wire(req)
    assert out["tools"] == tools and out["tool_choice"]["type"] == "allowed_tools"
    assert chat.from_canonical(req, Target(model="x")).dropped == ("tools", "tool_choice")
    req.tools.append(Tool(name="g"))  # a pipeline stage changed the tools: the canonical ones go
    egress = from_canonical(req, TARGET)
    assert [t["name"] for t in json.loads(egress.body)["tools"]] == ["f", "g"] and "tools" in egress.dropped


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", ToolChoice(mode="none")),
        ("required", ToolChoice(mode="any")),
        ({"type": "function", "name": "f"}, ToolChoice(mode="tool", name="f")),
        ({"type": "custom", "name": "patch"}, ToolChoice(mode="tool", name="patch")),
    ],
)
def test_tool_choice_both_ways(choice: Any, expected: ToolChoice) -> None:
    tools = [{"type": "function", "name": "f"}, {"type": "custom", "name": "patch"}]
    req = canonical(tools=tools, tool_choice=choice)
    assert req.tool_choice == expected
    assert wire(req)["tool_choice"] == choice


def test_tool_choice_is_not_sent_without_tools() -> None:
    req = canonical(tool_choice="required", parallel_tool_calls=True)
    assert req.tool_choice == ToolChoice(mode="any", parallel=True)
    out = wire(req)
    assert "tool_choice" not in out and "parallel_tool_calls" not in out


def test_sampling_limits_and_user() -> None:
    req = canonical(max_output_tokens=300, temperature=0.2, top_p=0.9, user="u-1", reasoning={"effort": "none"})
    assert (req.max_tokens, req.temperature, req.top_p, req.user) == (300, 0.2, 0.9, "u-1")
    assert req.reasoning == Reasoning(enabled=False, effort="none")
    out = wire(req, Target(model="gpt-5"))
    assert {k: out[k] for k in ("max_output_tokens", "temperature", "top_p", "user", "reasoning")} == {
        "max_output_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "reasoning": {"effort": "none"},
    }


def test_foreign_request_goes_out_unstored_with_encrypted_reasoning() -> None:
    """An Anthropic client's thinking budget becomes an effort; nothing is stored upstream, and the encrypted
    reasoning comes back so the next turn can carry it."""
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 20000,
        "thinking": {"type": "enabled", "budget_tokens": 6000},
        "stop_sequences": ["END"],
        "system": "x-anthropic-billing-header: cc_version=2.1; cch=abc\nYou are Claude Code.",
        "messages": [{"role": "user", "content": "hi"}],
    }
    req = anthropic.to_canonical(orjson.dumps(body))
    egress = from_canonical(req, Target(model="gpt-5"))
    out = json.loads(egress.body)
    assert out["instructions"] == "You are Claude Code."
    assert out["reasoning"] == {"effort": "medium"} and out["max_output_tokens"] == 20000
    assert out["store"] is False and out["include"] == ["reasoning.encrypted_content"]
    assert egress.dropped == ("stop",)


def test_same_dialect_fields_win_and_stay_raw() -> None:
    body = {"store": True, "previous_response_id": "resp_1", "metadata": {"k": "v"}, "truncation": "auto"}
    out = wire(canonical(**body))
    assert {k: out[k] for k in body} == body


def test_thinking_goes_back_only_when_ours_and_signed() -> None:
    req = canonical()
    req.messages.append(
        Message(
            role="assistant",
            content=[
                Thinking(text="ours", signature="gAAAA-ours", origin="openai_responses"),
                Thinking(text="unsigned", origin="openai_responses"),
                Thinking(text="claude's", signature="EqQB", origin="anthropic"),
                Text(text="ok"),
            ],
        )
    )
    egress = from_canonical(req, TARGET)
    reasoning = [i for i in json.loads(egress.body)["input"] if i["type"] == "reasoning"]
    assert reasoning == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "ours"}], "encrypted_content": "gAAAA-ours"}
    ]
    assert egress.dropped == ("thinking",)


def test_marked_reasoning_replayed_by_a_client_keeps_its_origin() -> None:
    """Reasoning we gave a Responses client from another upstream comes back to that upstream's dialect."""
    req = canonical(
        input=[
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": "weir:v1:anthropic:EqQBsig"},
            {"type": "reasoning", "summary": [], "encrypted_content": "weir:v1r:anthropic:EmwKredacted"},
            {"role": "assistant", "content": "ok"},
        ]
    )
    signed, redacted, _ = req.messages[1].content
    assert signed == Thinking(signature="EqQBsig", origin="anthropic")
    assert redacted == Thinking(redacted="EmwKredacted", origin="anthropic")
    assert b"EqQBsig" not in from_canonical(req, TARGET).body  # never to OpenAI
    sent = json.loads(anthropic.from_canonical(req, Target(model="claude")).body)
    assert sent["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "", "signature": "EqQBsig"},
        {"type": "redacted_thinking", "data": "EmwKredacted"},
    ]


def test_tolerant_of_older_codex_shapes() -> None:
    """A failed call's output as an object (older Codex), reasoning with a null summary and raw reasoning text."""
    req = canonical(
        input=[
            {"type": "reasoning", "summary": None, "content": [{"type": "reasoning_text", "text": "raw thoughts"}]},
            {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": {"content": "exit 1", "success": False}},
        ]
    )
    assistant, results = req.messages
    assert assistant.content[0] == Thinking(text="raw thoughts", origin="openai_responses")
    assert results.content == [ToolResult(tool_use_id="c1", content=[Text(text="exit 1")], is_error=True)]
    egress = from_canonical(req, TARGET)
    assert json.loads(egress.body)["input"][-1] == {"type": "function_call_output", "call_id": "c1", "output": "exit 1"}
    assert egress.dropped == ("thinking", "tool_result.is_error")  # unsigned reasoning; no error flag in Responses
