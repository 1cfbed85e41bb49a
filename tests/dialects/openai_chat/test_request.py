"""OpenAI chat request bodies <-> canonical Request."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from msgspec import Raw

from weir.canonical.content import Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message, Reasoning, Request, Tool, ToolChoice
from weir.dialects.base import Egress, Target
from weir.dialects.openai_chat.request import from_canonical, to_canonical
from weir.errors import InvalidRequest

TARGET = Target(model="gpt-4.1-2025-04-14")
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def canonical(**body: Any) -> Request:
    body.setdefault("model", "gpt-4.1")
    body.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return to_canonical(orjson.dumps(body))


def wire(req: Request, target: Target = TARGET) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(from_canonical(req, target).body)
    return out


def raw_json(raw: Raw | None) -> Any:
    assert raw is not None
    return json.loads(bytes(raw))


# --- to_canonical --------------------------------------------------------------------------------------------------


def test_minimal_request_sends_nothing_it_was_not_given() -> None:
    req = canonical()
    assert req.messages == [Message(role="user", content=[Text(text="Hi")])]
    assert (req.max_tokens, req.temperature, req.tool_choice, req.stream, req.extras) == (None, None, None, False, {})
    assert wire(req) == {"model": TARGET.model, "messages": [{"role": "user", "content": "Hi"}]}


def test_system_and_developer_messages_in_order() -> None:
    req = canonical(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Two."}]},
            {"role": "system", "content": ""},
        ]
    )
    assert req.system == [Text(text="You are terse."), Text(text="Rule one.\nTwo.")]
    assert req.messages == [Message(role="user", content=[Text(text="Hi")])]
    assert wire(req)["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": "Rule one.\nTwo."},
        {"role": "user", "content": "Hi"},
    ]


def test_billing_header_is_stripped() -> None:
    header = "x-anthropic-billing-header: cc_version=2.1.3.a1b; cc_entrypoint=cli; cch=4f2e1;"
    req = Request(
        model="claude",
        system=[Text(text=header), Text(text=header + "\nYou are Claude Code."), Text(text="Be careful.")],
        messages=[Message(role="user", content=[Text(text="Hi")])],
    )
    assert wire(req)["messages"][:2] == [
        {"role": "system", "content": "You are Claude Code."},
        {"role": "system", "content": "Be careful."},
    ]


def test_user_parts_images_and_opaque() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        audio,
    ]
    req = canonical(messages=[{"role": "user", "content": parts}])
    content = req.messages[0].content
    assert content[:3] == [
        Text(text="What is in these?"),
        Image(media_type="image/png", data="iVBORw0KGgo=", detail="high"),
        Image(url="https://example.com/cat.jpg"),
    ]
    assert isinstance(content[3], Opaque) and content[3].dialect == "openai_chat"
    assert raw_json(content[3].raw) == audio
    assert wire(req)["messages"] == [{"role": "user", "content": parts}]


def test_a_data_url_that_is_not_base64_stays_a_url() -> None:
    url = "data:image/svg+xml,%3Csvg%3E%3C/svg%3E"
    req = canonical(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
    assert req.messages[0].content == [Image(url=url)]


def test_assistant_tool_calls_and_reasoning() -> None:
    calls: list[dict[str, Any]] = [
        {"id": "call_A", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_B", "type": "function", "function": {"name": "now", "arguments": ""}},
        {"id": "call_C", "type": "function", "function": {"name": "bad", "arguments": '{"city": "Par'}},
        {"id": "call_D", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin Patch"}},
    ]
    msg = {"role": "assistant", "content": None, "reasoning_content": "Two calls.", "tool_calls": calls}
    req = canonical(messages=[{"role": "user", "content": "Weather?"}, msg])
    content = req.messages[1].content
    assert content[0] == Thinking(text="Two calls.", origin="openai_chat")
    uses = content[1:]
    assert all(isinstance(u, ToolUse) for u in uses)
    assert [(u.id, u.name, bytes(u.input), u.kind) for u in uses] == [  # type: ignore[union-attr]
        ("call_A", "get_weather", b'{"city": "Paris"}', "function"),  # byte for byte
        ("call_B", "now", b"{}", "function"),  # no arguments: an empty object
        ("call_C", "bad", b'"{\\"city\\": \\"Par"', "function"),  # not JSON: kept whole, as a JSON string
        ("call_D", "apply_patch", b'"*** Begin Patch"', "custom"),
    ]
    out = from_canonical(req, TARGET)
    assert out.dropped == ("thinking",)  # OpenAI reasoning is never signed: it does not go back
    sent = json.loads(out.body)["messages"][1]
    assert sent["content"] is None
    calls[1]["function"]["arguments"] = "{}"
    assert sent["tool_calls"] == calls


def test_assistant_text_and_refusal() -> None:
    req = canonical(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
            {"role": "user", "content": "And?"},
            {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        ]
    )
    assert req.messages[1].content == [Text(text="Hel"), Text(text="lo")]
    assert req.messages[3].content == [Text(text="I can't help with that.")]
    sent = wire(req)["messages"]
    assert sent[1] == {"role": "assistant", "content": "Hello"}
    assert sent[3] == {"role": "assistant", "content": "I can't help with that."}


def test_tool_messages_merge_with_the_next_user_message() -> None:
    call = {"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", **call}, {"id": "c2", **call}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "25C"}]},
        {"role": "user", "content": "Which is warmer?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c3", **call}]},
        {"role": "tool", "tool_call_id": "c3", "content": ""},
    ]
    req = canonical(messages=messages)
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert req.messages[2].content == [
        ToolResult(tool_use_id="c1", content=[Text(text="18C")]),
        ToolResult(tool_use_id="c2", content=[Text(text="25C")]),
        Text(text="Which is warmer?"),
    ]
    assert req.messages[4].content == [ToolResult(tool_use_id="c3", content=[])]
    messages[3]["content"] = "25C"
    assert wire(req)["messages"] == messages


def test_tool_result_images_move_to_a_user_message() -> None:
    result = ToolResult(
        tool_use_id="toolu_01",
        content=[Text(text="Screenshot taken."), Image(media_type="image/png", data="AAAA")],
        is_error=True,
    )
    req = Request(model="m", messages=[Message(role="user", content=[Text(text="Look:"), result, Text(text="Thanks")])])
    out = from_canonical(req, TARGET)
    assert out.dropped == ("tool_result.is_error",)
    assert json.loads(out.body)["messages"] == [
        {"role": "tool", "tool_call_id": "toolu_01", "content": "Screenshot taken."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "Look:"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


def test_foreign_opaque_blocks_are_dropped_and_listed() -> None:
    doc = Opaque(dialect="anthropic_messages", raw=Raw(b'{"type":"document"}'))
    req = Request(model="m", messages=[Message(role="user", content=[Text(text="Read this"), doc])])
    out = from_canonical(req, TARGET)
    assert out.dropped == ("opaque:anthropic_messages",)
    assert json.loads(out.body)["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Read this"}]}]


def test_tools() -> None:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER}},
        {"type": "function", "function": {"name": "noop", "strict": True}},
        {"type": "custom", "custom": {"name": "apply_patch", "format": {"type": "grammar", "grammar": {"x": 1}}}},
    ]
    req = canonical(tools=tools)
    assert [(t.name, t.description, t.kind, t.strict) for t in req.tools] == [
        ("get_weather", "Weather", "function", None),
        ("noop", None, "function", True),
        ("apply_patch", None, "custom", None),
    ]
    assert raw_json(req.tools[0].input_schema) == WEATHER
    assert raw_json(req.tools[2].format) == {"type": "grammar", "grammar": {"x": 1}}
    assert wire(req)["tools"] == tools


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]


@pytest.mark.parametrize(
    ("sent", "choice", "back"),
    [
        ({"tool_choice": "auto"}, ToolChoice(mode="auto"), {"tool_choice": "auto"}),
        ({"tool_choice": "none"}, ToolChoice(mode="none"), {"tool_choice": "none"}),
        ({"tool_choice": "required"}, ToolChoice(mode="any"), {"tool_choice": "required"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            ToolChoice(mode="tool", name="get_weather"),
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        ),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            ToolChoice(mode="any", parallel=False),
            {"tool_choice": "required", "parallel_tool_calls": False},
        ),
        (
            {"parallel_tool_calls": False},
            ToolChoice(mode="auto", parallel=False),
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
        ({"parallel_tool_calls": True}, ToolChoice(mode="auto", parallel=True), None),
        ({}, None, {}),
    ],
)
def test_tool_choice(sent: dict[str, Any], choice: ToolChoice | None, back: dict[str, Any] | None) -> None:
    req = canonical(tools=TOOLS, **sent)
    assert req.tool_choice == choice
    body = wire(req)
    expected = {"tool_choice": "auto", "parallel_tool_calls": True} if back is None else back
    assert {k: body[k] for k in ("tool_choice", "parallel_tool_calls") if k in body} == expected


def test_tool_choice_is_not_sent_without_tools() -> None:
    req = Request(model="m", messages=[], tool_choice=ToolChoice(mode="any", parallel=False))
    assert "tool_choice" not in wire(req) and "parallel_tool_calls" not in wire(req)


def test_named_custom_tool_choice() -> None:
    tools = [{"type": "custom", "custom": {"name": "apply_patch"}}]
    choice = {"type": "custom", "custom": {"name": "apply_patch"}}
    req = canonical(tools=tools, tool_choice=choice)
    assert req.tool_choice == ToolChoice(mode="tool", name="apply_patch")
    assert wire(req)["tool_choice"] == choice


def test_a_tool_choice_kind_we_do_not_model_goes_only_to_openai() -> None:
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function"}]}}
    req = canonical(tools=TOOLS, tool_choice=allowed, parallel_tool_calls=False)
    assert req.tool_choice == ToolChoice(mode="auto", parallel=False) and "tool_choice" in req.extras
    body = wire(req)
    assert body["tool_choice"] == allowed and body["parallel_tool_calls"] is False
    req.extras_dialect = "anthropic_messages"
    assert from_canonical(req, TARGET).dropped == ("tool_choice",)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [({"max_completion_tokens": 500, "max_tokens": 100}, 500), ({"max_tokens": 100}, 100), ({}, None)],
)
def test_max_tokens(sent: dict[str, Any], expected: int | None) -> None:
    req = canonical(**sent)
    assert req.max_tokens == expected
    body = wire(req)
    assert body.get("max_completion_tokens") == expected and "max_tokens" not in body


def test_sampling_stop_user_reasoning_stream() -> None:
    req = canonical(temperature=0.2, top_p=1, stop="END", user="u-42", reasoning_effort="high", stream=True)
    assert (req.temperature, req.top_p, req.stop, req.user) == (0.2, 1.0, ["END"], "u-42")
    assert req.reasoning == Reasoning(effort="high") and req.stream
    assert canonical(stop=["a", "b"], reasoning_effort="none").stop == ["a", "b"]
    assert canonical(reasoning_effort="none").reasoning == Reasoning(enabled=False, effort="none")
    body = wire(req, Target(model="o3", stream=True))
    assert {k: body[k] for k in ("temperature", "top_p", "stop", "user", "reasoning_effort")} == {
        "temperature": 0.2,
        "top_p": 1.0,
        "stop": ["END"],
        "user": "u-42",
        "reasoning_effort": "high",
    }
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in wire(req, Target(model="o3", stream=False))


def test_extras_go_only_to_the_same_dialect() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": WEATHER}}
    req = canonical(seed=7, response_format=fmt, n=1, stream_options={"include_usage": False}, top_logprobs=None)
    assert set(req.extras) == {"seed", "response_format", "n", "top_logprobs"}  # stream_options: the pipeline's
    assert req.extras_dialect == "openai_chat"
    out = from_canonical(req, TARGET)
    body = json.loads(out.body)
    assert (body["seed"], body["response_format"], body["n"], body["top_logprobs"]) == (7, fmt, 1, None)
    assert out.dropped == ()
    req.extras_dialect = "anthropic_messages"
    req.top_k = 40
    out = from_canonical(req, TARGET)
    assert out.dropped == ("top_k", "seed", "response_format", "n", "top_logprobs")
    assert "seed" not in json.loads(out.body)


def test_reasoning_budget_without_effort_is_listed() -> None:
    req = Request(model="m", messages=[], reasoning=Reasoning(budget_tokens=2048))
    out = from_canonical(req, TARGET)
    assert out.dropped == ("reasoning.budget_tokens",) and "reasoning_effort" not in json.loads(out.body)


def test_wire_round_trip_of_a_full_conversation() -> None:
    body = {
        "model": TARGET.model,
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "file", "file": {"id": "f"}}]},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "assistant", "content": "It is 18C."},
        ],
        "tools": TOOLS,
        "tool_choice": "auto",
        "max_completion_tokens": 256,
        "temperature": 0.5,
        "stop": ["\n\n"],
        "user": "u-1",
        "metadata": {"trace": "abc"},
    }
    assert json.loads(from_canonical(to_canonical(orjson.dumps(body)), TARGET).body) == body


def test_canonical_round_trip() -> None:
    req = Request(
        model=TARGET.model,
        system=[Text(text="Be brief.")],
        messages=[
            Message(role="user", content=[Text(text="Describe"), Image(url="https://example.com/a.png")]),
            Message(
                role="assistant",
                content=[Text(text="Looking."), ToolUse(id="toolu_1", name="zoom", input=Raw(b'{"x":1}'))],
            ),
            Message(role="user", content=[ToolResult(tool_use_id="toolu_1", content=[Text(text="zoomed")])]),
        ],
        tools=[Tool(name="zoom", input_schema=Raw(b'{"type":"object"}'))],
        tool_choice=ToolChoice(mode="any", parallel=False),
        max_tokens=100,
        extras_dialect="openai_chat",
    )
    egress = from_canonical(req, TARGET)
    assert egress == Egress(body=egress.body, dropped=())
    back = to_canonical(egress.body)
    assert back.system == req.system and back.messages == req.messages and back.tool_choice == req.tool_choice
    assert [(t.name, bytes(t.input_schema or b"")) for t in back.tools] == [("zoom", b'{"type":"object"}')]
    assert back.max_tokens == 100


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 3}]},
            "messages[1].content",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}]}],
            },
            "messages[0].content[1].image_url",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 1}}]}]},
            "messages[0].content[0].image_url.url",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
            },
            "messages[0].content[0]",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
            "messages[0].tool_calls[0].function",
        ),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": 3}, "tool_choice"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web"}]}, "tools[0].type"),
    ],
)
def test_invalid_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        to_canonical(orjson.dumps(body))
    assert info.value.param == param
    assert info.value.status == 400 and param in info.value.message


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'"x"'])
def test_a_body_that_is_not_an_object(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        to_canonical(body)


def test_tool_result_with_openai_parts_keeps_them() -> None:
    file_part = {"type": "file", "file": {"file_id": "file-abc"}}
    messages = [
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "See file"}, file_part]},
    ]
    req = canonical(messages=messages)
    result = req.messages[0].content[0]
    assert isinstance(result, ToolResult) and isinstance(result.content[1], Opaque)
    assert wire(req)["messages"] == [
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "See file"}, file_part]}
    ]
