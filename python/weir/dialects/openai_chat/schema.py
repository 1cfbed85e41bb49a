"""The OpenAI Chat Completions wire format as msgspec Structs, with the decoders and encoders built once.

Tolerant readers: unknown fields are ignored (never `forbid_unknown_fields`). Strict writers: optional fields
default to UNSET, so an encoded body carries only what was set, never a `null` nobody sent. Content parts are
decoded one by one (`decode_part`), because a part type we do not model must survive as raw JSON.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from weir.dialects.base import invalid as invalid  # re-exported for the dialect's modules
from weir.dialects.base import is_json_object as is_json_object

# --- content parts -------------------------------------------------------------------------------------------------


class ImageUrl(Struct, kw_only=True):
    url: str
    detail: str | None | UnsetType = UNSET


class Part(Struct, tag_field="type", kw_only=True):
    """Base of the content-part union; `type` is the tag."""


class TextPart(Part, tag="text"):
    text: str
    cache_control: Raw | UnsetType = UNSET  # sent by some clients (OpenRouter style); read, never written


class ImagePart(Part, tag="image_url"):
    image_url: ImageUrl


class RefusalPart(Part, tag="refusal"):
    refusal: str


class _PartKind(Struct):
    type: str


KnownPart = TextPart | ImagePart | RefusalPart
_KNOWN_PARTS = frozenset(("text", "image_url", "refusal"))

# --- messages ------------------------------------------------------------------------------------------------------

Contents = str | list[Raw]  # a string, or parts kept raw until decode_part reads them


class FunctionCall(Struct, kw_only=True):
    name: str
    arguments: str = ""


class CustomCall(Struct, kw_only=True):
    name: str
    input: str = ""


class ToolCall(Struct, kw_only=True):
    """`type` is "function" or "custom"; it defaults to "function" because some upstreams leave it out."""

    id: str
    type: str = "function"
    function: FunctionCall | UnsetType = UNSET
    custom: CustomCall | UnsetType = UNSET


class Message(Struct, tag_field="role", kw_only=True):
    """Base of the message union; `role` is the tag."""


class SystemMessage(Message, tag="system"):
    content: Contents


class DeveloperMessage(Message, tag="developer"):
    content: Contents


class UserMessage(Message, tag="user"):
    content: Contents


class AssistantMessage(Message, tag="assistant"):
    content: Contents | None = None
    refusal: str | None | UnsetType = UNSET
    tool_calls: list[ToolCall] | None | UnsetType = UNSET
    reasoning_content: str | None | UnsetType = UNSET  # de-facto (DeepSeek, vLLM, LiteLLM)
    reasoning: str | None | UnsetType = UNSET  # the same, as OpenRouter names it


class ToolMessage(Message, tag="tool"):
    tool_call_id: str
    content: Contents


AnyMessage = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage

# --- tools ---------------------------------------------------------------------------------------------------------


class FunctionDef(Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: Raw | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET


class CustomDef(Struct, kw_only=True):
    name: str
    description: str | UnsetType = UNSET
    format: Raw | UnsetType = UNSET


class ToolDef(Struct, tag_field="type", kw_only=True):
    """Base of the tool union; `type` is the tag."""


class FunctionTool(ToolDef, tag="function"):
    function: FunctionDef


class CustomTool(ToolDef, tag="custom"):
    custom: CustomDef


class ToolName(Struct, kw_only=True):
    name: str


class NamedToolChoice(Struct, kw_only=True):
    """{"type": "function", "function": {"name"}} or the custom equivalent; other types are carried raw."""

    type: str
    function: ToolName | UnsetType = UNSET
    custom: ToolName | UnsetType = UNSET


# --- request -------------------------------------------------------------------------------------------------------


class ChatRequest(Struct, kw_only=True):
    model: str
    messages: list[AnyMessage]
    tools: list[FunctionTool | CustomTool] | None | UnsetType = UNSET
    tool_choice: Raw | UnsetType = UNSET  # str | NamedToolChoice | anything newer, read by decode_tool_choice
    parallel_tool_calls: bool | None | UnsetType = UNSET
    max_completion_tokens: int | None | UnsetType = UNSET
    max_tokens: int | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    top_p: float | None | UnsetType = UNSET
    stop: str | list[str] | None | UnsetType = UNSET
    stream: bool | None | UnsetType = UNSET
    stream_options: Raw | UnsetType = UNSET  # the pipeline's business: read by nobody here
    user: str | None | UnsetType = UNSET
    reasoning_effort: str | None | UnsetType = UNSET


REQUEST_FIELDS = frozenset(ChatRequest.__struct_fields__)
INCLUDE_USAGE = Raw(b'{"include_usage":true}')

# --- responses and stream chunks -----------------------------------------------------------------------------------


class PromptDetails(Struct, kw_only=True):
    cached_tokens: int | None = None
    cache_write_tokens: int | None | UnsetType = UNSET


class CompletionDetails(Struct, kw_only=True):
    reasoning_tokens: int | None = None


class Usage(Struct, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None
    cost_microcents: int | UnsetType = UNSET  # ours: written, never read
    cost: float | UnsetType = UNSET  # USD, for display (OpenRouter sends it too)


class ResponseMessage(Struct, kw_only=True):
    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None | UnsetType = UNSET
    reasoning_content: str | None | UnsetType = UNSET
    reasoning: str | None | UnsetType = UNSET


class Choice(Struct, kw_only=True):
    index: int = 0
    message: ResponseMessage
    logprobs: Raw | None = None
    finish_reason: str | None = None


class ChatCompletion(Struct, kw_only=True):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = []
    usage: Usage | None = None


class ErrorBody(Struct, kw_only=True):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None


class ErrorEnvelope(Struct, kw_only=True):
    error: ErrorBody | str | None = None
    message: str | None = None  # some servers put the message at the top level


class FunctionDelta(Struct, kw_only=True):
    name: str | None = None
    arguments: str | None = None


class CustomDelta(Struct, kw_only=True):
    name: str | None = None
    input: str | None = None


class ToolCallDelta(Struct, kw_only=True):
    index: int | None = None  # required by the spec; a few servers leave it out
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None
    custom: CustomDelta | None = None


class Delta(Struct, kw_only=True):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(Struct, kw_only=True):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class Chunk(Struct, kw_only=True):
    id: str = ""
    model: str = ""
    choices: list[ChunkChoice] | None = None
    usage: Usage | None = None
    error: ErrorBody | str | None = None


# --- codecs --------------------------------------------------------------------------------------------------------

decode_request = msgspec.json.Decoder(ChatRequest).decode
decode_fields = msgspec.json.Decoder(dict[str, Raw]).decode
_tool_choices: msgspec.json.Decoder[str | NamedToolChoice | None] = msgspec.json.Decoder(str | NamedToolChoice | None)
decode_tool_choice = _tool_choices.decode
decode_completion = msgspec.json.Decoder(ChatCompletion).decode
decode_chunk = msgspec.json.Decoder(Chunk).decode
decode_error = msgspec.json.Decoder(ErrorEnvelope).decode
decode_str = msgspec.json.Decoder(str).decode
encode = msgspec.json.Encoder().encode
_decode_kind = msgspec.json.Decoder(_PartKind).decode
_known_parts: msgspec.json.Decoder[KnownPart] = msgspec.json.Decoder(KnownPart)
_decode_known = _known_parts.decode


def decode_part(raw: Raw, where: str) -> KnownPart | None:
    """A content part we model, or None for any other type (the caller keeps it raw)."""
    try:
        if _decode_kind(raw).type not in _KNOWN_PARTS:
            return None
        return _decode_known(raw)
    except msgspec.ValidationError as exc:
        raise invalid(exc, where) from None
