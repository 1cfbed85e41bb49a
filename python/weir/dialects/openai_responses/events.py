"""What we write to a Responses client: the Response object (a unary body, and the `response` of lifecycle
events), the stream events, one Struct per shape, and their SSE framing.

Every event goes out as `event: <type>` plus one `data:` line of JSON that repeats the `type` (Codex reads only the
JSON; openai-node and the openai SDK accept the event line) and carries the stream's `sequence_number`.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from weir.dialects.openai_responses.schema import Item, OutputText, SummaryText


class InputTokensDetails(Struct):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(Struct):
    reasoning_tokens: int


class UsageOut(Struct, omit_defaults=True, kw_only=True):
    """Every count and both detail objects always present: Codex's serde structs require them."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int
    cost_microcents: int | UnsetType = UNSET  # Weir's additions: the price of the call
    cost: float | UnsetType = UNSET  # USD


class ErrorOut(Struct):
    code: str | None
    message: str


class IncompleteOut(Struct):
    reason: str


class ResponseOut(Struct, kw_only=True):
    """A Response object, as a client reads it (the body of a unary call, and every lifecycle event's `response`)."""

    id: str
    object: str = "response"
    created_at: int
    status: str
    error: ErrorOut | None = None
    incomplete_details: IncompleteOut | None = None
    model: str
    output: list[Item | Raw]
    usage: UsageOut | None = None


class ResponseEvent(Struct, kw_only=True):
    """response.created / in_progress / completed / failed."""

    type: str
    sequence_number: int
    response: ResponseOut


class ItemEvent(Struct, kw_only=True):
    """response.output_item.added / done."""

    type: str
    sequence_number: int
    output_index: int
    item: Item | Raw


class PartEvent(Struct, kw_only=True):
    """response.content_part.added / done."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: OutputText


class TextDeltaEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Raw]


class TextDoneEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Raw]


class CallDeltaEvent(Struct, kw_only=True):
    """response.function_call_arguments.delta / response.custom_tool_call_input.delta."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    delta: str


class ArgumentsDoneEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    arguments: str


class InputDoneEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    input: str


class SummaryPartEvent(Struct, kw_only=True):
    """response.reasoning_summary_part.added / done."""

    type: str
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText


class SummaryDeltaEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    delta: str


class SummaryDoneEvent(Struct, kw_only=True):
    type: str
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    text: str


Event = (
    ResponseEvent
    | ItemEvent
    | PartEvent
    | TextDeltaEvent
    | TextDoneEvent
    | CallDeltaEvent
    | ArgumentsDoneEvent
    | InputDoneEvent
    | SummaryPartEvent
    | SummaryDeltaEvent
    | SummaryDoneEvent
)

_encode = msgspec.json.Encoder().encode


def sse(event: Event) -> bytes:
    return b"event: " + event.type.encode() + b"\ndata: " + _encode(event) + b"\n\n"
