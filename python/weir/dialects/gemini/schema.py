"""Gemini generateContent wire Structs and their module-level decoders and encoders.

Readers are tolerant: unknown fields are skipped, and every multi-word field is read in both spellings, because the
API parses protobuf JSON (lowerCamel and snake_case alike) and google-genai 3.x sends both in one body: `inlineData`
holding `mime_type`, `thinkingConfig` holding `include_thoughts`, declarations with `parameters_json_schema`. The
snake_case twin of a field is named `<field>_` here; `pick` takes whichever came. Writers are strict and camelCase:
`UNSET` fields are not written.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType, field

DIALECT = "gemini"  # Opaque.dialect, Request.extras_dialect and Thinking.origin of this dialect
NULL = Raw(b"null")
T = TypeVar("T")


def pick(camel: T | UnsetType, snake: T | UnsetType) -> T | None:
    """A field's value in whichever spelling was sent (camelCase first), None when neither was."""
    if not isinstance(camel, UnsetType):
        return camel
    return None if isinstance(snake, UnsetType) else snake


def camel(key: str) -> str:
    """`max_output_tokens` -> `maxOutputTokens`; camelCase keys are returned as they are."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


# ---- read side: content parts ----


class Blob(Struct, rename="camel"):
    mime_type: str | UnsetType = UNSET
    mime_type_: str | UnsetType = field(default=UNSET, name="mime_type")
    data: str = ""


class FileData(Struct, rename="camel"):
    mime_type: str | UnsetType = UNSET
    mime_type_: str | UnsetType = field(default=UNSET, name="mime_type")
    file_uri: str | UnsetType = UNSET
    file_uri_: str | UnsetType = field(default=UNSET, name="file_uri")


class FunctionCall(Struct):
    name: str = ""
    args: Raw | UnsetType = UNSET
    id: str | None = None


class FunctionResponse(Struct):
    name: str = ""
    response: Raw | UnsetType = UNSET
    id: str | None = None
    parts: list[Raw] | None = None  # Gemini 3 multimodal results: parts holding inlineData


class Part(Struct, rename="camel"):
    text: str | None = None
    thought: bool | None = None
    thought_signature: str | UnsetType = UNSET
    thought_signature_: str | UnsetType = field(default=UNSET, name="thought_signature")
    inline_data: Blob | UnsetType = UNSET
    inline_data_: Blob | UnsetType = field(default=UNSET, name="inline_data")
    file_data: FileData | UnsetType = UNSET
    file_data_: FileData | UnsetType = field(default=UNSET, name="file_data")
    function_call: FunctionCall | UnsetType = UNSET
    function_call_: FunctionCall | UnsetType = field(default=UNSET, name="function_call")
    function_response: FunctionResponse | UnsetType = UNSET
    function_response_: FunctionResponse | UnsetType = field(default=UNSET, name="function_response")


class Content(Struct):
    role: str | None = None
    parts: list[Raw] | None = None


# ---- read side: tools and config ----


class FunctionDeclaration(Struct, rename="camel"):
    name: str = ""
    description: str | None = None
    parameters: Raw | UnsetType = UNSET
    parameters_json_schema: Raw | UnsetType = UNSET
    parameters_json_schema_: Raw | UnsetType = field(default=UNSET, name="parameters_json_schema")


class ToolIn(Struct, rename="camel"):
    function_declarations: list[Raw] | UnsetType = UNSET
    function_declarations_: list[Raw] | UnsetType = field(default=UNSET, name="function_declarations")


class FunctionCallingConfig(Struct, rename="camel"):
    mode: str | None = None
    allowed_function_names: list[str] | UnsetType = UNSET
    allowed_function_names_: list[str] | UnsetType = field(default=UNSET, name="allowed_function_names")


class ThinkingConfig(Struct, rename="camel"):
    include_thoughts: bool | UnsetType = UNSET
    include_thoughts_: bool | UnsetType = field(default=UNSET, name="include_thoughts")
    thinking_budget: int | UnsetType = UNSET
    thinking_budget_: int | UnsetType = field(default=UNSET, name="thinking_budget")
    thinking_level: str | UnsetType = UNSET
    thinking_level_: str | UnsetType = field(default=UNSET, name="thinking_level")


# ---- read side: responses and stream chunks ----


class UsageMetadata(Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    cached_content_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    total_token_count: int = 0
    cache_write_token_count: int = 0  # Weir's addition (Gemini has no cache writes): what another upstream wrote


class Candidate(Struct, rename="camel"):
    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0


class PromptFeedback(Struct, rename="camel"):
    block_reason: str | None = None


class ErrorDetail(Struct):
    code: int = 500
    message: str = ""
    status: str = ""
    details: list[dict[str, object]] | UnsetType = UNSET  # google.rpc details: RetryInfo, QuotaFailure


class GenerateContentResponse(Struct, rename="camel"):
    candidates: list[Candidate] | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str = ""
    response_id: str = ""
    prompt_feedback: PromptFeedback | None = None
    error: ErrorDetail | None = None


class ErrorBody(Struct):
    error: ErrorDetail


# ---- write side ----


class BlobOut(Struct, rename="camel"):
    mime_type: str
    data: str


class FileDataOut(Struct, rename="camel"):
    mime_type: str
    file_uri: str


class FunctionCallOut(Struct):
    name: str
    args: Raw
    id: str | UnsetType = UNSET  # to clients only: the Gemini API refuses `id` in requests


class FunctionResponseOut(Struct):
    name: str
    response: Raw


class PartOut(Struct, rename="camel", kw_only=True):
    text: str | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    inline_data: BlobOut | UnsetType = UNSET
    file_data: FileDataOut | UnsetType = UNSET
    function_call: FunctionCallOut | UnsetType = UNSET
    function_response: FunctionResponseOut | UnsetType = UNSET
    thought_signature: str | UnsetType = UNSET


class ContentOut(Struct):
    role: str
    parts: list[PartOut | Raw]


class UsageOut(Struct, rename="camel", kw_only=True):
    prompt_token_count: int
    candidates_token_count: int
    total_token_count: int
    cached_content_token_count: int | UnsetType = UNSET
    thoughts_token_count: int | UnsetType = UNSET
    cache_write_token_count: int | UnsetType = UNSET  # Weir's additions, which google-genai skips
    cost_microcents: int | UnsetType = UNSET
    cost: float | UnsetType = UNSET  # USD


class CandidateOut(Struct, rename="camel", kw_only=True):
    content: ContentOut
    finish_reason: str | UnsetType = UNSET
    index: int = 0


class ResponseOut(Struct, rename="camel", kw_only=True):
    candidates: list[CandidateOut]
    usage_metadata: UsageOut | UnsetType = UNSET
    model_version: str
    response_id: str


decode_top = msgspec.json.Decoder(dict[str, Raw]).decode
decode_object = decode_top  # also checks that a Raw holds a JSON object
decode_contents = msgspec.json.Decoder(list[Content]).decode
decode_content = msgspec.json.Decoder(Content | str).decode
decode_part = msgspec.json.Decoder(Part).decode
decode_list = msgspec.json.Decoder(list[Raw]).decode
decode_tool = msgspec.json.Decoder(ToolIn).decode
decode_declaration = msgspec.json.Decoder(FunctionDeclaration).decode
decode_calling = msgspec.json.Decoder(FunctionCallingConfig).decode
decode_thinking = msgspec.json.Decoder(ThinkingConfig).decode
decode_number = msgspec.json.Decoder(int | float | None).decode
decode_strings = msgspec.json.Decoder(list[str] | str | None).decode
decode_str = msgspec.json.Decoder(str | None).decode
decode_response = msgspec.json.Decoder(GenerateContentResponse).decode
decode_error = msgspec.json.Decoder(ErrorBody | list[ErrorBody]).decode
decode_any = msgspec.json.Decoder().decode  # small objects only: schemas, function responses
encode = msgspec.json.Encoder().encode


def raw_of(value: object) -> Raw:
    return Raw(encode(value))


_LINE_BREAKS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def escaped(data: bytes) -> bytes:
    """JSON with U+2028, U+2029 and U+0085 written as escapes. google-genai before 3.x splits the stream with
    str.splitlines(), which breaks at those too; raw, they can only be inside JSON strings, so escaping is exact."""
    if b"\xe2\x80" in data or b"\xc2\x85" in data:
        for raw, escape in _LINE_BREAKS:
            data = data.replace(raw, escape)
    return data
