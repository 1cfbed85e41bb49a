"""Stream events in the canonical form. Upstream stream converters produce them (`ToCanonical.feed`), client
stream converters consume them (`FromCanonical.feed`). Block indexes are the positions in the final content."""

from __future__ import annotations

import msgspec

from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.response import StopReason
from weir.canonical.usage import Usage


class Event(msgspec.Struct, tag_field="event", kw_only=True):
    pass


class Start(Event, tag="start"):
    id: str
    model: str
    usage: Usage | None = None  # what is known at the start (Anthropic sends input counts here)


class BlockStart(Event, tag="block_start"):
    index: int
    block: Text | ToolUse | Thinking  # empty text / no input / empty thinking: the deltas fill them


class TextDelta(Event, tag="text_delta"):
    index: int
    text: str


class ToolInputDelta(Event, tag="tool_input_delta"):
    index: int
    partial_json: str  # a fragment of the arguments' JSON text


class ThinkingDelta(Event, tag="thinking_delta"):
    index: int
    text: str


class SignatureDelta(Event, tag="signature_delta"):
    index: int
    signature: str


class BlockStop(Event, tag="block_stop"):
    index: int


class UsageUpdate(Event, tag="usage"):
    usage: Usage  # cumulative: replaces what came before


class Finish(Event, tag="finish"):
    stop_reason: StopReason | None
    stop_sequence: str | None = None


class Failure(Event, tag="failure"):
    """The upstream reported an error inside the stream."""

    status: int
    type: str
    message: str


StreamEvent = (
    Start
    | BlockStart
    | TextDelta
    | ToolInputDelta
    | ThinkingDelta
    | SignatureDelta
    | BlockStop
    | UsageUpdate
    | Finish
    | Failure
)
