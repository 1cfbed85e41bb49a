from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from tests.dialects.anthropic_messages.support import fixture
from weir.canonical.content import Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message, Reasoning, Request, Tool, ToolChoice
from weir.dialects.anthropic_messages.request import from_canonical, to_canonical
from weir.dialects.base import Target
from weir.errors import InvalidRequest

TARGET = Target(model="claude-up", default_max_tokens=8192)
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def body(**fields: Any) -> bytes:
    base: dict[str, Any] = {"model": "claude-x", "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps(base | fields).encode()


def out(req: Request, target: Target = TARGET) -> tuple[dict[str, Any], tuple[str, ...]]:
    egress = from_canonical(req, target)
    return json.loads(egress.body), egress.dropped


def canonical(*messages: Message, **fields: Any) -> Request:
    return Request(model="any", messages=list(messages), **fields)


def user(*content: Any) -> Message:
    return Message(role="user", content=list(content))


def assistant(*content: Any) -> Message:
    return Message(role="assistant", content=list(content))


def normalized(wire: dict[str, Any]) -> dict[str, Any]:
    """Equivalent spellings made equal: string content as one text block, is_error false as absent."""

    def blocks(content: Any) -> Any:
        return [{"type": "text", "text": content}] if isinstance(content, str) else content

    wire = json.loads(json.dumps(wire))
    for message in wire["messages"]:
        message["content"] = blocks(message["content"])
        for block in message["content"]:
            if block["type"] == "tool_result":
                block["content"] = blocks(block.get("content", []))
                if block.get("is_error") is False:
                    del block["is_error"]
    return wire


def test_claude_code_request_goes_back_to_anthropic_as_sent() -> None:
    sent = fixture("claude_code_request.json")
    req = to_canonical(sent)
    wire, dropped = out(req, Target(model="claude-sonnet-4-5-20250929"))
    assert dropped == ()
    assert normalized(wire) == normalized(json.loads(sent))


def test_claude_code_request_in_canonical_form() -> None:
    req = to_canonical(fixture("claude_code_request.json"))
    assert req.model == "claude-sonnet-4-5-20250929" and req.max_tokens == 32000 and req.stream
    assert [t.text[:26] for t in req.system] == [
        "x-anthropic-billing-header",
        "You are Claude Code, Anthr",
        "You are an interactive CLI",
    ]
    assert [t.cache_control is not None for t in req.system] == [False, True, True]
    assert [t.name for t in req.tools] == ["Read", "Bash"]  # web_search is a server tool: only in extras
    assert set(req.extras) == {"tools", "context_management"} and req.extras_dialect == "anthropic_messages"
    assert req.reasoning == Reasoning(enabled=True, effort="high")
    assert req.tool_choice == ToolChoice(mode="auto")
    assert req.user == "user_5e1f0c_account__session_7d4c"
    thinking, redacted, text, use = req.messages[1].content
    assert isinstance(thinking, Thinking) and thinking.origin == "anthropic"
    assert thinking.text == 'I should read the file first. Café ☃ "quoted" \\ backslash'
    assert thinking.signature is not None and thinking.signature.startswith("ErUBCkYIBxgCIkB3")
    assert redacted == Thinking(
        redacted="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj",
        origin="anthropic",
    )
    assert text == Text(text="I'll read the file.")
    assert isinstance(use, ToolUse) and json.loads(bytes(use.input)) == {"file_path": "/repo/src/app.py", "limit": 200}
    result, document, last = req.messages[2].content
    assert isinstance(result, ToolResult) and result.tool_use_id == use.id
    assert isinstance(result.content[1], Opaque)  # tool_reference: not modelled, carried
    assert json.loads(bytes(result.content[1].raw)) == {
        "type": "tool_reference",
        "tool_name": "mcp__github__search_code",
    }
    assert isinstance(document, Opaque) and document.dialect == "anthropic_messages"
    assert isinstance(last, Text) and last.cache_control is not None


def test_claude_code_request_to_a_foreign_dialect_lists_what_is_anthropic_only() -> None:
    req = to_canonical(fixture("claude_code_request.json"))
    req.extras_dialect = "openai_chat"  # as if another dialect had produced it
    _, dropped = out(req)
    assert set(dropped) == {"tools", "context_management"}


def test_string_system_and_content() -> None:
    req = to_canonical(body(system="Be brief.", messages=[{"role": "user", "content": "Hello"}]))
    assert req.system == [Text(text="Be brief.")]
    assert req.messages == [user(Text(text="Hello"))]
    wire, _ = out(req)
    assert wire["system"] == "Be brief."
    assert wire["messages"] == [{"role": "user", "content": "Hello"}]
    assert wire["model"] == "claude-up" and wire["max_tokens"] == 1024


def test_system_blocks_keep_cache_control() -> None:
    system = [
        {"type": "text", "text": "A", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "B"},
    ]
    req = to_canonical(body(system=system))
    assert [t.text for t in req.system] == ["A", "B"]
    assert req.system[0].cache_control is not None and json.loads(bytes(req.system[0].cache_control)) == {
        "type": "ephemeral",
        "ttl": "1h",
    }
    assert out(req)[0]["system"] == system
    one = to_canonical(body(system=[{"type": "text", "text": "Only"}]))
    assert out(one)[0]["system"] == "Only"  # a single plain block is written as a string


def test_images_base64_and_url() -> None:
    png = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    url = {"type": "url", "url": "https://example.com/cat.jpg"}
    content = [{"type": "image", "source": png}, {"type": "image", "source": url}, {"type": "text", "text": "?"}]
    req = to_canonical(body(messages=[{"role": "user", "content": content}]))
    assert req.messages[0].content[:2] == [
        Image(media_type="image/png", data="iVBORw0KGgo="),
        Image(url="https://example.com/cat.jpg"),
    ]
    assert out(req)[0]["messages"][0]["content"] == content


def test_images_anthropic_cannot_take_are_listed() -> None:
    req = canonical(
        user(
            Image(media_type="image/svg+xml", data="PHN2Zz4="),
            Image(url="data:image/jpeg;base64,/9j/4AAQ"),
            Image(data="R0lGODlhAQABAAAAACw="),  # no media type: sniffed (GIF)
            Text(text="look"),
        )
    )
    wire, dropped = out(req)
    assert wire["messages"][0]["content"][:2] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lGODlhAQABAAAAACw="}},
    ]
    assert dropped == ("image (image/svg+xml)",)


TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
    {"name": "now", "input_schema": {"type": "object", "properties": {}}},
]


def test_tools_round_trip() -> None:
    req = to_canonical(body(tools=TOOLS))
    assert [(t.name, t.description, t.kind) for t in req.tools] == [
        ("get_weather", "Weather for a city", "function"),
        ("now", None, "function"),
    ]
    assert req.extras == {}  # nothing the canonical tools cannot say
    assert out(req)[0]["tools"] == TOOLS


def test_tool_without_schema_gets_an_empty_object_schema() -> None:
    wire, _ = out(canonical(user(Text(text="hi")), tools=[Tool(name="ping")]))
    assert wire["tools"] == [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]


def test_custom_tool_becomes_a_function_with_one_string_argument() -> None:
    grammar = msgspec.Raw(b'{"type":"grammar","syntax":"lark","definition":"start: /.+/"}')
    req = canonical(
        user(Text(text="patch it")),
        assistant(ToolUse(id="call_1", name="apply_patch", input=msgspec.Raw(b'"*** Begin Patch"'), kind="custom")),
        tools=[Tool(name="apply_patch", description="Apply a patch", kind="custom", format=grammar)],
    )
    wire, dropped = out(req)
    tool = wire["tools"][0]
    assert tool["input_schema"] == {
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
    }
    assert tool["description"].startswith("Apply a patch\n\nThe input must match this grammar: ")
    assert wire["messages"][1]["content"][0]["input"] == {"input": "*** Begin Patch"}
    assert dropped == ("tool format",)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice(mode="auto")),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoice(mode="any", parallel=False)),
        ({"type": "auto", "disable_parallel_tool_use": False}, ToolChoice(mode="auto", parallel=True)),
        (
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
            ToolChoice(mode="tool", name="get_weather", parallel=False),
        ),
        ({"type": "none"}, ToolChoice(mode="none")),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice) -> None:
    req = to_canonical(body(tools=TOOLS, tool_choice=choice))
    assert req.tool_choice == expected
    assert out(req)[0]["tool_choice"] == choice


