from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from tests.dialects.anthropic_messages.support import fixture as anthropic_fixture
from tests.dialects.gemini.support import genai, sdk_request
from weir.canonical.content import Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message, Reasoning, Request, Tool, ToolChoice
from weir.dialects.base import Target
from weir.dialects.gemini.content import SKIP_SIGNATURE
from weir.dialects.gemini.request import from_canonical, to_canonical
from weir.dialects.gemini.tool_schema import KEYWORDS
from weir.dialects.registry import DIALECTS
from weir.errors import InvalidRequest

TARGET = Target(model="gemini-2.5-pro", default_max_tokens=8192)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SIG = "Cs4BAdHtim9DkaYx0hW1u6q2m3P2dC4dZk2dAqB5mYgq6tXxw0MZG9FYL9H0C3v3Q=="
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

# The protocol reference's request (protocols.md section 4), camelCase as @google/genai and Gemini CLI write it.
REFERENCE: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "contents": [
        {
            "role": "user",
            "parts": [{"text": "Weather in Paris?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}],
        },
        {
            "role": "model",
            "parts": [
                {"text": "Planning the call", "thought": True, "thoughtSignature": "c2lnLXRob3VnaHQ="},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
            ],
        },
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}}]},
    ],
    "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather", "parameters": WEATHER}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "maxOutputTokens": 1024,
        "temperature": 0.7,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def out(req: Request, target: Target = TARGET) -> tuple[dict[str, Any], tuple[str, ...]]:
    egress = from_canonical(req, target)
    return json.loads(egress.body), egress.dropped


def user(*content: Any) -> Message:
    return Message(role="user", content=list(content))


def assistant(*content: Any) -> Message:
    return Message(role="assistant", content=list(content))


def test_reference_request_to_canonical() -> None:
    req = to_canonical(encode(REFERENCE), model="gemini-2.5-flash", stream=True)
    assert (req.model, req.stream) == ("gemini-2.5-flash", True)
    assert req.system == [Text(text="You are terse.")]
    assert req.messages == [
        user(Text(text="Weather in Paris?"), Image(media_type="image/png", data=PNG)),
        assistant(
            Thinking(text="Planning the call", signature="c2lnLXRob3VnaHQ=", origin="gemini"),
            ToolUse(
                id="call_0_get_weather", name="get_weather", input=msgspec.Raw(b'{"city": "Paris"}'), signature=SIG
            ),
        ),
        user(ToolResult(tool_use_id="call_0_get_weather", content=[Text(text='{"result": "18C"}')])),
    ]
    assert req.tools == [Tool(name="get_weather", description="Weather", input_schema=req.tools[0].input_schema)]
    assert json.loads(bytes(req.tools[0].input_schema or b"")) == WEATHER
    assert req.tool_choice == ToolChoice(mode="auto")
    assert (req.max_tokens, req.temperature, req.stop) == (1024, 0.7, ["END"])
    assert req.reasoning == Reasoning(enabled=True, budget_tokens=1024)
    assert set(req.extras) == {"safetySettings"} and req.extras_dialect == "gemini"


def test_gemini_to_gemini_is_the_same_body() -> None:
    """What a Gemini client sent reaches a Gemini upstream unchanged: signatures, thoughts, config, extras."""
    body, dropped = out(to_canonical(encode(REFERENCE)))
    assert body == REFERENCE
    assert dropped == ()


