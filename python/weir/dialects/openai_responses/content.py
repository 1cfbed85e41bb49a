"""Content parts and items <-> canonical blocks, shared by requests, responses and streams.

- Function call `arguments` that are not a JSON object become a ToolUse whose input is a JSON *string* holding the
  text (nothing lost; a Responses upstream gets the exact text back); "" becomes {}. A custom tool call's freeform
  `input` is carried the same way, as a JSON string, with `kind="custom"`.
- A reasoning item becomes Thinking(origin="openai_responses"): its summary parts joined by a blank line, its
  `encrypted_content` as the signature (the item id is not kept: with `store: false` an id would not resolve).
- Reasoning from another dialect reaches a Responses client as a reasoning item whose `encrypted_content` says where
  it came from (`weir:v1:<origin>:<signature>`, `weir:v1r:<origin>:<redacted data>`), so a replay goes back to
  an upstream that can verify it, and never to OpenAI.
- Parts and items this dialect does not model become Opaque (`DIALECT` for parts, `ITEM` for whole items), sent on
  only to Responses upstreams.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Raw, UnsetType

from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.schema import DIALECT
from weir.errors import InvalidRequest

EMPTY_OBJECT = Raw(b"{}")
EMPTY_STRING = Raw(b'""')  # the input a custom tool call starts with
SUMMARY_JOIN = "\n\n"
KINDS = {Text: "text", Image: "image", ToolUse: "tool_use", ToolResult: "tool_result", Thinking: "thinking"}
_MARK = "weir:v1:"
_REDACTED_MARK = "weir:v1r:"


class Dropped:
    """What a translation could not carry, once each, in order (Egress.dropped)."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def add(self, name: str) -> None:
        self.names[name] = None

    def block(self, block: Content) -> None:
        self.add(f"opaque:{block.dialect}" if isinstance(block, Opaque) else KINDS[type(block)])


# --- wire -> canonical ---------------------------------------------------------------------------------------------


def part_blocks(content: str | list[Raw], where: str) -> list[Content]:
    """A message's content (a string or parts) as canonical blocks."""
    if isinstance(content, str):
        return [Text(text=content)]
    return [part_block(raw, f"{where}[{j}]") for j, raw in enumerate(content)]


def part_block(raw: Raw, where: str) -> Text | Image | Opaque:
    try:
        kind = wire.decode_head(raw).type
        if kind in ("input_text", "output_text"):
            return Text(text=wire.decode_text(raw).text)
        if kind == "refusal":
            return Text(text=wire.decode_refusal(raw).refusal)
        if kind == "input_image":
            image = wire.decode_image(raw)
            if image.image_url:
                return image_block(image.image_url, image.detail)
    except msgspec.ValidationError as exc:
        raise wire.invalid(exc, where) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{where}: {exc}", param=where) from None
    return Opaque(dialect=DIALECT, raw=raw)  # input_file, file_id images, input_audio, anything newer


def output_blocks(output: str | list[Raw], where: str) -> list[Text | Image | Opaque]:
    """A function_call_output's `output` as a tool result's content."""
    if isinstance(output, str):
        return [Text(text=output)] if output else []
    return [part_block(raw, f"{where}[{j}]") for j, raw in enumerate(output)]


def image_block(url: str, detail: str | None) -> Image:
    """A data URL (`data:image/png;base64,...`) becomes inline data; any other URL stays a URL."""
    if url.startswith("data:"):
        head, comma, data = url[5:].partition(",")
        media_type = head.partition(";")[0]
        if comma and media_type and head.endswith(";base64"):
            return Image(media_type=media_type, data=data, detail=detail)
    return Image(url=url, detail=detail)


def function_use(call_id: str, name: str, arguments: str) -> ToolUse:
    if not arguments.strip():
        return ToolUse(id=call_id, name=name, input=EMPTY_OBJECT)
    if wire.is_json_object(arguments):
        return ToolUse(id=call_id, name=name, input=Raw(arguments.encode()))
    return ToolUse(id=call_id, name=name, input=Raw(wire.encode(arguments)))


