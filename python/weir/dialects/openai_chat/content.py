"""Content parts and tool calls <-> canonical blocks, shared by requests and responses.

- `tool_calls[].function.arguments` that is not a JSON object (invalid JSON, or JSON of another type) becomes a
  ToolUse whose input is a JSON *string* holding the text: nothing is lost, and an OpenAI upstream gets the exact
  text back. "" (a call without arguments) becomes {}. Custom tool calls carry their freeform input the same way.
- Part types this dialect does not model (input_audio, file, ...) become Opaque, sent on only to OpenAI upstreams.
"""

from __future__ import annotations

from msgspec import UNSET, Raw, UnsetType

from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.dialects.openai_chat import schema as wire
from weir.errors import InvalidRequest

DIALECT = "openai_chat"
EMPTY_OBJECT = Raw(b"{}")
KINDS = {Text: "text", Image: "image", ToolUse: "tool_use", ToolResult: "tool_result", Thinking: "thinking"}


class Dropped:
    """What a translation could not carry, once each, in order (Egress.dropped)."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def add(self, name: str) -> None:
        self.names[name] = None

    def block(self, block: Content) -> None:
        self.add(f"opaque:{block.dialect}" if isinstance(block, Opaque) else KINDS[type(block)])


# --- wire -> canonical ---------------------------------------------------------------------------------------------


def user_blocks(content: wire.Contents, where: str) -> list[Content]:
    if isinstance(content, str):
        return [Text(text=content)]
    blocks: list[Content] = []
    for j, raw in enumerate(content):
        part = wire.decode_part(raw, f"{where}[{j}]")
        if isinstance(part, wire.TextPart):
            cache_control = None if isinstance(part.cache_control, UnsetType) else part.cache_control
            blocks.append(Text(text=part.text, cache_control=cache_control))
        elif isinstance(part, wire.ImagePart):
            blocks.append(image_block(part.image_url))
        else:  # input_audio, file, refusal, anything newer
            blocks.append(Opaque(dialect=DIALECT, raw=raw))
    return blocks


def result_blocks(content: wire.Contents, where: str) -> list[Text | Image | Opaque]:
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    return [b for b in user_blocks(content, where) if isinstance(b, Text | Image | Opaque)]  # all of them


def image_block(url: wire.ImageUrl) -> Image:
    """A data URL (`data:image/png;base64,...`) becomes inline data; any other URL stays a URL."""
    detail = url.detail if isinstance(url.detail, str) else None
    if url.url.startswith("data:"):
        head, comma, data = url.url[5:].partition(",")
        media_type = head.partition(";")[0]
        if comma and media_type and head.endswith(";base64"):
            return Image(media_type=media_type, data=data, detail=detail)
    return Image(url=url.url, detail=detail)


def tool_use(call: wire.ToolCall) -> ToolUse | None:
    """The canonical block of a wire tool call; None when a function call has no `function`."""
    if call.type == "custom" and not isinstance(call.custom, UnsetType):
        return ToolUse(id=call.id, name=call.custom.name, input=Raw(wire.encode(call.custom.input)), kind="custom")
    if isinstance(call.function, UnsetType):
        return None
    text = call.function.arguments
    if not text.strip():
        arguments = EMPTY_OBJECT
    elif wire.is_json_object(text):
        arguments = Raw(text.encode())
    else:
        arguments = Raw(wire.encode(text))
    return ToolUse(id=call.id, name=call.function.name, input=arguments)


def invalid_tool_call(where: str) -> InvalidRequest:
    return InvalidRequest(f"{where}.function: a function tool call needs `function`.", param=f"{where}.function")


# --- canonical -> wire ---------------------------------------------------------------------------------------------


def part(block: Content, dropped: Dropped) -> Raw | None:
    """A block as a content part, or None (listed in `dropped`) when this dialect cannot carry it."""
    if isinstance(block, Text):
        return Raw(wire.encode(wire.TextPart(text=block.text)))
    if isinstance(block, Image):
        return image_part(block)
    if isinstance(block, Opaque) and block.dialect == DIALECT:
        return block.raw
    dropped.block(block)
    return None


def image_part(image: Image) -> Raw:
    url = image.url or f"data:{image.media_type or 'application/octet-stream'};base64,{image.data or ''}"
    image_url = wire.ImageUrl(url=url, detail=UNSET if image.detail is None else image.detail)
    return Raw(wire.encode(wire.ImagePart(image_url=image_url)))


def tool_call(block: ToolUse) -> wire.ToolCall:
    text = bytes(block.input).decode()
    if text.lstrip().startswith('"'):  # a string input: freeform (custom) or non-object arguments kept whole
        text = wire.decode_str(block.input)
    if block.kind == "custom":
        return wire.ToolCall(id=block.id, type="custom", custom=wire.CustomCall(name=block.name, input=text))
    return wire.ToolCall(id=block.id, function=wire.FunctionCall(name=block.name, arguments=text))