def test_google_genai_request_with_snake_case_inside() -> None:
    """google-genai 3.x writes nested objects in snake_case (mime_type, include_thoughts, parameters_json_schema,
    any_of) and topK as a float: all of it is read."""
    types = genai().types
    contents = [
        types.Content(
            role="user", parts=[types.Part(text="hi"), types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png")]
        ),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(name="get", args={"a": 1}, id="fc1"), thought_signature=b"sig"
                )
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(function_response=types.FunctionResponse(name="get", response={"output": "7"}, id="fc1"))
            ],
        ),
    ]
    schema = types.Schema(
        type="OBJECT",
        properties={
            "a": types.Schema(any_of=[types.Schema(type="STRING"), types.Schema(type="INTEGER")], nullable=True)
        },
    )
    config = types.GenerateContentConfig(
        system_instruction="Be brief.",
        top_k=3,
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="get", parameters=schema)])],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["get"])
        ),
    )
    wire = sdk_request(contents, config)
    assert b'"mime_type"' in wire and b'"include_thoughts"' in wire and b'"any_of"' in wire  # what we must read
    req = to_canonical(wire, model="gemini-2.5-flash")
    assert req.system == [Text(text="Be brief.")]
    assert req.messages[0].content == [Text(text="hi"), Image(media_type="image/png", data="iVBORw==")]
    call = req.messages[1].content[0]
    assert isinstance(call, ToolUse) and (call.id, call.name, call.signature) == ("fc1", "get", "c2ln")
    assert req.messages[2].content == [ToolResult(tool_use_id="fc1", content=[Text(text="7")])]
    assert json.loads(bytes(req.tools[0].input_schema or b"")) == {
        "type": "object",
        "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True}},
    }
    assert req.top_k == 3 and req.reasoning == Reasoning(enabled=True, budget_tokens=2048)
    assert req.tool_choice == ToolChoice(mode="tool", name="get")
    assert req.extras == {}
    # ...and a Gemini upstream gets no ids (the API refuses them), the signature back, and camelCase.
    body, _ = out(req)
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"name": "get", "args": {"a": 1}}, "thoughtSignature": "c2ln"}
    ]
    assert body["contents"][2]["parts"] == [{"functionResponse": {"name": "get", "response": {"output": "7"}}}]
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 2048}


def test_call_ids_pair_by_name_and_order() -> None:
    call = {"functionCall": {"name": "read", "args": {"path": "a"}}}
    other = {"functionCall": {"name": "list", "args": {}}}
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [call, other, {"functionCall": {"name": "read", "args": {"path": "b"}}}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "list", "response": {"output": "x"}}},
                    {"functionResponse": {"name": "read", "response": {"output": "A"}}},
                    {"functionResponse": {"name": "read", "response": {"output": "B"}}},
                ],
            },
            {"role": "model", "parts": [call]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read", "response": {"output": "A2"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read", "response": {"output": "orphan"}}}]},
        ]
    }
    req = to_canonical(encode(body))
    uses = [(b.id, b.name) for m in req.messages for b in m.content if isinstance(b, ToolUse)]
    results = [(b.tool_use_id, b.content) for m in req.messages for b in m.content if isinstance(b, ToolResult)]
    assert uses == [("call_0_read", "read"), ("call_1_list", "list"), ("call_2_read", "read"), ("call_3_read", "read")]
    assert results == [
        ("call_1_list", [Text(text="x")]),
        ("call_0_read", [Text(text="A")]),
        ("call_2_read", [Text(text="B")]),
        ("call_3_read", [Text(text="A2")]),  # the latest model turn's call, not the first turn's
        ("call_4_read", [Text(text="orphan")]),  # answers nothing: an id of its own
    ]
    # Consecutive user turns are one canonical message: all results of a turn together.
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert to_canonical(encode(body)) == req  # deterministic: the same history, the same ids


def test_tool_results_to_gemini_are_named_after_their_call() -> None:
    req = Request(
        model="m",
        messages=[
            user(Text(text="weather and time?")),
            assistant(
                Text(text="Checking."),
                ToolUse(id="toolu_A", name="get_weather", input=msgspec.Raw(b'{"city":"Paris"}')),
                ToolUse(id="toolu_B", name="get_time", input=msgspec.Raw(b"{}")),
            ),
            user(
                ToolResult(tool_use_id="toolu_A", content=[Text(text="18C"), Image(media_type="image/png", data=PNG)]),
                ToolResult(tool_use_id="toolu_B", content=[Text(text="boom")], is_error=True),
                ToolResult(tool_use_id="toolu_C", content=[Text(text='{"rows": 3}')]),
                Text(text="thanks"),
            ),
        ],
    )
    body, dropped = out(req)
    assert body["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            # a call from another upstream has no signature: the first gets Google's placeholder (Gemini 3)
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SKIP_SIGNATURE},
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert body["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}},
            {"functionResponse": {"name": "get_time", "response": {"error": "boom"}}},
            {"functionResponse": {"name": "toolu_C", "response": {"rows": 3}}},  # no call: named by its id
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
            {"text": "thanks"},
        ],
    }
    assert b'"id"' not in from_canonical(req, TARGET).body
    assert dropped == ()


