"""GenerateContentResponse bodies <-> canonical Response, and the finish-reason and usage mappings the streams share.

- Only candidates[0] is read. A turn with functionCall parts ends `tool_use` even though Gemini says STOP.
- Usage: promptTokenCount already counts cachedContentTokenCount (-> input, cached); candidatesTokenCount leaves
  out thoughtsTokenCount, so canonical output = candidates + thoughts and reasoning = thoughts;
  toolUsePromptTokenCount (server-side tool results) is prompt, so it counts as input. Written back the same
  way, plus Weir's additions inside usageMetadata: `cacheWriteTokenCount` (tokens another upstream wrote to its
  cache), `costMicrocents` and `cost` (USD). google-genai drops fields it does not know, so they are safe.
- Every candidate written holds at least one part: google-genai's chat history drops a turn with a chunk or
  answer without parts (`chats._validate_response`).
"""

from __future__ import annotations

import uuid

import msgspec
from msgspec import UNSET

from weir.canonical.content import Content, ToolUse
from weir.canonical.response import Response, StopReason
from weir.canonical.usage import ZERO, Usage
from weir.dialects.base import Reply
from weir.dialects.gemini import schema as s
from weir.dialects.gemini.content import Calls, part_from_canonical, part_to_canonical
from weir.dialects.gemini.errors import bad_upstream, from_upstream
from weir.errors import InvalidRequest

MICROCENTS_PER_USD = 100_000_000
_REFUSALS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
    | {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
)
_ERRORS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
_FINISH_REASONS: dict[StopReason | None, str] = {"max_tokens": "MAX_TOKENS", "refusal": "SAFETY", "error": "OTHER"}
EMPTY_PART = s.PartOut(text="")


def to_canonical(body: bytes) -> Response:
    try:
        wire = s.decode_response(body)
    except msgspec.DecodeError as exc:
        raise bad_upstream(f"The upstream sent an unreadable GenerateContentResponse: {exc}") from None
    if wire.error is not None:
        raise from_upstream(wire.error.code, body)
    candidate = first_candidate(wire)
    if candidate is None:
        if wire.prompt_feedback is None or not wire.prompt_feedback.block_reason:
            raise bad_upstream("The upstream sent a GenerateContentResponse without candidates")
        return Response(id=wire.response_id, model=wire.model_version, content=[], stop_reason="refusal")
    calls = Calls(wire.response_id)
    content: list[Content] = []
    parts = candidate.content.parts if candidate.content is not None else None
    try:
        for i, raw in enumerate(parts or ()):
            block = part_to_canonical(raw, f"candidates[0].content.parts[{i}]", calls)
            if block is not None:
                content.append(block)
    except InvalidRequest as exc:
        raise bad_upstream(f"The upstream sent an unreadable part: {exc.message}") from None
    return Response(
        id=wire.response_id,
        model=wire.model_version,
        content=content,
        stop_reason=stop_reason_to_canonical(candidate.finish_reason, any(isinstance(b, ToolUse) for b in content)),
        usage=usage_to_canonical(wire.usage_metadata),
    )


def from_canonical(resp: Response, reply: Reply) -> bytes:
    parts: list[s.PartOut | msgspec.Raw] = []
    for block in resp.content:
        part = part_from_canonical(block, [], client=True)  # nothing to report drops to: responses have no header
        if part is not None:
            parts.append(part)
    candidate = s.CandidateOut(
        content=s.ContentOut(role="model", parts=parts or [EMPTY_PART]),
        finish_reason=finish_reason_from_canonical(resp.stop_reason),
    )
    out = s.ResponseOut(
        candidates=[candidate],
        usage_metadata=usage_from_canonical(resp.usage, reply.cost_microcents),
        model_version=reply.model,
        response_id=response_id(resp.id),
    )
    return s.encode(out)


def first_candidate(wire: s.GenerateContentResponse) -> s.Candidate | None:
    return next((c for c in wire.candidates or () if c.index == 0), None)


def response_id(upstream_id: str) -> str:
    return upstream_id or uuid.uuid4().hex


def stop_reason_to_canonical(reason: str | None, tool_used: bool) -> StopReason:
    if reason == "MAX_TOKENS":
        return "max_tokens"
    if reason in _REFUSALS:
        return "refusal"
    if reason in _ERRORS:
        return "error"
    return "tool_use" if tool_used else "end_turn"  # STOP, OTHER, LANGUAGE, anything newer


def finish_reason_from_canonical(reason: StopReason | None) -> str:
    """A turn that calls tools ends STOP, as Gemini's own do (clients look for functionCall parts)."""
    return _FINISH_REASONS.get(reason, "STOP")


def usage_to_canonical(usage: s.UsageMetadata | None) -> Usage:
    if usage is None:
        return ZERO
    return Usage(
        input=usage.prompt_token_count + usage.tool_use_prompt_token_count,
        cached=usage.cached_content_token_count,
        output=usage.candidates_token_count + usage.thoughts_token_count,
        reasoning=usage.thoughts_token_count,
        cache_write=usage.cache_write_token_count,
    )


def usage_from_canonical(usage: Usage, cost_microcents: int | None) -> s.UsageOut:
    return s.UsageOut(
        prompt_token_count=usage.input,
        candidates_token_count=max(usage.output - usage.reasoning, 0),
        total_token_count=usage.input + usage.output,
        cached_content_token_count=usage.cached or UNSET,
        thoughts_token_count=usage.reasoning or UNSET,
        cache_write_token_count=usage.cache_write or UNSET,
        cost_microcents=UNSET if cost_microcents is None else cost_microcents,
        cost=UNSET if cost_microcents is None else cost_microcents / MICROCENTS_PER_USD,
    )
