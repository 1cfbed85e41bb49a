"""Anthropic Messages wire Structs and their module-level decoders and encoders.

Readers are tolerant (unknown fields are skipped, `null` reads as absent where Anthropic allows the field to be
left out); writers are strict (`UNSET` fields are not written, so we never send a `null` nobody asked for).
Content blocks are first read as `msgspec.Raw` and dispatched on their `type`, so a block type we do not model
stays byte for byte as it came (it becomes canonical `Opaque`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

DIALECT = "anthropic_messages"  # Opaque.dialect and Request.extras_dialect of this dialect
ORIGIN = "anthropic"  # Thinking.origin of blocks this dialect reads: their signatures are Anthropic's
ORIGINS = frozenset({ORIGIN, DIALECT})  # origins whose signed thinking an Anthropic upstream can verify
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # all Anthropic accepts

# ---- requests: top level is read as {name: Raw} so every unknown field lands in extras ----


class Message(Struct):
    role: str
    content: str | list[Raw]


class Head(Struct):
    """The `type` of a content block, tool or event; everything else skipped."""

    type: str = ""


class Source(Struct):
    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class ToolDef(Struct):
    name: str
    type: str | None = None
    description: str | None = None
    input_schema: Raw | UnsetType = UNSET  # msgspec cannot read `Raw | None`; a JSON null reads as Raw b'null'
    strict: bool | None = None


class ToolDefOut(Struct, omit_defaults=True, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    input_schema: Raw
    strict: bool | UnsetType = UNSET


class ToolChoice(Struct, omit_defaults=True):
    type: str
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class Metadata(Struct):
    user_id: str | None = None


class Thinking(Struct, omit_defaults=True):
    type: str
    budget_tokens: int | UnsetType = UNSET


class OutputConfig(Struct):
    effort: str | None = None


# ---- content blocks, read and written (the tag is `type`) ----


class Block(Struct, tag_field="type", omit_defaults=True):
    pass


class TextBlock(Block, tag="text"):
    text: str
    cache_control: Raw | UnsetType = UNSET


class ImageIn(Struct):
    source: Source
    cache_control: Raw | UnsetType = UNSET


class Base64Source(Struct, tag_field="type", tag="base64"):
    media_type: str
    data: str


class UrlSource(Struct, tag_field="type", tag="url"):
    url: str


class ImageBlock(Block, tag="image"):
    source: Base64Source | UrlSource
    cache_control: Raw | UnsetType = UNSET


class ToolUseBlock(Block, tag="tool_use"):
    id: str
    name: str
    input: Raw
    cache_control: Raw | UnsetType = UNSET


class ToolResultIn(Struct):
    tool_use_id: str
    content: str | list[Raw] | None = None
    is_error: bool | None = None
    cache_control: Raw | UnsetType = UNSET


class ToolResultBlock(Block, tag="tool_result"):
    """Written only (its content mixes Structs and Raw)."""

    tool_use_id: str
    content: str | list[TextBlock | ImageBlock | Raw] | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    cache_control: Raw | UnsetType = UNSET


class ThinkingBlock(Block, tag="thinking"):
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(Block, tag="redacted_thinking"):
    data: str


class MessageParam(Struct):
    """A message written to an upstream."""

    role: str
    content: str | list[OutBlock | Raw]


OutBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock

# ---- responses ----


class OutputTokensDetails(Struct):
    thinking_tokens: int = 0


class Usage(Struct, omit_defaults=True):
    """Read: every count optional (message_delta sends only what changed). Written: all four counts, cost when
    known."""

    input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens: int | None = None
    output_tokens_details: OutputTokensDetails | None = None
    cost_microcents: int | UnsetType = UNSET  # Weir's additions: the price of the call
    cost: float | UnsetType = UNSET  # USD


class MessageBody(Struct, kw_only=True):
    id: str = ""
    model: str = ""
    content: list[Raw] = []
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


class MessageOut(Struct, kw_only=True):
    """Written only; every field is always present, as in Anthropic's own responses."""

    id: str
    type: str = "message"
    role: str = "assistant"
    model: str
    content: list[OutBlock | Raw]
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage


class ErrorDetail(Struct):
    type: str = "api_error"
    message: str = ""


class ErrorBody(Struct, kw_only=True):
    type: str = "error"
    error: ErrorDetail
    request_id: str | UnsetType = UNSET