def test_images_by_data_url_and_by_address() -> None:
    req = Request(
        model="m",
        messages=[
            user(
                Image(url=f"data:image/png;base64,{PNG}"),
                Image(url="https://example.test/cat.webp?size=2"),
                Image(url="gs://bucket/scan", media_type="image/tiff"),
                Image(data="/9j/4AAQSkZJRg"),
                Image(),
            )
        ],
    )
    body, dropped = out(req)
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.test/cat.webp?size=2"}},
        {"fileData": {"mimeType": "image/tiff", "fileUri": "gs://bucket/scan"}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg"}},
    ]
    assert dropped == ("image (no data)",)
    back = to_canonical(from_canonical(req, TARGET).body).messages[0].content
    assert back[1] == Image(url="https://example.test/cat.webp?size=2", media_type="image/webp")


def test_other_media_stays_opaque_for_gemini_only() -> None:
    pdf = {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.test/a.pdf"}}
    audio = {"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}, "videoMetadata": {"fps": 1}}
    req = to_canonical(
        encode({"contents": [{"role": "user", "parts": [pdf, audio, {"executableCode": {"code": "1"}}]}]})
    )
    assert all(isinstance(b, Opaque) and b.dialect == "gemini" for b in req.messages[0].content)
    assert out(req)[0]["contents"][0]["parts"] == [pdf, audio, {"executableCode": {"code": "1"}}]
    egress = DIALECTS["anthropic_messages"].request.from_canonical(req, TARGET)
    assert b"a.pdf" not in egress.body and "gemini content" in egress.dropped


@pytest.mark.parametrize("other", sorted(set(DIALECTS) - {"gemini"}))
def test_signatures_never_leak_to_other_upstreams(other: str) -> None:
    req = to_canonical(encode(REFERENCE))
    req.messages[1].content.append(Text(text="", signature="c2lnLXRleHQ="))
    egress = DIALECTS[other].request.from_canonical(req, TARGET)
    for signature in (SIG, "c2lnLXRob3VnaHQ=", "c2lnLXRleHQ="):
        assert signature.encode() not in egress.body
    assert b"get_weather" in egress.body and "thinking" in egress.dropped


def test_thinking_of_other_origins_is_dropped_and_listed() -> None:
    req = Request(
        model="m",
        messages=[
            user(Text(text="hi")),
            assistant(
                Thinking(text="anthropic", signature="EqQBCg", origin="anthropic"),
                Thinking(text="unsigned gemini", origin="gemini"),
                Thinking(text="signed", signature="c2ln", origin="gemini"),
                Text(text="ok"),
            ),
        ],
    )
    body, dropped = out(req)
    assert body["contents"][1]["parts"] == [
        {"text": "signed", "thought": True, "thoughtSignature": "c2ln"},
        {"text": "ok"},
    ]
    assert dropped == ("thinking",)


def test_system_prompts_and_billing_header() -> None:
    billing = "x-anthropic-billing-header: cc_version=2.1.3; cch=7f3a1;\n\nYou are Claude Code."
    req = Request(model="m", messages=[user(Text(text="hi"))], system=[Text(text=billing), Text(text="Be terse.")])
    body, _ = out(req)
    assert body["systemInstruction"] == {"parts": [{"text": "You are Claude Code."}, {"text": "Be terse."}]}


def test_tools_schema_cleaned_and_choice() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"path": {"type": "string", "format": "uri"}, "mode": {"const": "fast"}},
        "required": ["path", "gone"],
        "additionalProperties": False,
    }
    req = Request(
        model="m",
        messages=[user(Text(text="hi"))],
        tools=[
            Tool(name="read", description="Read a file", input_schema=msgspec.Raw(json.dumps(schema).encode())),
            Tool(name="now", input_schema=msgspec.Raw(b'{"type":"object","properties":{}}'), strict=True),
            Tool(name="patch", kind="custom", format=msgspec.Raw(b'{"type":"grammar","syntax":"lark"}')),
        ],
        tool_choice=ToolChoice(mode="tool", name="read", parallel=False),
    )
    body, dropped = out(req)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "read",
                    "description": "Read a file",
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "mode": {"type": "string", "enum": ["fast"]}},
                        "required": ["path"],
                    },
                },
                {"name": "now"},  # no arguments: Gemini refuses an OBJECT with empty properties
                {
                    "name": "patch",
                    "description": 'The input must match this grammar: {"type":"grammar","syntax":"lark"}',
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                },
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["read"]}}
    assert set(dropped) == {
        "parallel_tool_calls",
        "tools.strict",
        "tool format",
        "tools.parameters.$schema",
        "tools.parameters.additionalProperties",
        "tools.parameters.format",
    }


