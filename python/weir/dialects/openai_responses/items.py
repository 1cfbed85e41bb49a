"""Request input items <-> the blocks of canonical messages.

Written items carry no `id`: Codex leaves them out too, and with `store: false` an item id would not resolve.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Message
from weir.dialects.openai_responses import content as c
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.schema import DIALECT, ITEM
from weir.errors import InvalidRequest

# --- wire -> canonical ---------------------------------------------------------------------------------------------


def system_text(raw: Raw, where: str) -> Text | None:
    """A system or developer message as one Text (its text parts joined by newlines); None when empty."""
    blocks = message_blocks(raw, where)
    if not all(isinstance(b, Text) for b in blocks):
        raise InvalidRequest(f"{where}.content: system and developer messages take only text.", param=where)
    text = "\n".join(b.text for b in blocks if isinstance(b, Text))
    return Text(text=text) if text else None


def message_blocks(raw: Raw, where: str) -> list[Content]:
    try:
        message = wire.decode_message(raw)
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc, where) from None
    return c.part_blocks(message.content, f"{where}.content")


def result_block(raw: Raw, where: str) -> ToolResult:
    try:
        out = wire.decode_output(raw)
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc, where) from None
    if isinstance(out.output, wire.LegacyOutput):
        content: list[Text | Image | Opaque] = [Text(text=out.output.content)] if out.output.content else []
        return ToolResult(tool_use_id=out.call_id, content=content, is_error=out.output.success is False)
    return ToolResult(tool_use_id=out.call_id, content=c.output_blocks(out.output, f"{where}.output"))


def assistant_block(raw: Raw, kind: str, where: str) -> Content:
    """A function_call, custom_tool_call or reasoning item as its canonical block."""
    try:
        if kind == "function_call":
            call = wire.decode_function_call(raw)
            return c.function_use(call.call_id, call.name, call.arguments)
        if kind == "custom_tool_call":
            custom = wire.decode_custom_call(raw)
            return c.custom_use(custom.call_id, custom.name, custom.input)
        return c.thinking(wire.decode_reasoning(raw))
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc, where) from None


# --- canonical -> wire ---------------------------------------------------------------------------------------------


def message_items(msg: Message, customs: set[str], dropped: c.Dropped) -> list[wire.Item | Raw]:
    """The input items of one canonical message, in block order. `customs`: ids of custom tool calls, whose
    results go back as custom_tool_call_output."""
    if msg.role == "user":
        return _user_items(msg.content, customs, dropped)
    out: list[wire.Item | Raw] = []
    for block in msg.content:
        if isinstance(block, Text):
            if block.text:
                out.append(wire.MessageOut(role="assistant", content=[c.output_text(block.text)]))
        elif isinstance(block, ToolUse):
            out.append(c.call_item(block))
        elif isinstance(block, Thinking) and block.origin == DIALECT and block.signature:
            out.append(wire.ReasoningOut(summary=c.summary(block.text), encrypted_content=block.signature))
        elif isinstance(block, Opaque) and block.dialect == ITEM:
            out.append(block.raw)
        elif isinstance(block, Opaque) and block.dialect == DIALECT:
            out.append(wire.MessageOut(role="assistant", content=[block.raw]))
        else:
            dropped.block(block)  # thinking another upstream signed (or nobody did), images, results
    return out


def _user_items(blocks: list[Content], customs: set[str], dropped: c.Dropped) -> list[wire.Item | Raw]:
    out: list[wire.Item | Raw] = []
    parts: list[wire.Part] = []

    def flush() -> None:
        if parts:
            out.append(wire.MessageOut(role="user", content=parts.copy()))
            parts.clear()

    for block in blocks:
        if isinstance(block, ToolResult):
            flush()
            out.append(c.result_item(block, block.tool_use_id in customs, dropped))
        elif isinstance(block, Opaque) and block.dialect == ITEM:
            flush()
            out.append(block.raw)
        elif isinstance(block, Text | Image | Opaque):
            p = c.part(block, "user", dropped)
            if p is not None:
                parts.append(p)
        else:
            dropped.block(block)
    flush()
    return out
