"""Responses `response` objects <-> canonical Response, and the item, usage, status and id mappings the stream
converters share.

Stop reasons: `status: "incomplete"` with `incomplete_details.reason` `max_output_tokens` is max_tokens and
`content_filter` is refusal; a turn with function or custom tool calls is tool_use; anything else is end_turn.
Written back, max_tokens and refusal make an incomplete response with that reason.
"""

from __future__ import annotations

import os
import time

import msgspec
from msgspec import UNSET, Raw

from weir.canonical.content import Content, Opaque, Text, Thinking, ToolUse
from weir.canonical.response import Response, StopReason
from weir.canonical.usage import ZERO, Usage
from weir.dialects.base import Reply
from weir.dialects.openai_responses import content as c
from weir.dialects.openai_responses import events
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.errors import MalformedUpstreamResponse, UpstreamError, error_code, status_of
from weir.dialects.openai_responses.schema import DIALECT, ITEM
from weir.errors import GatewayError

MICROCENTS_PER_USD = 100_000_000
_INCOMPLETE: dict[str, StopReason] = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}
_REASONS = {reason: name for name, reason in _INCOMPLETE.items()}
_PREFIXES = {"message": "msg", "function_call": "fc", "custom_tool_call": "ctc", "reasoning": "rs"}


def to_canonical(body: bytes) -> Response:
    try:
        resp = wire.decode_response(body)
        content = [block for i, raw in enumerate(resp.output) for block in output_blocks(raw, f"output[{i}]")]
    except (msgspec.DecodeError, GatewayError) as exc:
        message = exc.message if isinstance(exc, GatewayError) else str(exc)
        raise MalformedUpstreamResponse(f"The upstream sent a malformed response: {message}") from None
    if resp.status == "failed":
        error = resp.error or wire.ErrorDetail()
        raise UpstreamError(
            error.message or "The upstream response failed.",
            status=status_of(error.code),
            type=error.type or "server_error",
            code=error.code,
        )
    called = any(isinstance(b, ToolUse) for b in content)
    reason = resp.incomplete_details.reason if resp.incomplete_details is not None else None
    return Response(
        id=resp.id,
        model=resp.model,
        content=content,
        stop_reason=stop_reason(resp.status, reason, called),
        usage=ZERO if resp.usage is None else usage_to_canonical(resp.usage),
    )


def output_blocks(raw: Raw, where: str) -> list[Content]:
    """An output item as canonical blocks: a message's parts, a call, reasoning, or the item kept whole."""
    head = wire.decode_head(raw)
    if head.type == "message":
        return [b for b in c.part_blocks(wire.decode_message(raw).content, where) if not isinstance(b, Text) or b.text]
    if head.type == "function_call":
        call = wire.decode_function_call(raw)
        return [c.function_use(call.call_id, call.name, call.arguments)]
    if head.type == "custom_tool_call":
        custom = wire.decode_custom_call(raw)
        return [c.custom_use(custom.call_id, custom.name, custom.input)]
    if head.type == "reasoning":
        return [c.thinking(wire.decode_reasoning(raw))]
    return [Opaque(dialect=ITEM, raw=raw)]  # web_search_call, image_generation_call, ...


def from_canonical(resp: Response, reply: Reply) -> bytes:
    status, incomplete = status_of_stop(resp.stop_reason)
    body = events.ResponseOut(
        id=response_id(resp.id),
        created_at=int(time.time()),
        status=status,
        incomplete_details=incomplete,
        model=reply.model,
        output=[item for item in (output_item(b) for b in resp.content) if item is not None],
        usage=usage_from_canonical(resp.usage, reply.cost_microcents),
    )
    return wire.encode(body)


def output_item(block: Content, item_id: str | None = None) -> wire.Item | Raw | None:
    """A block as a completed output item for a client (None for what a response cannot hold)."""
    if isinstance(block, Text):
        if not block.text:
            return None
        return wire.MessageOut(
            id=item_id or new_item_id("message"),
            role="assistant",
            status="completed",
            content=[c.output_text(block.text)],
        )
    if isinstance(block, ToolUse):
        kind = "custom_tool_call" if block.kind == "custom" else "function_call"
        return c.call_item(block, item_id or new_item_id(kind), "completed")
    if isinstance(block, Thinking):
        return reasoning_item(block, block.text, item_id or new_item_id("reasoning"))
    if isinstance(block, Opaque) and block.dialect == ITEM:
        return block.raw
    if isinstance(block, Opaque) and block.dialect == DIALECT:
        return wire.MessageOut(
            id=item_id or new_item_id("message"), role="assistant", status="completed", content=[block.raw]
        )
    return None  # images, tool results, other dialects' opaque content


def reasoning_item(block: Thinking, text: str, item_id: str) -> wire.ReasoningOut:
    encrypted = c.encrypted_content(block)
    return wire.ReasoningOut(id=item_id, summary=c.summary(text), encrypted_content=encrypted or UNSET)


def new_item_id(kind: str) -> str:
    return f"{_PREFIXES.get(kind, 'item')}_{os.urandom(16).hex()}"


def response_id(upstream_id: str) -> str:
    """A Responses upstream's own id is kept; any other answer gets a new unique `resp_` id. Never one derived from
    another dialect's id: `previous_response_id` looks responses up by id, so ids must not repeat, and a
    translated upstream's ids are not promised to be unique across accounts."""
    if upstream_id.startswith("resp_"):
        return upstream_id
    return "resp_" + os.urandom(16).hex()


def stop_reason(status: str | None, incomplete_reason: str | None, called_tools: bool) -> StopReason:
    if status == "incomplete":  # cut short: by the output limit unless it says otherwise
        return _INCOMPLETE.get(incomplete_reason or "", "max_tokens")
    return "tool_use" if called_tools else "end_turn"


def status_of_stop(reason: StopReason | None) -> tuple[str, events.IncompleteOut | None]:
    """The response status (and incomplete_details) a stop reason makes."""
    incomplete = None if reason is None else _REASONS.get(reason)
    if incomplete is None:
        return "completed", None
    return "incomplete", events.IncompleteOut(reason=incomplete)


def failure_error(status: int, kind: str, message: str) -> events.ErrorOut:
    return events.ErrorOut(code=error_code(status, kind), message=message)


def usage_to_canonical(usage: wire.Usage) -> Usage:
    details = usage.input_tokens_details
    output = usage.output_tokens_details
    return Usage(
        input=usage.input_tokens,
        cached=(details.cached_tokens or 0) if details is not None else 0,
        output=usage.output_tokens,
        reasoning=(output.reasoning_tokens or 0) if output is not None else 0,
        cache_write=(details.cache_write_tokens or 0) if details is not None else 0,
    )


def usage_from_canonical(usage: Usage, cost_microcents: int | None) -> events.UsageOut:
    return events.UsageOut(
        input_tokens=usage.input,
        input_tokens_details=events.InputTokensDetails(
            cached_tokens=usage.cached, cache_write_tokens=usage.cache_write
        ),
        output_tokens=usage.output,
        output_tokens_details=events.OutputTokensDetails(usage.reasoning),
        total_tokens=usage.input + usage.output,
        cost_microcents=UNSET if cost_microcents is None else cost_microcents,
        cost=UNSET if cost_microcents is None else cost_microcents / MICROCENTS_PER_USD,
    )