@pytest.mark.parametrize(
    ("wire", "choice"),
    [
        ({"mode": "AUTO"}, ToolChoice(mode="auto")),
        ({"mode": "ANY"}, ToolChoice(mode="any")),
        ({"mode": "NONE"}, ToolChoice(mode="none")),
        ({"mode": "ANY", "allowedFunctionNames": ["now"]}, ToolChoice(mode="tool", name="now")),
    ],
)
def test_tool_choice_both_ways(wire: dict[str, Any], choice: ToolChoice) -> None:
    tools = [{"functionDeclarations": [{"name": "now"}]}]
    body = {"contents": [{"parts": [{"text": "hi"}]}], "tools": tools, "toolConfig": {"functionCallingConfig": wire}}
    req = to_canonical(encode(body))
    assert req.tool_choice == choice and req.extras == {}
    req.extras_dialect = None  # as if from another dialect: written from the canonical choice
    assert out(req)[0]["toolConfig"] == {"functionCallingConfig": wire}


def test_unmodelled_config_kept_for_gemini_and_listed_for_others() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "now", "behavior": "NON_BLOCKING"}]}],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["now", "later"]},
            "retrievalConfig": {"languageCode": "fr"},
        },
        "generationConfig": {
            "seed": 7,
            "responseMimeType": "application/json",
            "thinkingConfig": {"thinkingLevel": "low", "includeThoughts": False},
        },
        "cachedContent": "cachedContents/abc",
    }
    req = to_canonical(encode(body))
    assert req.tools == [Tool(name="now")]
    assert req.tool_choice == ToolChoice(mode="any")
    assert req.reasoning == Reasoning(enabled=True, effort="low")
    assert set(req.extras) == {
        "tools",
        "toolConfig.functionCallingConfig",
        "toolConfig.retrievalConfig",
        "generationConfig.seed",
        "generationConfig.responseMimeType",
        "generationConfig.thinkingConfig",
        "cachedContent",
    }
    assert out(req)[0] == body  # a Gemini upstream: exactly as sent
    openai = DIALECTS["openai_chat"].request.from_canonical(req, TARGET)
    assert set(openai.dropped) >= set(req.extras)
    sent = json.loads(openai.body)
    assert [t["function"]["name"] for t in sent["tools"]] == ["now"] and sent["reasoning_effort"] == "low"