def test_parallel_false_from_another_dialect_disables_parallel_tool_use() -> None:
    req = canonical(user(Text(text="hi")), tools=[Tool(name="t")], tool_choice=ToolChoice(mode="auto", parallel=False))
    assert out(req)[0]["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_tool_ids_are_sanitized_identically_on_both_sides() -> None:
    req = canonical(
        user(Text(text="read it")),
        assistant(
            ToolUse(id="functions.Read:0", name="Read", input=msgspec.Raw(b'{"path":"a"}')),
            ToolUse(id="functions.Read:1", name="Read", input=msgspec.Raw(b'{"path":"b"}')),
        ),
        user(ToolResult(tool_use_id="functions.Read:0", content=[Text(text="A")])),
        user(ToolResult(tool_use_id="functions.Read:1", content=[Text(text="B")], is_error=True)),
    )
    wire, _ = out(req)
    uses = [b["id"] for b in wire["messages"][1]["content"]]
    results = wire["messages"][2]["content"]  # the two user turns are merged into one
    assert [r["tool_use_id"] for r in results] == uses
    assert all(TOOL_ID.match(i) for i in uses) and uses[0] != uses[1]
    assert results == [
        {"type": "tool_result", "tool_use_id": uses[0], "content": "A"},
        {"type": "tool_result", "tool_use_id": uses[1], "content": "B", "is_error": True},
    ]


def test_tool_result_with_images_and_error() -> None:
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "is_error": True,
        "content": [
            {"type": "text", "text": "see"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklGR"}},
        ],
        "cache_control": {"type": "ephemeral"},
    }
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [result]},
    ]
    req = to_canonical(body(messages=messages))
    block = req.messages[2].content[0]
    assert isinstance(block, ToolResult) and block.is_error and block.cache_control is not None
    assert block.content == [Text(text="see"), Image(media_type="image/webp", data="UklGR")]
    assert out(req)[0]["messages"][2]["content"] == [result]


def test_thinking_round_trips_byte_for_byte() -> None:
    signed = {"type": "thinking", "thinking": 'Line 1\nCafé "ok" \\ ☃', "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h+/="}
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
    use = {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}}
    messages = [{"role": "user", "content": "w?"}, {"role": "assistant", "content": [signed, redacted, use]}]
    req = to_canonical(body(messages=messages))
    assert req.messages[1].content[:2] == [
        Thinking(text=signed["thinking"], signature=signed["signature"], origin="anthropic"),
        Thinking(redacted=redacted["data"], origin="anthropic"),
    ]
    sent = from_canonical(req, TARGET).body
    assert json.loads(sent)["messages"][1]["content"] == [signed, redacted, use]
    # the strings themselves, as encoded: what Anthropic verifies the signature against
    assert json.dumps(signed["signature"]).encode() in sent and b"EmwKAhgBEgy3va3pzix/LafPsn4a" in sent


def test_thinking_goes_first_in_the_assistant_turn() -> None:
    req = canonical(
        user(Text(text="q")),
        assistant(Text(text="a")),
        assistant(Thinking(text="t", signature="sig", origin="anthropic_messages"), Text(text="b")),
    )
    wire, _ = out(req)
    assert wire["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]


@pytest.mark.parametrize(
    "block",
    [
        Thinking(text="reasoning from DeepSeek", origin="openai_chat"),
        Thinking(text="signed by Gemini", signature="CiQB", origin="gemini"),
        Thinking(text="Anthropic but unsigned", origin="anthropic"),
        Thinking(redacted="xyz", origin="openai_responses"),
    ],
)
def test_thinking_anthropic_cannot_verify_is_dropped_and_listed(block: Thinking) -> None:
    req = canonical(user(Text(text="q")), assistant(block, Text(text="answer")))
    wire, dropped = out(req)
    assert wire["messages"][1] == {"role": "assistant", "content": "answer"}
    assert dropped == ("thinking",)


def test_replayed_foreign_thinking_is_recognised_and_not_sent_to_anthropic() -> None:
    replay = {"type": "thinking", "thinking": "hmm", "signature": "weir:v1:openai_chat:enc-123"}
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [replay, {"type": "text", "text": "a"}]},
    ]
    req = to_canonical(body(messages=messages))
    assert req.messages[1].content[0] == Thinking(text="hmm", signature="enc-123", origin="openai_chat")
    wire, dropped = out(req)
    assert wire["messages"][1]["content"] == "a" and dropped == ("thinking",)


def test_max_tokens_defaults_from_target() -> None:
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = to_canonical(raw)
    assert req.max_tokens is None
    assert out(req)[0]["max_tokens"] == 8192


