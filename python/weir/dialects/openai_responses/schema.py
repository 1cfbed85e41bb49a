"""The OpenAI Responses wire format (`POST /v1/responses`) as msgspec Structs, with the codecs built once.

Readers are tolerant: unknown fields are skipped, and items or content parts of a type we do not model are read as
`Raw` first (`decode_head`) so they can be kept byte for byte. Writers are strict: optional fields default to
UNSET, so an encoded body carries only what was set. Responses tools are flat (`{"type": "function", "name", ...}`),
unlike Chat's `{"type": "function", "function": {...}}`.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from weir.dialects.base import invalid as invalid  # re-exported for the dialect's modules
from weir.dialects.base import is_json_object as is_json_object

DIALECT = "openai_responses"  # Opaque.dialect of content parts, Thinking.origin, Request.extras_dialect
ITEM = "openai_responses:item"  # Opaque.dialect of whole input/output items we do not model (web_search_call...)

# ---- reading: requests and responses -------------------------------------------------------------------------------


class Head(Struct):
    """The `type` (and `role`) of an item, content part or event; everything else skipped."""

    type: str | None = None
    role: str | None = None


class Request(Struct, kw_only=True):
    model: str | None = None
    input: str | list[Raw] | UnsetType = UNSET
    instructions: str | list[Raw] | None = None
    tools: list[Raw] | None = None
    tool_choice: Raw | UnsetType = UNSET  # "auto" | {"type": "function", "name"} | anything newer
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning: Raw | UnsetType = UNSET
    stream: bool | None = None
    user: str | None = None


MODELLED = frozenset(Request.__struct_fields__)


class ReasoningParam(Struct):
    effort: str | None = None


class ToolDef(Struct):
    type: str
    name: str = ""
    description: str | None = None
    parameters: Raw | UnsetType = UNSET
    strict: bool | None = None
    format: Raw | UnsetType = UNSET


class ToolChoice(Struct):
    type: str
    name: str | None = None


class MessageItem(Struct):
    role: str
    content: str | list[Raw] = ""


class FunctionCall(Struct):
    call_id: str
    name: str
    arguments: str = ""


class CustomToolCall(Struct):
    call_id: str
    name: str
    input: str = ""


class LegacyOutput(Struct):
    """A call output as older Codex versions sent a failure: `{"content", "success": false}`."""

    content: str = ""
    success: bool | None = None


class CallOutput(Struct):
    """function_call_output and custom_tool_call_output."""

    call_id: str
    output: str | list[Raw] | LegacyOutput = ""


class SummaryPart(Struct):
    text: str = ""


class Reasoning(Struct):
    summary: list[SummaryPart] | None = None
    content: list[SummaryPart] | None = None  # reasoning_text parts (open-weight models)
    encrypted_content: str | None = None


class TextPart(Struct):
    """input_text and output_text."""

    text: str


class RefusalPart(Struct):
    refusal: str


class ImagePart(Struct):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class InputDetails(Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class OutputDetails(Struct):
    reasoning_tokens: int | None = None


class Usage(Struct):
    input_tokens: int = 0
    input_tokens_details: InputDetails | None = None
    output_tokens: int = 0
    output_tokens_details: OutputDetails | None = None


class IncompleteDetails(Struct):
    reason: str | None = None


class ErrorDetail(Struct):
    code: str | None = None
    message: str | None = None
    type: str | None = None


class ResponseBody(Struct, kw_only=True):
    id: str = ""
    model: str = ""
    status: str | None = None
    output: list[Raw] = []
    usage: Usage | None = None
    incomplete_details: IncompleteDetails | None = None
    error: ErrorDetail | None = None


class Event(Struct, kw_only=True):
    """One stream event: the fields of every event type we read, all optional."""

    type: str = ""
    response: ResponseBody | None = None
    item: Raw | UnsetType = UNSET
    output_index: int = 0
    content_index: int = 0
    summary_index: int = 0
    part: Raw | UnsetType = UNSET
    delta: str | None = None
    text: str | None = None  # output_text.done, refusal parts read through `part`
    refusal: str | None = None  # refusal.done
    arguments: str | None = None
    input: str | None = None
    code: str | None = None  # `error` events
    message: str | None = None


# ---- writing: request items (to an upstream) and output items (to a client) ---------------------------------------


class Out(Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Base of every written item and part; `type` is the tag."""


