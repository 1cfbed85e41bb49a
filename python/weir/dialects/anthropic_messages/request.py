"""Anthropic Messages request bodies <-> canonical Request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import msgspec
from msgspec import Raw

from weir.canonical.content import Text, Thinking, ToolResult
from weir.canonical.request import Message, Request, Tool, ToolChoice
from weir.dialects.anthropic_messages import reasoning
from weir.dialects.anthropic_messages import schema as s
from weir.dialects.anthropic_messages.content import block_from_canonical, blocks_to_canonical
from weir.dialects.base import Egress, Target
from weir.errors import InvalidRequest

T = TypeVar("T")

_MODELLED = frozenset(
    {"model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream"}
    | {"tools", "tool_choice", "thinking", "output_config", "metadata"}
)
# Keys a custom tool may have for the canonical Tool to stand for it exactly. A tool with any other key
# (cache_control, defer_loading, input_examples...) or an Anthropic server tool (`web_search_20250305`, ...) makes
# the whole raw `tools` array an extra, so an Anthropic upstream still gets it as sent.
_TOOL_KEYS = frozenset({"name", "description", "input_schema", "strict", "type"})
Mode = Literal["auto", "any", "none", "tool"]
_MODES: dict[str, Mode] = {"auto": "auto", "any": "any", "none": "none", "tool": "tool"}
# Raw top-level fields that shadow a modelled one (see `reasoning` and `_tools_out`): written only through it.
_SHADOWED = frozenset({"tools", "thinking", "output_config"})
_EMPTY_SCHEMA = Raw(b'{"type":"object","properties":{}}')


# ---- wire -> canonical ----


def to_canonical(body: bytes) -> Request:
    try:
        top = s.decode_top(body)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not a JSON object: {exc}") from None
    model = _field(top, "model", s.decode_str)
    if not model:
        raise InvalidRequest("model: a model name is required", param="model")
    if "messages" not in top:
        raise InvalidRequest("messages: field required", param="messages")
    wire_messages = _field(top, "messages", s.decode_messages) or []
    # Claude Code puts a `system` message among the turns (mid-conversation system context). The canonical form
    # keeps system text in one place: it joins the system prompt, after the top-level one, in order.
    late_system = [t for i, m in enumerate(wire_messages) if m.role == "system" for t in _system_message(m, i)]
    messages = [_message(m, i) for i, m in enumerate(wire_messages) if m.role != "system"]
    max_tokens = _field(top, "max_tokens", s.decode_int)
    if max_tokens is not None and max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1", param="max_tokens")
    extras = {key: value for key, value in top.items() if key not in _MODELLED}
    tools = _tools(top, extras)
    choice = _field(top, "tool_choice", s.decode_tool_choice)
    metadata = _field(top, "metadata", s.decode_metadata)
    thinking_raw, config_raw = top.get("thinking", s.NULL), top.get("output_config", s.NULL)
    thinking = _field(top, "thinking", s.decode_thinking)
    config = _field(top, "output_config", s.decode_output_config)
    effort = config.effort if config is not None else None
    reason = reasoning.from_wire(thinking, effort)
    if thinking is not None and s.decode_any(thinking_raw) != reasoning.same_dialect_thinking(reason):
        extras["thinking"] = thinking_raw  # adaptive with `display`, explicit `disabled`, a newer kind...
    if config is not None and set(s.decode_object(config_raw)) - {"effort"}:
        extras["output_config"] = config_raw  # e.g. `format` (structured outputs)
    return Request(
        model=model,
        messages=messages,
        system=_system(top) + late_system,
        tools=tools,
        tool_choice=_tool_choice(choice) if choice is not None else None,
        max_tokens=max_tokens,
        temperature=_field(top, "temperature", s.decode_float),
        top_p=_field(top, "top_p", s.decode_float),
        top_k=_field(top, "top_k", s.decode_int),
        stop=_field(top, "stop_sequences", s.decode_strings) or [],
        stream=bool(_field(top, "stream", s.decode_bool)),
        reasoning=reason,
        user=metadata.user_id if metadata is not None else None,
        extras=extras,
        extras_dialect=s.DIALECT,
    )


def _field(top: dict[str, Raw], name: str, decode: Callable[[Raw], T]) -> T | None:
    raw = top.get(name)
    if raw is None or raw == s.NULL:
        return None
    try:
        return decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{name}: {exc}", param=name) from None


def _message(message: s.Message, i: int) -> Message:
    if message.role not in ("user", "assistant"):
        raise InvalidRequest(
            f"messages[{i}].role: expected 'user' or 'assistant', got {message.role!r}", param=f"messages[{i}].role"
        )
    content = blocks_to_canonical(message.content, f"messages[{i}].content")
    return Message(role="user" if message.role == "user" else "assistant", content=content)


def _system_message(message: s.Message, i: int) -> list[Text]:
    blocks = blocks_to_canonical(message.content, f"messages[{i}].content")
    texts = [b for b in blocks if isinstance(b, Text)]
    if len(texts) != len(blocks):
        raise InvalidRequest(f"messages[{i}]: a system message may hold text only", param=f"messages[{i}].content")
    return texts


def _system(top: dict[str, Raw]) -> list[Text]:
    system = _field(top, "system", s.decode_system)
    if system is None or isinstance(system, str):
        return [Text(text=system)] if system else []
    out: list[Text] = []
    for i, raw in enumerate(system):
        block = blocks_to_canonical([raw], f"system[{i}]")[0]
        if not isinstance(block, Text):
            raise InvalidRequest(f"system[{i}]: only text blocks are allowed in system", param=f"system[{i}]")
        out.append(block)
    return out


def _tools(top: dict[str, Raw], extras: dict[str, Raw]) -> list[Tool]:
    raws = _field(top, "tools", s.decode_tools) or []
    tools: list[Tool] = []
    exact = True
    for i, raw in enumerate(raws):
        try:
            keys = s.decode_object(raw).keys()
            tool = s.decode_tool_def(raw)
        except msgspec.DecodeError as exc:
            raise InvalidRequest(f"tools[{i}]: {exc}", param=f"tools[{i}]") from None
        exact = exact and keys <= _TOOL_KEYS
        if tool.type in (None, "custom"):
            schema = s.present(tool.input_schema)
            tools.append(Tool(name=tool.name, description=tool.description, input_schema=schema, strict=tool.strict))
        else:
            exact = False  # a server tool: only an Anthropic upstream can run it
    if not exact:
        extras["tools"] = top["tools"]
    return tools


def _tool_choice(choice: s.ToolChoice) -> ToolChoice:
    if choice.type not in _MODES:
        raise InvalidRequest(f"tool_choice.type: unknown type {choice.type!r}", param="tool_choice.type")
    name = None if isinstance(choice.name, msgspec.UnsetType) else choice.name
    if choice.type == "tool" and not name:
        raise InvalidRequest("tool_choice.name: required when type is 'tool'", param="tool_choice.name")
    disable = choice.disable_parallel_tool_use
    parallel = None if isinstance(disable, msgspec.UnsetType) else not disable
    return ToolChoice(mode=_MODES[choice.type], name=name, parallel=parallel)


# ---- canonical -> wire ----


def from_canonical(req: Request, target: Target) -> Egress:
    dropped: list[str] = []
    same = req.extras_dialect == s.DIALECT
    max_tokens = req.max_tokens or target.default_max_tokens
    body: dict[str, object] = {"model": target.model, "max_tokens": max_tokens, "messages": _messages(req, dropped)}
    system = [s.TextBlock(text=t.text, cache_control=t.cache_control or msgspec.UNSET) for t in req.system if t.text]
    if len(system) == 1 and isinstance(system[0].cache_control, msgspec.UnsetType):
        body["system"] = system[0].text
    elif system:
        body["system"] = system
    tools = _tools_out(req, same, dropped)
    if tools is not None:
        body["tools"] = tools
    if req.tool_choice is not None and tools is not None:  # Anthropic refuses tool_choice without tools
        body["tool_choice"] = _tool_choice_out(req.tool_choice)
    sampling = {"temperature": req.temperature, "top_p": req.top_p, "top_k": req.top_k}
    think = reasoning.thinking_out(req, max_tokens, same, dropped)
    if think is not None:
        body["thinking"] = think
        if not same:
            reasoning.drop_thinking_incompatible(sampling, dropped)
    body.update({name: value for name, value in sampling.items() if value is not None})
    config = reasoning.output_config_out(req, same)
    if config is not None:
        body["output_config"] = config
    stop = req.stop if same else [seq for seq in req.stop if seq.strip()]
    if len(stop) < len(req.stop):
        dropped.append("stop")  # Anthropic refuses whitespace-only stop sequences (OpenAI clients send "\n")
    if stop:
        body["stop_sequences"] = stop
    if req.stream or target.stream:
        body["stream"] = True
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    for key, value in req.extras.items():
        if not same:
            dropped.append(key)
        elif key not in body and key not in _SHADOWED:
            body[key] = value
    return Egress(body=s.encode(body), dropped=tuple(dict.fromkeys(dropped)))


def _messages(req: Request, dropped: list[str]) -> list[s.MessageParam]:
    """Anthropic needs user and assistant turns to alternate: consecutive same-role messages are merged, and
    messages left empty by what could not be carried are left out."""
    merged: list[tuple[str, list[s.OutBlock | Raw], list[bool]]] = []
    for message in req.messages:
        blocks: list[s.OutBlock | Raw] = []
        firsts: list[bool] = []  # blocks Anthropic wants first in their message
        for block in message.content:
            wire = block_from_canonical(block, dropped, client=False)
            if wire is not None:
                blocks.append(wire)
                firsts.append(isinstance(block, Thinking | ToolResult))
        if not blocks:
            continue
        if merged and merged[-1][0] == message.role:
            merged[-1][1].extend(blocks)
            merged[-1][2].extend(firsts)
        else:
            merged.append((message.role, blocks, firsts))
    out: list[s.MessageParam] = []
    for role, blocks, firsts in merged:
        # Thinking opens an assistant turn; tool results open a user turn (text after them). Stable otherwise.
        ordered = [b for b, f in zip(blocks, firsts, strict=True) if f]
        ordered += [b for b, f in zip(blocks, firsts, strict=True) if not f]
        first = ordered[0]
        if len(ordered) == 1 and isinstance(first, s.TextBlock) and isinstance(first.cache_control, msgspec.UnsetType):
            out.append(s.MessageParam(role=role, content=first.text))
        else:
            out.append(s.MessageParam(role=role, content=ordered))
    return out


def _tools_out(req: Request, same: bool, dropped: list[str]) -> list[s.ToolDefOut] | Raw | None:
    raw = req.extras.get("tools") if same else None
    if raw is not None and _tools({"tools": raw}, {}) == req.tools:
        return raw  # as the client sent it: server tools, cache_control and all
    if not req.tools:
        return None
    return [_tool_out(tool, dropped) for tool in req.tools]


def _tool_out(tool: Tool, dropped: list[str]) -> s.ToolDefOut:
    schema = tool.input_schema or _EMPTY_SCHEMA
    description = tool.description
    if tool.kind == "custom":
        # A freeform tool becomes a function with one string argument, `input`; the call's input is unwrapped by
        # the dialect that declared the tool. Its grammar (format) has no Anthropic equivalent: said in the text.
        schema = Raw(b'{"type":"object","properties":{"input":{"type":"string"}},"required":["input"]}')
        if tool.format is not None:
            grammar = f"The input must match this grammar: {bytes(tool.format).decode()}"
            description = f"{description}\n\n{grammar}" if description else grammar
            dropped.append("tool format")  # described to the model, no longer enforced
    out = s.ToolDefOut(name=tool.name, input_schema=schema)
    if description is not None:
        out.description = description
    if tool.strict is not None:
        out.strict = tool.strict
    return out


def _tool_choice_out(choice: ToolChoice) -> s.ToolChoice:
    out = s.ToolChoice(type=choice.mode)
    if choice.mode == "tool" and choice.name is not None:
        out.name = choice.name
    if choice.parallel is not None and choice.mode != "none":
        out.disable_parallel_tool_use = not choice.parallel
    return out
