"""Every translation rule, for every (client dialect, upstream dialect) pair: a request written in the client's
dialect goes to canonical, out in the upstream's dialect, and back to canonical; what the rule protects must
survive. Responses go the other way. N dialects, 2N converters, N x N cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from weir.canonical.content import Image, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Request
from weir.canonical.response import Response
from weir.canonical.usage import Usage
from weir.dialects.base import Reply, Target
from weir.dialects.registry import DIALECTS, Dialect

PAIRS = [(c, u) for c in DIALECTS for u in DIALECTS]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
TOOLS_ANTHROPIC = [
    {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}},
    {"name": "get_time", "description": "Time", "input_schema": {"type": "object", "properties": {}}},
]
TOOLS_OPENAI = [
    {
        "type": "function",
        "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
    }
    for t in TOOLS_ANTHROPIC
]


TOOLS_RESPONSES = [
    {"type": "function", "name": t["name"], "description": t["description"], "parameters": t["input_schema"]}
    for t in TOOLS_ANTHROPIC
]


def responses_body(case: str) -> dict[str, Any]:
    """The request of `body`, as a Responses client (Codex) writes it: `input` items, flat tools."""
    req: dict[str, Any] = {"model": "m", "max_output_tokens": 100}
    if case == "system":
        req["instructions"] = "one"
        req["input"] = [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "two"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ]
    elif case == "images":
        parts = [
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
            {"type": "input_image", "image_url": "https://example.test/cat.png", "detail": "auto"},
            {"type": "input_text", "text": "what is this"},
        ]
        req["input"] = [{"type": "message", "role": "user", "content": parts}]
    elif case.startswith("tool_choice"):
        mode = case.split(":")[1]
        req["input"] = "hi"
        req["tools"] = TOOLS_RESPONSES
        names = {"auto": "auto", "any": "required", "none": "none", "auto_serial": "auto"}
        req["tool_choice"] = {"type": "function", "name": "get_time"} if mode == "tool" else names[mode]
        if mode == "auto_serial":
            req["parallel_tool_calls"] = False
    elif case == "tool_results":
        req["tools"] = TOOLS_RESPONSES
        req["input"] = [
            {"role": "user", "content": "weather and time?"},  # an EasyInputMessage: no `type`
            {"type": "function_call", "call_id": "call_A", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call", "call_id": "call_B", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_A", "output": "18C"},
            {"type": "function_call_output", "call_id": "call_B", "output": "noon"},
        ]
    elif case == "no_max_tokens":
        del req["max_output_tokens"]
        req["input"] = "hi"
    return req


def gemini_body(case: str) -> dict[str, Any]:
    """The request of `body`, as a Gemini client (google-genai, Gemini CLI) writes it: the model is in the URL."""
    declarations = [{"name": t["name"], "description": t["description"]} for t in TOOLS_ANTHROPIC]
    req: dict[str, Any] = {"generationConfig": {"maxOutputTokens": 100}}
    hi = {"role": "user", "parts": [{"text": "hi"}]}
    if case == "system":
        req["systemInstruction"] = {"parts": [{"text": "one"}, {"text": "two"}]}
        req["contents"] = [hi]
    elif case == "images":
        parts = [
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.test/cat.png"}},
            {"text": "what is this"},
        ]
        req["contents"] = [{"role": "user", "parts": parts}]
    elif case.startswith("tool_choice"):
        mode = case.split(":")[1]
        req["contents"] = [hi]
        req["tools"] = [{"functionDeclarations": declarations}]
        calling: dict[str, Any] = {"mode": {"any": "ANY", "none": "NONE", "tool": "ANY"}.get(mode, "AUTO")}
        if mode == "tool":
            calling["allowedFunctionNames"] = ["get_time"]
        req["toolConfig"] = {"functionCallingConfig": calling}  # auto_serial: Gemini cannot say it
    elif case == "tool_results":
        req["tools"] = [{"functionDeclarations": declarations}]
        calls = [
            {"functionCall": {"id": "call_A", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "call_B", "name": "get_time", "args": {}}},
        ]
        results = [
            {"functionResponse": {"id": "call_A", "name": "get_weather", "response": {"output": "18C"}}},
            {"functionResponse": {"id": "call_B", "name": "get_time", "response": {"output": "noon"}}},
        ]
        req["contents"] = [
            {"role": "user", "parts": [{"text": "weather and time?"}]},
            {"role": "model", "parts": calls},
            {"role": "user", "parts": results},
        ]
    elif case == "no_max_tokens":
        del req["generationConfig"]
        req["contents"] = [hi]
    return req


def body(client: str, case: str) -> bytes:
    """The same request, as each dialect's client would write it."""
    if client == "gemini":
        return json.dumps(gemini_body(case)).encode()
    if client == "openai_responses":
        return json.dumps(responses_body(case)).encode()
    anthropic = client == "anthropic_messages"
    req: dict[str, Any] = {"model": "m", "max_tokens": 100}
    if case == "system":
        if anthropic:
            req |= {"system": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
            req["messages"] = [{"role": "user", "content": "hi"}]
        else:
            req["messages"] = [
                {"role": "system", "content": "one"},
                {"role": "developer", "content": "two"},
                {"role": "user", "content": "hi"},
            ]
    elif case == "images":
        if anthropic:
            parts = [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.png"}},
                {"type": "text", "text": "what is this"},
            ]
        else:
            parts = [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}},
                {"type": "text", "text": "what is this"},
            ]
        req["messages"] = [{"role": "user", "content": parts}]
    elif case.startswith("tool_choice"):
        mode = case.split(":")[1]
        req["messages"] = [{"role": "user", "content": "hi"}]
        req["tools"] = TOOLS_ANTHROPIC if anthropic else TOOLS_OPENAI
        if anthropic:
            choice: dict[str, Any] = {"type": mode} if mode != "tool" else {"type": "tool", "name": "get_time"}
            if mode == "auto_serial":
                choice = {"type": "auto", "disable_parallel_tool_use": True}
            req["tool_choice"] = choice
        else:
            names = {"auto": "auto", "any": "required", "none": "none", "auto_serial": "auto"}
            req["tool_choice"] = (
                {"type": "function", "function": {"name": "get_time"}} if mode == "tool" else names[mode]
            )
            if mode == "auto_serial":
                req["parallel_tool_calls"] = False
    elif case == "tool_results":
        req["tools"] = TOOLS_ANTHROPIC if anthropic else TOOLS_OPENAI
        if anthropic:
            req["messages"] = [
                {"role": "user", "content": "weather and time?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "call_A", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "call_B", "name": "get_time", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_A", "content": "18C"},
                        {"type": "tool_result", "tool_use_id": "call_B", "content": "noon"},
                    ],
                },
            ]
        else:
            calls = [
                {
                    "id": "call_A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "call_B", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ]
            req["messages"] = [
                {"role": "user", "content": "weather and time?"},
                {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_A", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_B", "content": "noon"},
            ]
    elif case == "no_max_tokens":
        del req["max_tokens"]
        req["messages"] = [{"role": "user", "content": "hi"}]
    return json.dumps(req).encode()


def through(client: Dialect, upstream: Dialect, raw: bytes) -> tuple[Request, Request, bytes]:
    """client wire -> canonical -> upstream wire -> canonical."""
    first = client.request.to_canonical(raw)
    egress = upstream.request.from_canonical(first, Target(model="up", default_max_tokens=777))
    return first, upstream.request.to_canonical(egress.body), egress.body


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_system_prompts_keep_their_order(client: str, upstream: str) -> None:
    _, after, _ = through(DIALECTS[client], DIALECTS[upstream], body(client, "system"))
    assert [t.text for t in after.system] == ["one", "two"]


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_images_base64_and_url(client: str, upstream: str) -> None:
    _, after, _ = through(DIALECTS[client], DIALECTS[upstream], body(client, "images"))
    blocks = after.messages[0].content
    images = [b for b in blocks if isinstance(b, Image)]
    assert [(i.media_type, i.data) for i in images if i.data] == [("image/png", PNG)]
    assert [i.url for i in images if i.url] == ["https://example.test/cat.png"]
    assert [b.text for b in blocks if isinstance(b, Text)] == ["what is this"]


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
@pytest.mark.parametrize("mode", ["auto", "any", "none", "tool", "auto_serial"])
def test_tool_choice(client: str, upstream: str, mode: str) -> None:
    _, after, _ = through(DIALECTS[client], DIALECTS[upstream], body(client, f"tool_choice:{mode}"))
    assert [t.name for t in after.tools] == ["get_weather", "get_time"]
    choice = after.tool_choice
    assert choice is not None
    assert choice.mode == ("auto" if mode == "auto_serial" else mode)
    if mode == "tool":
        assert choice.name == "get_time"
    if mode == "auto_serial":  # Gemini cannot limit a turn to one call: lost (and reported) through its wire
        assert choice.parallel is (None if "gemini" in (client, upstream) else False)


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_tool_results_keep_order_and_ids(client: str, upstream: str) -> None:
    _, after, _ = through(DIALECTS[client], DIALECTS[upstream], body(client, "tool_results"))
    uses = [b for m in after.messages for b in m.content if isinstance(b, ToolUse)]
    results = [b for m in after.messages for b in m.content if isinstance(b, ToolResult)]
    # The Gemini API refuses ids in requests: through its wire, calls and results pair by name and order.
    ids = [u.id for u in uses] if upstream == "gemini" else ["call_A", "call_B"]
    assert [(u.id, u.name, json.loads(bytes(u.input))) for u in uses] == [
        (ids[0], "get_weather", {"city": "Paris"}),
        (ids[1], "get_time", {}),
    ]
    assert len(set(ids)) == 2
    assert [(r.tool_use_id, [t.text for t in r.content if isinstance(t, Text)]) for r in results] == [
        (ids[0], ["18C"]),
        (ids[1], ["noon"]),
    ]
    # All results of the turn sit in one canonical user message, right after the calls.
    holders = [m for m in after.messages if any(isinstance(b, ToolResult) for b in m.content)]
    assert len(holders) == 1 and holders[0].role == "user"


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_max_tokens_default_only_where_required(client: str, upstream: str) -> None:
    _, _, wire = through(DIALECTS[client], DIALECTS[upstream], body(client, "no_max_tokens"))
    sent = json.loads(wire)
    if upstream == "anthropic_messages":
        assert sent["max_tokens"] == 777
    else:
        assert not {"max_tokens", "max_completion_tokens", "max_output_tokens"} & set(sent)
        assert "maxOutputTokens" not in sent.get("generationConfig", {})


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_foreign_thinking_is_never_sent_upstream(client: str, upstream: str) -> None:
    req = DIALECTS[client].request.to_canonical(body(client, "system"))
    origin = "gemini" if upstream != "gemini" else "openai_chat"  # signed by a dialect the upstream is not
    req.messages.append(
        type(req.messages[0])(
            role="assistant", content=[Thinking(text="hmm", signature="forged", origin=origin), Text(text="ok")]
        )
    )
    req.messages.append(type(req.messages[0])(role="user", content=[Text(text="more")]))
    egress = DIALECTS[upstream].request.from_canonical(req, Target(model="up"))
    assert b"forged" not in egress.body and b"hmm" not in egress.body
    assert "thinking" in egress.dropped


STOPS = ["end_turn", "max_tokens", "tool_use", "stop_sequence"]


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
@pytest.mark.parametrize("stop", STOPS)
def test_responses_keep_stop_reason_and_usage(client: str, upstream: str, stop: str) -> None:
    usage = Usage(input=1234, cached=200, output=567, reasoning=100, cache_write=30)
    content: list[Any] = [Text(text="done")]
    if stop == "tool_use":
        content.append(ToolUse(id="call_A", name="get_time", input=b"{}"))  # type: ignore[arg-type]
    canonical = Response(id="x", model="m", content=content, stop_reason=stop, usage=usage)  # type: ignore[arg-type]
    # upstream wire -> canonical -> client wire -> canonical
    upstream_wire = DIALECTS[upstream].response.from_canonical(canonical, Reply(model="m"))
    middle = DIALECTS[upstream].response.to_canonical(upstream_wire)
    client_wire = DIALECTS[client].response.from_canonical(middle, Reply(model="m", cost_microcents=99))
    final = DIALECTS[client].response.to_canonical(client_wire)
    # OpenAI's dialects and Gemini have no stop_sequence stop reason: a stop sequence ends the turn like any stop.
    openai = {"openai_chat", "openai_responses", "gemini"} & {client, upstream}
    expected = {"stop_sequence": "end_turn"}.get(stop, stop) if openai else stop
    assert final.stop_reason == expected
    assert final.usage == usage  # cache reads and writes, reasoning: the same whatever the wires in between
    if client == "gemini":
        assert json.loads(client_wire)["usageMetadata"]["costMicrocents"] == 99
    else:
        assert json.loads(client_wire)["usage"]["cost_microcents"] == 99