class InputText(Out, tag="input_text", kw_only=True):
    text: str


class OutputText(Out, tag="output_text", kw_only=True):
    text: str
    annotations: list[Raw]  # always written ([]), as OpenAI does


class InputImage(Out, tag="input_image", kw_only=True):
    image_url: str
    detail: str


class SummaryText(Out, tag="summary_text", kw_only=True):
    text: str


Part = InputText | OutputText | InputImage | Raw


class MessageOut(Out, tag="message", kw_only=True):
    id: str | UnsetType = UNSET
    role: str
    status: str | UnsetType = UNSET
    content: list[Part]


class FunctionCallOut(Out, tag="function_call", kw_only=True):
    id: str | UnsetType = UNSET
    call_id: str
    name: str
    arguments: str
    status: str | UnsetType = UNSET


class CustomToolCallOut(Out, tag="custom_tool_call", kw_only=True):
    id: str | UnsetType = UNSET
    call_id: str
    name: str
    input: str
    status: str | UnsetType = UNSET


class FunctionCallOutput(Out, tag="function_call_output", kw_only=True):
    call_id: str
    output: str | list[Part]


class CustomToolCallOutput(Out, tag="custom_tool_call_output", kw_only=True):
    call_id: str
    output: str | list[Part]


class ReasoningOut(Out, tag="reasoning", kw_only=True):
    id: str | UnsetType = UNSET
    summary: list[SummaryText]
    encrypted_content: str | UnsetType = UNSET


Item = MessageOut | FunctionCallOut | CustomToolCallOut | FunctionCallOutput | CustomToolCallOutput | ReasoningOut


class FunctionToolOut(Out, tag="function", kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: Raw | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class CustomToolOut(Out, tag="custom", kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    format: Raw | UnsetType = UNSET


ToolOut = FunctionToolOut | CustomToolOut


class NamedChoice(Struct):
    type: str  # function | custom
    name: str


class RequestOut(Struct, omit_defaults=True, kw_only=True):
    model: str
    instructions: str | UnsetType = UNSET
    input: list[Item | Raw]
    tools: list[ToolOut] | Raw | UnsetType = UNSET
    tool_choice: str | NamedChoice | Raw | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    reasoning: Raw | UnsetType = UNSET
    store: bool | UnsetType = UNSET
    include: list[str] | UnsetType = UNSET
    stream: bool | UnsetType = UNSET
    user: str | UnsetType = UNSET


# ---- codecs -------------------------------------------------------------------------------------------------------

NULL = Raw(b"null")
decode_request = msgspec.json.Decoder(Request).decode
decode_fields = msgspec.json.Decoder(dict[str, Raw]).decode
decode_raws = msgspec.json.Decoder(list[Raw]).decode
decode_head = msgspec.json.Decoder(Head).decode
decode_message = msgspec.json.Decoder(MessageItem).decode
decode_function_call = msgspec.json.Decoder(FunctionCall).decode
decode_custom_call = msgspec.json.Decoder(CustomToolCall).decode
decode_output = msgspec.json.Decoder(CallOutput).decode
decode_reasoning = msgspec.json.Decoder(Reasoning).decode
decode_text = msgspec.json.Decoder(TextPart).decode
decode_refusal = msgspec.json.Decoder(RefusalPart).decode
decode_image = msgspec.json.Decoder(ImagePart).decode
decode_tool = msgspec.json.Decoder(ToolDef).decode
decode_reasoning_param = msgspec.json.Decoder(ReasoningParam).decode
decode_response = msgspec.json.Decoder(ResponseBody).decode
decode_event = msgspec.json.Decoder(Event).decode
decode_str = msgspec.json.Decoder(str).decode
_tool_choices: msgspec.json.Decoder[str | ToolChoice | None] = msgspec.json.Decoder(str | ToolChoice | None)
decode_tool_choice = _tool_choices.decode
encode = msgspec.json.Encoder().encode
