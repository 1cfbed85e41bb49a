"""OpenAI Responses request body <-> canonical Request.

- `instructions`, then every system/developer message item, become `Request.system`, in order.
- Items build canonical messages: assistant-side items (assistant messages, function and custom tool calls,
  reasoning) of one turn join one assistant message; consecutive call outputs, and the user message right after
  them, join one user message. Items we do not model (web_search_call, compaction, ...) stay Opaque in the
  message they follow, so a Responses upstream gets them back in place.
- Non-function tools (web_search, file_search, mcp...) and function tools with keys we do not model make the raw
  `tools` array an extra: a Responses upstream gets it as sent (as long as the canonical tools still match it).
- `store`, `include`, `previous_response_id`, `prompt_cache_key`, `metadata`, `text`, `truncation`, ... are extras
  (the pipeline resolves `previous_response_id`; here it is only carried).
- A request from another dialect goes out with `store: false` (nothing of a translated client is kept upstream) and,
  when it reasons, `include: ["reasoning.encrypted_content"]`, so the reasoning comes back in a form the next turn
  can replay. A thinking budget becomes the smallest effort that covers it. System texts after the first go out as
  developer messages at the start of `input`, so they stay separate texts.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, Raw, UnsetType

from weir.canonical.content import Content, Opaque, Text, ToolUse
from weir.canonical.request import Message, Reasoning, Request
from weir.dialects.base import Egress, Target
from weir.dialects.openai_responses import items, tools
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.content import Dropped
from weir.dialects.openai_responses.schema import DIALECT, ITEM
from weir.errors import InvalidRequest

BILLING_HEADER = "x-anthropic-billing-header:"
ENCRYPTED_REASONING = "reasoning.encrypted_content"
_ASSISTANT_SIDE = frozenset({"function_call", "custom_tool_call", "reasoning"})
_USER_SIDE = frozenset({"function_call_output", "custom_tool_call_output"})
# Effort for a reasoning budget (Anthropic clients send budgets): the smallest effort whose budget covers it.
_BUDGET_EFFORTS = ((2048, "low"), (8192, "medium"))
_OUT_FIELDS = frozenset(wire.RequestOut.__struct_fields__) - {"model", "input"}


def to_canonical(body: bytes) -> Request:
    try:
        req = wire.decode_request(body)
        fields = wire.decode_fields(body)
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not req.model:
        raise InvalidRequest("model: a model name is required.", param="model")
    extras = {name: raw for name, raw in fields.items() if name not in wire.MODELLED}
    system = _instructions(req.instructions)
    messages: list[Message] = []
    if isinstance(req.input, str):
        messages.append(Message(role="user", content=[Text(text=req.input)]))
    elif not isinstance(req.input, UnsetType):
        system += _messages(req.input, messages)
    return Request(
        model=req.model,
        messages=messages,
        system=system,
        tools=tools.to_canonical(req.tools, fields.get("tools"), extras),
        tool_choice=tools.choice_to_canonical(req.tool_choice, req.parallel_tool_calls, extras),
        max_tokens=req.max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        stream=req.stream is True,
        reasoning=_reasoning(req.reasoning, extras),
        user=req.user,
        extras=extras,
        extras_dialect=DIALECT,
    )


def _instructions(instructions: str | list[Raw] | None) -> list[Text]:
    if isinstance(instructions, str):
        return [Text(text=instructions)] if instructions else []
    texts = (items.system_text(raw, f"instructions[{i}]") for i, raw in enumerate(instructions or ()))
    return [t for t in texts if t is not None]  # a prompt's instructions, as message items


def _messages(raws: list[Raw], out: list[Message]) -> list[Text]:
    """Appends the canonical messages of `raws` to `out`; returns the system texts found among them."""
    system: list[Text] = []
    results_open = False  # out[-1] is a user message holding call outputs that more outputs or user text join
    for i, raw in enumerate(raws):
        where = f"input[{i}]"
        try:
            head = wire.decode_head(raw)
        except msgspec.DecodeError as exc:
            raise InvalidRequest(f"{where}: {exc}", param=where) from None
        kind = head.type or ("message" if head.role else None)
        if kind == "message":
            role = head.role
            if role in ("system", "developer"):
                text = items.system_text(raw, where)
                if text is not None:
                    system.append(text)
                continue
            if role not in ("user", "assistant"):
                raise InvalidRequest(f"{where}.role: unknown role {role!r}.", param=f"{where}.role")
            blocks = items.message_blocks(raw, where)
            if role == "assistant":
                _join(out, "assistant", blocks)
            elif results_open:
                out[-1].content.extend(blocks)
            else:
                out.append(Message(role="user", content=blocks))
            results_open = False
        elif kind in _USER_SIDE:
            result = items.result_block(raw, where)
            if results_open:
                out[-1].content.append(result)
            else:
                out.append(Message(role="user", content=[result]))
                results_open = True
        elif kind in _ASSISTANT_SIDE:
            _join(out, "assistant", [items.assistant_block(raw, kind, where)])
            results_open = False
        else:  # item_reference, web_search_call, local_shell_call, compaction...: kept in place
            block = Opaque(dialect=ITEM, raw=raw)
            if out:
                out[-1].content.append(block)
            else:
                out.append(Message(role="user", content=[block]))
    return system


def _join(out: list[Message], role: Literal["user", "assistant"], blocks: list[Content]) -> None:
    if out and out[-1].role == role:
        out[-1].content.extend(blocks)
    else:
        out.append(Message(role=role, content=blocks))


def _reasoning(raw: Raw | UnsetType, extras: dict[str, Raw]) -> Reasoning | None:
    if isinstance(raw, UnsetType) or raw == wire.NULL:
        return None
    try:
        effort = wire.decode_reasoning_param(raw).effort
        keys = set(wire.decode_fields(raw))
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"reasoning: {exc}", param="reasoning") from None
    if keys - {"effort"}:
        extras["reasoning"] = raw  # summary, generate_summary...: only a Responses upstream understands them
    if effort is None:
        return Reasoning() if keys - {"effort"} else None
    return Reasoning(enabled=effort != "none", effort=effort)


# --- canonical -> upstream body ------------------------------------------------------------------------------------


def from_canonical(req: Request, target: Target) -> Egress:
    dropped = Dropped()
    same = req.extras_dialect == DIALECT
    texts = [t for t in (_system_text(b) for b in req.system) if t]
    instructions = texts[0] if texts else UNSET
    body_items: list[wire.Item | Raw] = [
        wire.MessageOut(role="developer", content=[wire.InputText(text=t)]) for t in texts[1:]
    ]
    customs = {b.id for m in req.messages for b in m.content if isinstance(b, ToolUse) and b.kind == "custom"}
    for msg in req.messages:
        body_items += items.message_items(msg, customs, dropped)
    tool_list = tools.from_canonical(req, same, dropped)
    choice = req.tool_choice if tool_list is not None else None
    if req.top_k is not None:
        dropped.add("top_k")
    if req.stop:
        dropped.add("stop")
    reasoning = _reasoning_out(req, same)
    body = wire.RequestOut(
        model=target.model,
        instructions=instructions,
        input=body_items,
        tools=UNSET if tool_list is None else tool_list,
        tool_choice=UNSET if choice is None else tools.choice_from_canonical(choice, req.tools),
        parallel_tool_calls=UNSET if choice is None or choice.parallel is None else choice.parallel,
        max_output_tokens=UNSET if req.max_tokens is None else req.max_tokens,
        temperature=UNSET if req.temperature is None else req.temperature,
        top_p=UNSET if req.top_p is None else req.top_p,
        reasoning=UNSET if reasoning is None else reasoning,
        store=UNSET if same else False,
        include=[ENCRYPTED_REASONING] if not same and reasoning is not None and _enabled(req) else UNSET,
        stream=True if target.stream else UNSET,
        user=UNSET if req.user is None else req.user,
    )
    if not same:
        for name in req.extras:
            dropped.add(name)
        return Egress(body=wire.encode(body), dropped=tuple(dropped.names))
    # The client's own fields win over what we derived (a tool_choice kind we do not model).
    extra = {k: v for k, v in req.extras.items() if k not in tools.SHADOWED}
    body = msgspec.structs.replace(body, **{k: UNSET for k in extra if k in _OUT_FIELDS})
    encoded = wire.encode(body)
    if extra:  # spliced into the encoded object: `{...}` -> `{...,"name":raw}`
        encoded = encoded[:-1] + b"".join(b"," + wire.encode(k) + b":" + bytes(v) for k, v in extra.items()) + b"}"
    return Egress(body=encoded, dropped=tuple(dropped.names))


def _system_text(block: Text) -> str:
    text = block.text
    if text.startswith(BILLING_HEADER):  # Claude Code's per-request line: it would defeat prompt caching
        text = text.partition("\n")[2].lstrip("\n")
    return text


def _enabled(req: Request) -> bool:
    return req.reasoning is not None and req.reasoning.enabled


def _reasoning_out(req: Request, same: bool) -> Raw | None:
    """`reasoning`: the client's own object when it came in Responses (effort as the canonical form says)."""
    reasoning = req.reasoning
    if reasoning is None:
        return None
    fields: dict[str, Raw] = {}
    raw = req.extras.get("reasoning") if same else None
    if raw is not None:
        fields.update(wire.decode_fields(raw))
    fields.pop("effort", None)
    effort = reasoning.effort
    if effort is None and reasoning.enabled and reasoning.budget_tokens is not None:
        effort = next((name for limit, name in _BUDGET_EFFORTS if reasoning.budget_tokens <= limit), "high")
    if effort is not None:
        fields["effort"] = Raw(wire.encode(effort))
    return Raw(wire.encode(fields)) if fields else None
