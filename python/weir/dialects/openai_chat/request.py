"""OpenAI chat request body <-> canonical Request.

- Every system/developer message becomes one system Text (its text parts joined by newlines), in order.
- Consecutive `tool` messages and the user message after them become one canonical user message, results first.
- A tool_choice kind we do not model (e.g. "allowed_tools") stays raw in `extras`: only an OpenAI upstream sees it.
- tool_choice and parallel_tool_calls go upstream only with tools (OpenAI refuses them without).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import msgspec
from msgspec import UNSET, Raw, UnsetType

from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message, Reasoning, Request, Tool, ToolChoice
from weir.dialects.base import Egress, Target
from weir.dialects.openai_chat import schema as wire
from weir.dialects.openai_chat.content import (
    DIALECT,
    Dropped,
    image_part,
    invalid_tool_call,
    part,
    result_blocks,
    tool_call,
    tool_use,
    user_blocks,
)
from weir.errors import InvalidRequest

BILLING_HEADER = "x-anthropic-billing-header:"
_MODES: dict[str, Literal["auto", "none", "any"]] = {"auto": "auto", "none": "none", "required": "any"}
_CHOICES = {"auto": "auto", "none": "none", "any": "required"}


def to_canonical(body: bytes) -> Request:
    try:
        req = wire.decode_request(body)
        fields = wire.decode_fields(body)
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not req.messages:
        raise InvalidRequest("messages: must not be empty.", param="messages")
    extras = {name: raw for name, raw in fields.items() if name not in wire.REQUEST_FIELDS}
    system, messages = _messages(req.messages)
    effort = req.reasoning_effort if isinstance(req.reasoning_effort, str) else None
    max_tokens = req.max_completion_tokens if isinstance(req.max_completion_tokens, int) else req.max_tokens
    return Request(
        model=req.model,
        messages=messages,
        system=system,
        tools=[_tool(t) for t in req.tools or ()],
        tool_choice=_tool_choice(req, extras),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        temperature=req.temperature if isinstance(req.temperature, float) else None,
        top_p=req.top_p if isinstance(req.top_p, float) else None,
        stop=[req.stop] if isinstance(req.stop, str) else list(req.stop or ()),
        stream=req.stream is True,
        reasoning=None if effort is None else Reasoning(enabled=effort != "none", effort=effort),
        user=req.user if isinstance(req.user, str) else None,
        extras=extras,
        extras_dialect=DIALECT,
    )


def _messages(items: list[wire.AnyMessage]) -> tuple[list[Text], list[Message]]:
    system: list[Text] = []
    out: list[Message] = []
    results_open = False  # out[-1] holds tool results that more results or the next user message join
    for i, msg in enumerate(items):
        where = f"messages[{i}].content"
        if isinstance(msg, wire.SystemMessage | wire.DeveloperMessage):
            text = _system_text(msg.content, where)
            if text is not None:
                system.append(text)
        elif isinstance(msg, wire.ToolMessage):
            result = ToolResult(tool_use_id=msg.tool_call_id, content=result_blocks(msg.content, where))
            if results_open:
                out[-1].content.append(result)
            else:
                out.append(Message(role="user", content=[result]))
                results_open = True
        elif isinstance(msg, wire.UserMessage):
            blocks = user_blocks(msg.content, where)
            if results_open:
                out[-1].content.extend(blocks)
            else:
                out.append(Message(role="user", content=blocks))
            results_open = False
        else:
            out.append(Message(role="assistant", content=_assistant_blocks(msg, f"messages[{i}]")))
            results_open = False
    return system, out


def _system_text(content: wire.Contents, where: str) -> Text | None:
    if isinstance(content, str):
        return Text(text=content) if content else None
    texts: list[str] = []
    cache_control: Raw | None = None
    for j, raw in enumerate(content):
        text_part = wire.decode_part(raw, f"{where}[{j}]")
        if not isinstance(text_part, wire.TextPart):
            param = f"{where}[{j}]"
            raise InvalidRequest(f"{param}: system and developer messages take only text parts.", param=param)
        texts.append(text_part.text)
        if not isinstance(text_part.cache_control, UnsetType):
            cache_control = text_part.cache_control
    text = "\n".join(texts)
    return Text(text=text, cache_control=cache_control) if text else None


def _assistant_blocks(msg: wire.AssistantMessage, where: str) -> list[Content]:
    blocks: list[Content] = []
    reasoning = msg.reasoning_content if isinstance(msg.reasoning_content, str) else msg.reasoning
    if isinstance(reasoning, str) and reasoning:
        blocks.append(Thinking(text=reasoning, origin=DIALECT))
    if isinstance(msg.content, str):
        if msg.content:
            blocks.append(Text(text=msg.content))
    elif msg.content is not None:  # text parts, and refusal parts kept for an OpenAI upstream
        blocks.extend(b for b in user_blocks(msg.content, f"{where}.content") if not isinstance(b, Text) or b.text)
    if isinstance(msg.refusal, str) and msg.refusal:
        blocks.append(Text(text=msg.refusal))
    for k, call in enumerate(msg.tool_calls or ()):
        block = tool_use(call)
        if block is None:
            raise invalid_tool_call(f"{where}.tool_calls[{k}]")
        blocks.append(block)
    return blocks


def _tool(tool: wire.FunctionTool | wire.CustomTool) -> Tool:
    if isinstance(tool, wire.CustomTool):
        c = tool.custom
        return Tool(
            name=c.name,
            description=c.description if isinstance(c.description, str) else None,
            kind="custom",
            format=c.format if isinstance(c.format, Raw) else None,
        )
    f = tool.function
    return Tool(
        name=f.name,
        description=f.description if isinstance(f.description, str) else None,
        input_schema=f.parameters if isinstance(f.parameters, Raw) else None,
        strict=f.strict if isinstance(f.strict, bool) else None,
    )


def _tool_choice(req: wire.ChatRequest, extras: dict[str, Raw]) -> ToolChoice | None:
    parallel = req.parallel_tool_calls if isinstance(req.parallel_tool_calls, bool) else None
    raw = req.tool_choice
    if not isinstance(raw, UnsetType):
        try:
            value = wire.decode_tool_choice(raw)
        except msgspec.ValidationError as exc:
            raise wire.invalid(exc, "tool_choice") from None
        if isinstance(value, str):
            if value not in _MODES:
                raise InvalidRequest(f"tool_choice: unknown value {value!r}.", param="tool_choice")
            return ToolChoice(mode=_MODES[value], parallel=parallel)
        if value is not None:
            named = {"function": value.function, "custom": value.custom}.get(value.type, UNSET)
            if not isinstance(named, UnsetType):
                return ToolChoice(mode="tool", name=named.name, parallel=parallel)
            extras["tool_choice"] = raw
    return None if parallel is None else ToolChoice(mode="auto", parallel=parallel)


# --- canonical -> upstream body ------------------------------------------------------------------------------------


def from_canonical(req: Request, target: Target) -> Egress:
    dropped = Dropped()
    messages: list[wire.AnyMessage] = [wire.SystemMessage(content=t) for t in _system_texts(req.system)]
    for msg in req.messages:
        if msg.role == "user":
            messages.extend(_user_messages(msg.content, dropped))
        else:
            messages.append(_assistant_message(msg.content, dropped))
    tools = [_tool_def(t) for t in req.tools]
    choice = req.tool_choice if tools else None
    effort: str | UnsetType = UNSET
    if req.reasoning is not None and req.reasoning.enabled:
        if req.reasoning.effort is not None:
            effort = req.reasoning.effort
        elif req.reasoning.budget_tokens is not None:
            dropped.add("reasoning.budget_tokens")
    if req.top_k is not None:
        dropped.add("top_k")
    body = wire.ChatRequest(
        model=target.model,
        messages=messages,
        tools=tools or UNSET,
        tool_choice=UNSET if choice is None else _choice(choice, req.tools),
        parallel_tool_calls=UNSET if choice is None or choice.parallel is None else choice.parallel,
        max_completion_tokens=UNSET if req.max_tokens is None else req.max_tokens,
        temperature=UNSET if req.temperature is None else req.temperature,
        top_p=UNSET if req.top_p is None else req.top_p,
        stop=req.stop or UNSET,
        stream=True if target.stream else UNSET,
        stream_options=wire.INCLUDE_USAGE if target.stream else UNSET,
        user=UNSET if req.user is None else req.user,
        reasoning_effort=effort,
    )
    if req.extras_dialect != DIALECT:
        for name in req.extras:
            dropped.add(name)
        return Egress(body=wire.encode(body), dropped=tuple(dropped.names))
    # The client's own fields win over what we derived (a tool_choice kind we do not model).
    body = msgspec.structs.replace(body, **{name: UNSET for name in req.extras if name in wire.REQUEST_FIELDS})
    encoded = wire.encode(body)
    if req.extras:  # spliced into the encoded object: `{...}` -> `{...,"name":raw}`
        encoded = encoded[:-1] + b"".join(b"," + wire.encode(k) + b":" + bytes(v) for k, v in req.extras.items())
        encoded += b"}"
    return Egress(body=encoded, dropped=tuple(dropped.names))


def _system_texts(system: list[Text]) -> Iterator[str]:
    for block in system:
        text = block.text
        if text.startswith(BILLING_HEADER):  # Claude Code's per-request line: it would defeat prompt caching
            text = text.partition("\n")[2].lstrip("\n")
        if text:
            yield text


def _user_messages(content: list[Content], dropped: Dropped) -> list[wire.AnyMessage]:
    """One `tool` message per tool result, first; then one user message with the rest (and the results' images,
    which tool messages cannot carry)."""
    out: list[wire.AnyMessage] = []
    moved: list[Raw] = []
    rest: list[Content] = []
    for block in content:
        if isinstance(block, ToolResult):
            out.append(wire.ToolMessage(tool_call_id=block.tool_use_id, content=_result(block, moved, dropped)))
            if block.is_error:
                dropped.add("tool_result.is_error")
        else:
            rest.append(block)
    if len(rest) == 1 and isinstance(rest[0], Text) and not moved:
        out.append(wire.UserMessage(content=rest[0].text))
    elif rest or moved:
        parts = moved + [p for p in (part(b, dropped) for b in rest) if p is not None]
        if parts:
            out.append(wire.UserMessage(content=parts))
    return out


def _result(result: ToolResult, moved: list[Raw], dropped: Dropped) -> wire.Contents:
    """A tool message's content: a string when the result is text, parts when it holds OpenAI parts."""
    texts: list[str] = []
    parts: list[Raw] = []
    raw = False
    for block in result.content:
        if isinstance(block, Image):
            moved.append(image_part(block))
            continue
        p = part(block, dropped)
        if p is not None:
            parts.append(p)
            raw = raw or isinstance(block, Opaque)
        if isinstance(block, Text):
            texts.append(block.text)
    return parts if raw else "\n".join(texts)