def test_a_changed_canonical_field_wins_over_the_raw_one() -> None:
    body = {
        "contents": [{"parts": [{"text": "hi"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}},
    }
    req = to_canonical(encode(body))
    req.reasoning = Reasoning(enabled=True, budget_tokens=512)  # e.g. a pipeline stage capping the budget
    assert out(req)[0]["generationConfig"] == {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 512}}


@pytest.mark.parametrize(
    ("config", "reasoning"),
    [
        ({"thinkingBudget": 0}, Reasoning(enabled=False)),
        ({"thinkingBudget": -1, "includeThoughts": True}, Reasoning(enabled=True)),
        ({"includeThoughts": True}, Reasoning(enabled=True)),
        ({"thinking_budget": 4096}, Reasoning(enabled=True, budget_tokens=4096)),
        ({"thinkingLevel": "HIGH"}, Reasoning(enabled=True, effort="high")),
        ({"includeThoughts": False}, None),
    ],
)
def test_thinking_config_to_reasoning(config: dict[str, Any], reasoning: Reasoning | None) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": config}}
    assert to_canonical(encode(body)).reasoning == reasoning


@pytest.mark.parametrize(
    ("reasoning", "config", "dropped"),
    [
        (Reasoning(enabled=True, budget_tokens=16000), {"includeThoughts": True, "thinkingBudget": 16000}, ()),
        (Reasoning(enabled=True, effort="low"), {"includeThoughts": True, "thinkingBudget": 1024}, ()),
        (Reasoning(enabled=True), {"includeThoughts": True}, ()),
        (Reasoning(enabled=False, effort="none"), None, ("reasoning",)),
    ],
)
def test_reasoning_to_thinking_config(reasoning: Reasoning, config: dict[str, Any] | None, dropped: tuple[str]) -> None:
    req = Request(model="m", messages=[user(Text(text="hi"))], reasoning=reasoning, max_tokens=20000)
    body, got = out(req)
    assert body["generationConfig"].get("thinkingConfig") == config and got == dropped
    assert body["generationConfig"]["maxOutputTokens"] == 20000


def test_sampling_stop_and_user() -> None:
    stops = ["a", "b", "c", "d", "e", "f"]
    req = Request(model="m", messages=[user(Text(text="hi"))], top_p=0.5, top_k=40, stop=stops, user="u-1")
    body, dropped = out(req)
    assert body["generationConfig"] == {"topP": 0.5, "topK": 40, "stopSequences": stops[:5]}
    assert dropped == ("stop", "user")
    assert "maxOutputTokens" not in body["generationConfig"]  # Gemini needs none: no default is invented


def test_model_from_the_body_and_refusals() -> None:
    body = {"model": "models/gemini-2.5-flash", "contents": [{"parts": [{"text": "hi"}]}]}
    assert to_canonical(encode(body)).model == "gemini-2.5-flash"
    assert to_canonical(encode(body), model="from-url").model == "from-url"
    with pytest.raises(InvalidRequest, match="not a JSON object"):
        to_canonical(b"[1, 2")
    with pytest.raises(InvalidRequest, match="contents"):
        to_canonical(b'{"contents": []}')
    with pytest.raises(InvalidRequest, match="contents\\[0\\].role"):
        to_canonical(b'{"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}')
    with pytest.raises(InvalidRequest) as caught:
        to_canonical(b'{"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}}')
    assert caught.value.param == "generationConfig.temperature"


def test_claude_code_request_to_gemini() -> None:
    """A recorded Claude Code request, through the canonical form, is a body the Gemini API accepts."""
    req = DIALECTS["anthropic_messages"].request.to_canonical(anthropic_fixture("claude_code_request.json"))
    egress = from_canonical(req, TARGET)
    body = json.loads(egress.body)

    def keywords(schema: dict[str, Any]) -> set[str]:
        found = set(schema)
        for sub in schema.get("properties", {}).values():
            found |= keywords(sub)
        for sub in [schema["items"]] if "items" in schema else schema.get("anyOf", []):
            found |= keywords(sub)
        return found

    declarations = body["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["Read", "Bash"]
    assert all(keywords(d["parameters"]) <= KEYWORDS for d in declarations)
    assert not any(t["text"].startswith("x-anthropic-billing-header") for t in body["systemInstruction"]["parts"])
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    call = body["contents"][1]["parts"][-1]
    assert call["functionCall"]["name"] == "Read" and "id" not in call["functionCall"]
    assert call["thoughtSignature"] == SKIP_SIGNATURE
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "Read"
    assert "tools.parameters.$schema" in egress.dropped and "user" in egress.dropped
