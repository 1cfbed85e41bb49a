"""Gemini generateContent request bodies <-> canonical Request.

The body names neither the model nor streaming: both are in the URL (`/v1beta/models/{model}:generateContent` or
`:streamGenerateContent?alt=sse`). So `to_canonical` takes them as keywords, from the route, and `from_canonical`
writes a body without them: the caller puts `Target.model` in the upstream URL and picks the method from
`Target.stream`.

- Roles are `user` and `model` (the older `function` role reads as user). Consecutive turns of one role are one
  canonical message, so all the functionResponses of a turn are one user message (base rule).
- Tools: functionDeclarations become canonical Tools; `parameters` (Gemini's OpenAPI subset) is read into JSON
  Schema, `parametersJsonSchema` is taken as it is. Written, schemas are cleaned into `parameters`
  (`tool_schema`). Tools the canonical form cannot hold (googleSearch, codeExecution, urlContext, declarations
  with `behavior` or `response`, `parametersJsonSchema`) keep the whole raw `tools` array in extras: a Gemini
  upstream gets it as sent, others get the function declarations.
- Unknown top-level fields (safetySettings, cachedContent, labels...) go to extras; see `config` for the dotted
  extras of generationConfig and toolConfig.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from weir.canonical.content import Content, Text, ToolResult, ToolUse
from weir.canonical.request import Message, Request, Tool
from weir.dialects.base import Egress, Target
from weir.dialects.gemini import config
from weir.dialects.gemini import schema as s
from weir.dialects.gemini.content import (
    SKIP_SIGNATURE,
    Calls,
    function_response_parts,
    part_from_canonical,
    part_to_canonical,
)
from weir.dialects.gemini.tool_schema import to_gemini, to_json_schema
from weir.errors import InvalidRequest

BILLING_HEADER = "x-anthropic-billing-header:"
_MODELLED = frozenset({"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model"})
_DECLARATION_KEYS = frozenset({"name", "description", "parameters"})
_ROLES = {"user": "user", "function": "user", "model": "assistant"}
_CUSTOM_SCHEMA = Raw(b'{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}')


# ---- wire -> canonical ----


def to_canonical(body: bytes, model: str = "", stream: bool = False) -> Request:
    """`model`: the model named in the URL path; `stream`: whether the method was streamGenerateContent."""
    try:
        top = s.decode_top(body)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not a JSON object: {exc}") from None
    fields = {s.camel(key): value for key, value in top.items() if value != s.NULL}
    extras = {key: value for key, value in top.items() if s.camel(key) not in _MODELLED}
    if not model and "model" in fields:
        model = (config.decode(fields["model"], "model", s.decode_str) or "").removeprefix("models/")
    contents = config.decode(fields.get("contents", Raw(b"[]")), "contents", s.decode_contents)
    if not contents:
        raise InvalidRequest("contents: at least one content is required", param="contents")
    generation = config.generation_to_canonical(fields.get("generationConfig"), extras)
    tools: list[Tool] = []
    if "tools" in fields:
        tools = _tools(fields["tools"], extras)
    return Request(
        model=model,
        messages=_messages(contents),
        system=_system(fields.get("systemInstruction")),
        tools=tools,
        tool_choice=config.tool_choice_to_canonical(fields.get("toolConfig"), extras),
        max_tokens=generation.max_tokens,
        temperature=generation.temperature,
        top_p=generation.top_p,
        top_k=generation.top_k,
        stop=generation.stop,
        stream=stream,
        reasoning=generation.reasoning,
        extras=extras,
        extras_dialect=s.DIALECT,
    )


def _messages(contents: list[s.Content]) -> list[Message]:
    calls = Calls()
    out: list[Message] = []
    for i, turn in enumerate(contents):
        role = _ROLES.get(turn.role or "user")
        if role is None:
            where = f"contents[{i}].role"
            raise InvalidRequest(f"{where}: expected 'user' or 'model', got {turn.role!r}", param=where)
        if role == "assistant" and (not out or out[-1].role != "assistant"):
            calls.new_turn()  # responses answer the calls of the latest model turn
        blocks = [
            block
            for j, raw in enumerate(turn.parts or ())
            if (block := part_to_canonical(raw, f"contents[{i}].parts[{j}]", calls)) is not None
        ]
        if out and out[-1].role == role:
            out[-1].content.extend(blocks)
        else:
            out.append(Message(role="user" if role == "user" else "assistant", content=blocks))
    return out


def _system(raw: Raw | None) -> list[Text]:
    if raw is None:
        return []
    content = config.decode(raw, "systemInstruction", s.decode_content)
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    blocks = [part_to_canonical(part, "systemInstruction.parts", Calls()) for part in content.parts or ()]
    return [Text(text=block.text) for block in blocks if isinstance(block, Text) and block.text]


def _tools(raw: Raw, extras: dict[str, Raw]) -> list[Tool]:
    exact = True
    tools: list[Tool] = []
    for i, tool_raw in enumerate(config.decode(raw, "tools", s.decode_list)):
        where = f"tools[{i}]"
        keys = {s.camel(key) for key in config.decode(tool_raw, where, s.decode_object)}
        exact = exact and keys <= {"functionDeclarations"}
        tool = config.decode(tool_raw, where, s.decode_tool)
        for j, decl_raw in enumerate(s.pick(tool.function_declarations, tool.function_declarations_) or ()):
            at = f"{where}.functionDeclarations[{j}]"
            exact = exact and set(config.decode(decl_raw, at, s.decode_object)) <= _DECLARATION_KEYS
            decl = config.decode(decl_raw, at, s.decode_declaration)
            if not decl.name:
                raise InvalidRequest(f"{at}.name: a function name is required", param=f"{at}.name")
            schema = s.pick(decl.parameters_json_schema, decl.parameters_json_schema_)
            openapi = s.pick(decl.parameters, msgspec.UNSET)
            if schema is None and openapi is not None and openapi != s.NULL:
                schema = to_json_schema(openapi)
            tools.append(Tool(name=decl.name, description=decl.description, input_schema=schema))
    if not exact:
        extras["tools"] = raw
    return tools


# ---- canonical -> wire ----


def from_canonical(req: Request, target: Target) -> Egress:
    dropped: list[str] = []
    same = req.extras_dialect == s.DIALECT
    body: dict[str, object] = {"contents": _contents(req, dropped)}
    system = [s.PartOut(text=text) for text in _system_texts(req.system)]
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = _tools_out(req, same, dropped)
    if tools is not None:
        body["tools"] = tools
        tool_config = config.tool_config_from_canonical(req, same, dropped)
        if tool_config:
            body["toolConfig"] = tool_config
    generation = config.generation_from_canonical(req, same, dropped)
    if generation:
        body["generationConfig"] = generation
    if req.user is not None:
        dropped.append("user")
    for key, value in req.extras.items():
        if not same:
            dropped.append(key)
        elif "." not in key and key != "tools":
            body.setdefault(key, value)
    return Egress(body=s.encode(body), dropped=tuple(dict.fromkeys(dropped)))


def _system_texts(system: list[Text]) -> list[str]:
    texts = []
    for block in system:
        text = block.text
        if text.startswith(BILLING_HEADER):  # Claude Code's per-request line: it would defeat prompt caching
            text = text.partition("\n")[2].lstrip("\n")
        if text:
            texts.append(text)
    return texts


def _contents(req: Request, dropped: list[str]) -> list[s.ContentOut]:
    names = {b.id: b.name for m in req.messages for b in m.content if isinstance(b, ToolUse)}
    out: list[s.ContentOut] = []
    for message in req.messages:
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message.content, names, dropped)
        if not parts:
            continue  # Gemini refuses a content without parts
        if out and out[-1].role == role:
            out[-1].parts.extend(parts)
        else:
            out.append(s.ContentOut(role=role, parts=parts))
    for content in out:
        calls = [
            p for p in content.parts if isinstance(p, s.PartOut) and isinstance(p.function_call, s.FunctionCallOut)
        ]
        if content.role == "model" and calls and isinstance(calls[0].thought_signature, msgspec.UnsetType):
            calls[0].thought_signature = SKIP_SIGNATURE  # a call from elsewhere: Gemini 3 wants a signature
    return out


def _parts(content: list[Content], names: dict[str, str], dropped: list[str]) -> list[s.PartOut | Raw]:
    """Function responses first (with their images after them), then the rest in order."""
    results: list[s.PartOut | Raw] = []
    moved: list[s.PartOut | Raw] = []
    rest: list[s.PartOut | Raw] = []
    for block in content:
        if isinstance(block, ToolResult):
            response, *images = function_response_parts(block, names.get(block.tool_use_id, block.tool_use_id), dropped)
            results.append(response)
            moved.extend(images)
        else:
            part = part_from_canonical(block, dropped, client=False)
            if part is not None:
                rest.append(part)
    return results + moved + rest


def _tools_out(req: Request, same: bool, dropped: list[str]) -> list[dict[str, object]] | Raw | None:
    raw = req.extras.get("tools") if same else None
    if raw is not None and _tools(raw, {}) == req.tools:
        return raw  # as the client sent it: googleSearch, parametersJsonSchema, behavior and all
    if not req.tools:
        return None
    removed: set[str] = set()
    declarations = [_declaration(tool, removed, dropped) for tool in req.tools]
    dropped.extend(f"tools.parameters.{key}" for key in sorted(removed))
    return [{"functionDeclarations": declarations}]


def _declaration(tool: Tool, removed: set[str], dropped: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"name": tool.name}
    description = tool.description
    schema = tool.input_schema
    if tool.kind == "custom":
        # A freeform tool becomes a function of one string, `input`; its grammar is told in the description.
        schema = _CUSTOM_SCHEMA
        if tool.format is not None:
            grammar = f"The input must match this grammar: {bytes(tool.format).decode()}"
            description = f"{description}\n\n{grammar}" if description else grammar
            dropped.append("tool format")
    if tool.strict:
        dropped.append("tools.strict")
    if description:
        out["description"] = description
    parameters = to_gemini(schema, removed) if schema is not None else None
    if parameters is not None:
        out["parameters"] = parameters
    return out