def _assistant_message(content: list[Content], dropped: Dropped) -> wire.AssistantMessage:
    texts: list[str] = []
    parts: list[Raw] = []
    calls: list[wire.ToolCall] = []
    raw = False
    for block in content:
        if isinstance(block, ToolUse):
            calls.append(tool_call(block))
        elif isinstance(block, Text | Opaque):
            p = part(block, dropped)
            if p is not None:
                parts.append(p)
                raw = raw or isinstance(block, Opaque)
            if isinstance(block, Text):
                texts.append(block.text)
        else:
            dropped.block(block)  # thinking: OpenAI has no reasoning to send back (it is never signed)
    body: wire.Contents | None = parts if raw else "".join(texts) if texts or not calls else None
    return wire.AssistantMessage(content=body, tool_calls=calls or UNSET)


def _tool_def(tool: Tool) -> wire.FunctionTool | wire.CustomTool:
    description = UNSET if tool.description is None else tool.description
    if tool.kind == "custom":
        fmt = UNSET if tool.format is None else tool.format
        return wire.CustomTool(custom=wire.CustomDef(name=tool.name, description=description, format=fmt))
    params = UNSET if tool.input_schema is None else tool.input_schema
    strict = UNSET if tool.strict is None else tool.strict
    fn = wire.FunctionDef(name=tool.name, description=description, parameters=params, strict=strict)
    return wire.FunctionTool(function=fn)


def _choice(choice: ToolChoice, tools: list[Tool]) -> Raw:
    if choice.mode != "tool":
        return Raw(wire.encode(_CHOICES[choice.mode]))
    name = wire.ToolName(name=choice.name or "")
    if any(t.kind == "custom" and t.name == choice.name for t in tools):
        return Raw(wire.encode(wire.NamedToolChoice(type="custom", custom=name)))
    return Raw(wire.encode(wire.NamedToolChoice(type="function", function=name)))