# ---- stream events (read side: one superset Struct, dispatched on `type`) ----


class Delta(Struct):
    type: str = ""
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None


class StreamEvent(Struct):
    type: str = ""
    message: MessageBody | None = None
    index: int = 0
    content_block: Raw | UnsetType = UNSET
    delta: Delta | None = None
    usage: Usage | None = None
    error: ErrorDetail | None = None


decode_top = msgspec.json.Decoder(dict[str, Raw]).decode
decode_messages = msgspec.json.Decoder(list[Message]).decode
decode_system = msgspec.json.Decoder(str | list[Raw]).decode
decode_head = msgspec.json.Decoder(Head).decode
decode_source_image = msgspec.json.Decoder(ImageIn).decode
decode_text = msgspec.json.Decoder(TextBlock).decode
decode_tool_use = msgspec.json.Decoder(ToolUseBlock).decode
decode_tool_result = msgspec.json.Decoder(ToolResultIn).decode
decode_thinking_block = msgspec.json.Decoder(ThinkingBlock).decode
decode_redacted = msgspec.json.Decoder(RedactedThinkingBlock).decode
decode_tools = msgspec.json.Decoder(list[Raw]).decode
decode_tool_def = msgspec.json.Decoder(ToolDef).decode
decode_tool_choice = msgspec.json.Decoder(ToolChoice).decode
decode_metadata = msgspec.json.Decoder(Metadata).decode
decode_thinking = msgspec.json.Decoder(Thinking).decode
decode_output_config = msgspec.json.Decoder(OutputConfig).decode
decode_object = msgspec.json.Decoder(dict[str, Raw]).decode  # also checks that a Raw holds a JSON object
decode_any = msgspec.json.Decoder().decode  # only to compare or re-shape small objects inside this package
decode_strings = msgspec.json.Decoder(list[str]).decode  # null is handled by the caller (_field)
decode_int = msgspec.json.Decoder(int | None).decode
decode_float = msgspec.json.Decoder(float | None).decode
decode_bool = msgspec.json.Decoder(bool | None).decode
decode_str = msgspec.json.Decoder(str | None).decode
decode_body = msgspec.json.Decoder(MessageBody).decode
decode_event = msgspec.json.Decoder(StreamEvent).decode
decode_error = msgspec.json.Decoder(ErrorBody).decode
encode = msgspec.json.Encoder().encode


def raw_of(value: Any) -> Raw:
    return Raw(encode(value))


def present(value: Raw | UnsetType) -> Raw | None:
    """A Raw field's value, None when absent or JSON null."""
    return None if isinstance(value, UnsetType) or value == NULL else value


NULL = Raw(b"null")


# ---- stream events (write side: one tagged Struct per event) ----


class OutEvent(Struct, tag_field="type"):
    pass


class MessageStartEvent(OutEvent, tag="message_start"):
    message: MessageOut


class BlockStartEvent(OutEvent, tag="content_block_start"):
    index: int
    content_block: OutBlock


class DeltaOut(Struct, tag_field="type"):
    pass


class TextDeltaOut(DeltaOut, tag="text_delta"):
    text: str


class InputJsonDeltaOut(DeltaOut, tag="input_json_delta"):
    partial_json: str


class ThinkingDeltaOut(DeltaOut, tag="thinking_delta"):
    thinking: str


class SignatureDeltaOut(DeltaOut, tag="signature_delta"):
    signature: str


class BlockDeltaEvent(OutEvent, tag="content_block_delta"):
    index: int
    delta: TextDeltaOut | InputJsonDeltaOut | ThinkingDeltaOut | SignatureDeltaOut


class BlockStopEvent(OutEvent, tag="content_block_stop"):
    index: int


class StopDelta(Struct):
    stop_reason: str | None
    stop_sequence: str | None


class MessageDeltaEvent(OutEvent, tag="message_delta"):
    delta: StopDelta
    usage: Usage


class MessageStopEvent(OutEvent, tag="message_stop"):
    pass


def sse(name: bytes, payload: OutEvent | ErrorBody) -> bytes:
    """One event: its name (the SDK skips events without one), then its JSON on a single data line."""
    return b"event: " + name + b"\ndata: " + encode(payload) + b"\n\n"