def test_consecutive_same_role_messages_are_merged_and_empty_ones_left_out() -> None:
    req = canonical(
        user(Text(text="one")),
        user(Text(text="two")),
        assistant(Thinking(text="foreign", origin="openai_chat")),  # empty once its thinking is dropped
        assistant(Text(text="")),
        assistant(Text(text="reply")),
        user(Text(text="more"), ToolResult(tool_use_id="t1", content=[Text(text="r")])),
    )
    wire, _ = out(req)
    assert wire["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "reply"},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}, {"type": "text", "text": "more"}],
        },
    ]


def test_extras_kept_for_anthropic_and_listed_for_others() -> None:
    req = to_canonical(body(service_tier="auto", container="cntr_1", mcp_servers=[{"type": "url", "url": "https://m"}]))
    assert set(req.extras) == {"service_tier", "container", "mcp_servers"}
    wire, dropped = out(req)
    assert (wire["service_tier"], wire["container"], wire["mcp_servers"]) == (
        "auto",
        "cntr_1",
        [{"type": "url", "url": "https://m"}],
    )
    assert dropped == ()
    foreign = canonical(user(Text(text="hi")), extras={"seed": msgspec.Raw(b"7")}, extras_dialect="openai_chat")
    wire, dropped = out(foreign)
    assert "seed" not in wire and dropped == ("seed",)


def test_opaque_kept_for_anthropic_and_listed_for_others() -> None:
    doc = b'{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}'
    req = canonical(
        user(
            Opaque(dialect="anthropic_messages", raw=msgspec.Raw(doc)), Opaque(dialect="gemini", raw=msgspec.Raw(b"{}"))
        )
    )
    wire, dropped = out(req)
    assert wire["messages"][0]["content"] == [json.loads(doc)]
    assert dropped == ("gemini content",)


def test_server_tools_are_carried_raw_to_anthropic() -> None:
    tools = [*TOOLS, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]
    req = to_canonical(body(tools=tools))
    assert [t.name for t in req.tools] == ["get_weather", "now"]
    assert json.loads(bytes(req.extras["tools"])) == tools
    assert out(req)[0]["tools"] == tools
    req.tools = req.tools[:1]  # a pipeline stage changed the tools: the canonical ones win
    assert out(req)[0]["tools"] == TOOLS[:1]


@pytest.mark.parametrize(
    ("thinking", "config", "reasoning", "extras"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, None, Reasoning(budget_tokens=2048), set()),
        ({"type": "adaptive"}, {"effort": "medium"}, Reasoning(effort="medium"), set()),
        ({"type": "adaptive", "display": "omitted"}, None, Reasoning(), {"thinking"}),
        ({"type": "disabled"}, None, Reasoning(enabled=False), {"thinking"}),
        (None, {"effort": "low"}, Reasoning(enabled=False, effort="low"), set()),
        (
            None,
            {"effort": "high", "format": {"type": "json_schema", "schema": {}}},
            Reasoning(enabled=False, effort="high"),
            {"output_config"},
        ),
    ],
)
def test_thinking_and_effort_round_trip(
    thinking: dict[str, Any] | None, config: dict[str, Any] | None, reasoning: Reasoning, extras: set[str]
) -> None:
    fields = {k: v for k, v in {"thinking": thinking, "output_config": config}.items() if v is not None}
    req = to_canonical(body(max_tokens=4096, **fields))
    assert req.reasoning == reasoning
    assert set(req.extras) == extras
    wire, _ = out(req)
    assert {k: wire[k] for k in ("thinking", "output_config") if k in wire} == fields


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking"),
    [
        (Reasoning(effort="low"), 8000, {"type": "enabled", "budget_tokens": 1024}),
        (Reasoning(effort="medium"), 8000, {"type": "enabled", "budget_tokens": 4096}),
        (Reasoning(effort="high"), 32000, {"type": "enabled", "budget_tokens": 16384}),
        (Reasoning(effort="high"), 8000, {"type": "enabled", "budget_tokens": 7999}),
        (Reasoning(budget_tokens=3000), 8000, {"type": "enabled", "budget_tokens": 3000}),
        (Reasoning(enabled=False, effort="high"), 8000, None),
    ],
)
def test_reasoning_from_another_dialect_becomes_a_budget(reasoning: Reasoning, max_tokens: int, thinking: Any) -> None:
    req = canonical(user(Text(text="q")), reasoning=reasoning, max_tokens=max_tokens, extras_dialect="openai_chat")
    wire, dropped = out(req)
    assert wire.get("thinking") == thinking
    assert "output_config" not in wire and dropped == ()


