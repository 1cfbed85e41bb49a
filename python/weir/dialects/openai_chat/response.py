"""OpenAI chat.completion body <-> canonical Response, and the stop-reason and usage mappings the stream shares."""

from __future__ import annotations

import time
import uuid

import msgspec
from msgspec import UNSET

from weir.canonical.content import Content, Text, Thinking, ToolUse
from weir.canonical.response import Response, StopReason
from weir.canonical.usage import ZERO, Usage
from weir.dialects.base import Reply
from weir.dialects.openai_chat import schema as wire
from weir.dialects.openai_chat.content import DIALECT, tool_call, tool_use
from weir.dialects.openai_chat.errors import MalformedUpstreamResponse

STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
FINISH_REASONS: dict[StopReason | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
MICROCENTS_PER_USD = 100_000_000


def to_canonical(body: bytes) -> Response:
    try:
        completion = wire.decode_completion(body)
    except msgspec.DecodeError as exc:
        raise MalformedUpstreamResponse(f"The upstream sent a malformed chat.completion: {exc}") from None
    if not completion.choices:
        raise MalformedUpstreamResponse("The upstream sent a chat.completion without choices.")
    choice = completion.choices[0]
    msg = choice.message
    content: list[Content] = []
    reasoning = msg.reasoning_content if isinstance(msg.reasoning_content, str) else msg.reasoning
    if isinstance(reasoning, str) and reasoning:
        content.append(Thinking(text=reasoning, origin=DIALECT))
    if msg.content:
        content.append(Text(text=msg.content))
    if msg.refusal:
        content.append(Text(text=msg.refusal))
    for call in msg.tool_calls or ():
        block = tool_use(call)
        if block is None:
            raise MalformedUpstreamResponse("The upstream sent a tool call without `function`.")
        content.append(block)
    return Response(
        id=completion.id,
        model=completion.model,
        content=content,
        stop_reason=stop_reason(choice.finish_reason, any(isinstance(b, ToolUse) for b in content)),
        usage=ZERO if completion.usage is None else usage_to_canonical(completion.usage),
    )


def from_canonical(resp: Response, reply: Reply) -> bytes:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[wire.ToolCall] = []
    for block in resp.content:
        if isinstance(block, Text):
            texts.append(block.text)
        elif isinstance(block, Thinking):
            thinking.append(block.text)
        elif isinstance(block, ToolUse):
            calls.append(tool_call(block))
    message = wire.ResponseMessage(
        content="".join(texts) if texts or not calls else None,
        tool_calls=calls or UNSET,
        reasoning_content="".join(thinking) if any(thinking) else UNSET,
    )
    completion = wire.ChatCompletion(
        id=completion_id(resp.id),
        created=int(time.time()),
        model=reply.model,
        choices=[wire.Choice(message=message, finish_reason=FINISH_REASONS.get(resp.stop_reason, "stop"))],
        usage=usage_from_canonical(resp.usage, reply.cost_microcents),
    )
    return wire.encode(completion)


def stop_reason(finish_reason: str | None, called_tools: bool) -> StopReason:
    """A turn that called tools ends in tool_use even when the upstream says "stop" (Gemini's OpenAI endpoint
    does): clients of other dialects run the tools only then."""
    reason = STOP_REASONS.get(finish_reason or "stop", "end_turn")
    return "tool_use" if called_tools and reason == "end_turn" else reason


def completion_id(upstream_id: str) -> str:
    if upstream_id.startswith("chatcmpl-"):
        return upstream_id
    return "chatcmpl-" + (upstream_id or uuid.uuid4().hex)


def usage_to_canonical(usage: wire.Usage) -> Usage:
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    cache_write = 0 if prompt is None else prompt.cache_write_tokens
    return Usage(
        input=usage.prompt_tokens,
        cached=(prompt.cached_tokens or 0) if prompt is not None else 0,
        output=usage.completion_tokens,
        reasoning=(completion.reasoning_tokens or 0) if completion is not None else 0,
        cache_write=cache_write if isinstance(cache_write, int) else 0,
    )


def usage_from_canonical(usage: Usage, cost_microcents: int | None) -> wire.Usage:
    return wire.Usage(
        prompt_tokens=usage.input,
        completion_tokens=usage.output,
        total_tokens=usage.input + usage.output,
        prompt_tokens_details=wire.PromptDetails(
            cached_tokens=usage.cached, cache_write_tokens=usage.cache_write if usage.cache_write else UNSET
        ),
        completion_tokens_details=wire.CompletionDetails(reasoning_tokens=usage.reasoning),
        cost_microcents=UNSET if cost_microcents is None else cost_microcents,
        cost=UNSET if cost_microcents is None else cost_microcents / MICROCENTS_PER_USD,
    )