def custom_use(call_id: str, name: str, text: str) -> ToolUse:
    return ToolUse(id=call_id, name=name, input=Raw(wire.encode(text)), kind="custom")


def thinking(item: wire.Reasoning) -> Thinking:
    parts = item.summary or item.content or ()
    text = SUMMARY_JOIN.join(p.text for p in parts)
    return thinking_of(text, item.encrypted_content)


def thinking_of(text: str, encrypted: str | None) -> Thinking:
    """Thinking from a reasoning item's text and encrypted_content, its origin restored from our mark."""
    if encrypted and encrypted.startswith(_MARK):
        origin, _, signature = encrypted[len(_MARK) :].partition(":")
        return Thinking(text=text, signature=signature or None, origin=origin or None)
    if encrypted and encrypted.startswith(_REDACTED_MARK):
        origin, _, data = encrypted[len(_REDACTED_MARK) :].partition(":")
        return Thinking(text=text, redacted=data or None, origin=origin or None)
    return Thinking(text=text, signature=encrypted or None, origin=DIALECT)


# --- canonical -> wire ---------------------------------------------------------------------------------------------


def part(block: Content, role: str, dropped: Dropped) -> wire.Part | None:
    """A block as a message content part, or None (listed in `dropped`) when this dialect cannot carry it there."""
    if isinstance(block, Text):
        return output_text(block.text) if role == "assistant" else wire.InputText(text=block.text)
    if isinstance(block, Image) and role == "user":
        return image_part(block)
    if isinstance(block, Opaque) and block.dialect == DIALECT:
        return block.raw
    dropped.block(block)
    return None


def output_text(text: str) -> wire.OutputText:
    return wire.OutputText(text=text, annotations=[])


def image_part(image: Image) -> wire.InputImage:
    url = image.url or f"data:{image.media_type or 'application/octet-stream'};base64,{image.data or ''}"
    return wire.InputImage(image_url=url, detail=image.detail or "auto")


def arguments_text(block: ToolUse) -> str:
    """The arguments (or freeform input) as the text a Responses item carries."""
    text = bytes(block.input).decode()
    if text.lstrip().startswith('"'):  # freeform input, or non-object arguments kept whole
        return wire.decode_str(block.input)
    return text


def call_item(
    block: ToolUse, item_id: str | UnsetType = UNSET, status: str | UnsetType = UNSET
) -> wire.FunctionCallOut | wire.CustomToolCallOut:
    text = arguments_text(block)
    if block.kind == "custom":
        return wire.CustomToolCallOut(id=item_id, call_id=block.id, name=block.name, input=text, status=status)
    return wire.FunctionCallOut(id=item_id, call_id=block.id, name=block.name, arguments=text, status=status)


def result_item(
    result: ToolResult, custom: bool, dropped: Dropped
) -> wire.FunctionCallOutput | wire.CustomToolCallOutput:
    """A tool result as the output item of its call: a string when it is one text, parts otherwise."""
    if result.is_error:
        dropped.add("tool_result.is_error")
    output: str | list[wire.Part]
    if all(isinstance(b, Text) for b in result.content) and len(result.content) <= 1:
        output = "".join(b.text for b in result.content if isinstance(b, Text))
    else:
        output = [p for p in (part(b, "user", dropped) for b in result.content) if p is not None]
    if custom:
        return wire.CustomToolCallOutput(call_id=result.tool_use_id, output=output)
    return wire.FunctionCallOutput(call_id=result.tool_use_id, output=output)


def summary(text: str) -> list[wire.SummaryText]:
    return [wire.SummaryText(text=text)] if text else []


def encrypted_content(block: Thinking) -> str | None:
    """What a Responses client keeps and replays: our own signature as is, another origin's marked."""
    if block.origin == DIALECT:
        return block.signature
    if block.redacted is not None:
        return f"{_REDACTED_MARK}{block.origin or ''}:{block.redacted}"
    return f"{_MARK}{block.origin or ''}:{block.signature or ''}"