def test_reasoning_that_cannot_fit_is_listed() -> None:
    small = canonical(user(Text(text="q")), reasoning=Reasoning(effort="high"), max_tokens=1000)
    forced = canonical(
        user(Text(text="q")),
        reasoning=Reasoning(effort="high"),
        tools=[Tool(name="t")],
        tool_choice=ToolChoice(mode="any"),
    )
    for req in (small, forced):
        wire, dropped = out(req)
        assert "thinking" not in wire and dropped == ("reasoning",)


def test_sampling_thinking_refuses_is_dropped_for_other_dialects() -> None:
    req = canonical(user(Text(text="q")), reasoning=Reasoning(effort="low"), temperature=0.2, top_p=0.9, top_k=40)
    wire, dropped = out(req)
    assert not {"temperature", "top_p", "top_k"} & set(wire)
    assert dropped == ("temperature", "top_p", "top_k")
    plain = canonical(user(Text(text="q")), temperature=0.2, top_p=0.9, top_k=40, stop=["END"], stream=True, user="u-7")
    wire, dropped = out(plain)
    assert (wire["temperature"], wire["top_p"], wire["top_k"]) == (0.2, 0.9, 40)
    assert (wire["stop_sequences"], wire["stream"], wire["metadata"]) == (["END"], True, {"user_id": "u-7"})


def test_sampling_and_metadata_read() -> None:
    req = to_canonical(
        body(
            temperature=0.5, top_p=0.8, top_k=5, stop_sequences=["\n\nHuman:"], stream=True, metadata={"user_id": "abc"}
        )
    )
    assert (req.temperature, req.top_p, req.top_k, req.stop, req.stream, req.user) == (
        0.5,
        0.8,
        5,
        ["\n\nHuman:"],
        True,
        "abc",
    )


def test_tool_input_that_is_not_a_json_object_is_replaced() -> None:
    req = canonical(user(Text(text="q")), assistant(ToolUse(id="c1", name="t", input=msgspec.Raw(b'{"a": '))))
    wire, dropped = out(req)
    assert wire["messages"][1]["content"][0]["input"] == {} and dropped == ("tool_use.input",)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_use", "name": "t", "input": {}}]}]},
            "messages[0].content[0]",
        ),
        ({"system": [{"type": "image", "source": {"type": "url", "url": "u"}}]}, "system[0]"),
        ({"tool_choice": {"type": "required"}}, "tool_choice.type"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "many"}, "max_tokens"),
        ({"tools": [{"description": "no name"}]}, "tools[0]"),
    ],
)
def test_invalid_requests_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_canonical(body(**fields))
    assert caught.value.param == param and caught.value.status == 400


def test_not_json_and_missing_messages() -> None:
    with pytest.raises(InvalidRequest):
        to_canonical(b"{not json")
    with pytest.raises(InvalidRequest) as caught:
        to_canonical(b'{"model": "m"}')
    assert caught.value.param == "messages"


def test_null_optional_fields_read_as_absent() -> None:
    req = to_canonical(body(temperature=None, system=None, tools=None, metadata=None, stop_sequences=None))
    assert (req.temperature, req.system, req.tools, req.user, req.stop) == (None, [], [], None, [])


def test_what_anthropic_refuses_from_other_dialects_is_left_out() -> None:
    req = canonical(user(Text(text="q")), tool_choice=ToolChoice(mode="none"), stop=["\n", "END"])
    wire, dropped = out(req)
    assert "tool_choice" not in wire  # no tools: Anthropic refuses a tool_choice
    assert wire["stop_sequences"] == ["END"] and dropped == ("stop",)


def test_system_messages_among_the_turns_join_the_system_prompt() -> None:
    """Claude Code sends `{"role": "system"}` entries inside `messages`."""
    body = json.dumps(
        {
            "model": "m",
            "max_tokens": 5,
            "system": "top",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "env details"},
                {"role": "system", "content": [{"type": "text", "text": "skills"}]},
            ],
        }
    ).encode()
    req = to_canonical(body)
    assert [t.text for t in req.system] == ["top", "env details", "skills"]
    assert [m.role for m in req.messages] == ["user"]
