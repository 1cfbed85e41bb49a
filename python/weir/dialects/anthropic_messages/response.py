"""Anthropic Messages response bodies <-> canonical Response, and the usage and stop-reason mappings that the
stream converters share.

Thinking in client output: Anthropic's own blocks go out as they came (signature, redacted data). Reasoning from
another upstream goes out as a thinking block whose signature names its origin (`content.foreign_signature`), so
Claude Code shows and keeps it, and a replay is routed back to where it can be used instead of to Anthropic, which
would reject it.
"""

from __future__ import annotations

import msgspec

from weir.canonical import tool_ids
from weir.canonical.response import Response, StopReason
from weir.canonical.usage import ZERO, Usage
from weir.dialects.anthropic_messages import schema as s
from weir.dialects.anthropic_messages.content import block_from_canonical, block_to_canonical
from weir.dialects.anthropic_messages.errors import bad_upstream
from weir.dialects.base import Reply
from weir.errors import InvalidRequest

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "model_context_window_exceeded": "max_tokens",  # the closest canonical reason: output cut by a limit
}


def to_canonical(body: bytes) -> Response:
    try:
        message = s.decode_body(body)
        content = [block_to_canonical(raw, f"content[{i}]") for i, raw in enumerate(message.content)]
    except (msgspec.DecodeError, InvalidRequest) as exc:
        raise bad_upstream(f"The upstream sent an unreadable Messages response: {exc}") from None
    return Response(
        id=message.id,
        model=message.model,
        content=content,
        stop_reason=stop_reason_to_canonical(message.stop_reason),
        stop_sequence=message.stop_sequence,
        usage=usage_to_canonical(message.usage),
    )


def from_canonical(resp: Response, reply: Reply) -> bytes:
    content: list[s.OutBlock | msgspec.Raw] = []
    for block in resp.content:
        wire = block_from_canonical(block, [], client=True)  # nothing to report drops to: responses have no header
        if wire is not None:
            content.append(wire)
    tool_used = any(isinstance(block, s.ToolUseBlock) for block in content)
    message = s.MessageOut(
        id=message_id(resp.id),
        model=reply.model,
        content=content,
        stop_reason=stop_reason_from_canonical(resp.stop_reason, tool_used),
        stop_sequence=resp.stop_sequence,
        usage=usage_from_canonical(resp.usage, reply.cost_microcents),
    )
    return s.encode(message)


def message_id(upstream_id: str) -> str:
    """Anthropic message ids start with `msg_`; another upstream's id is kept after the prefix."""
    if upstream_id.startswith("msg_"):
        return upstream_id
    return "msg_" + tool_ids.sanitize(upstream_id) if upstream_id else "msg_weir"


def stop_reason_to_canonical(reason: str | None) -> StopReason | None:
    if reason is None:
        return None
    return _STOP_REASONS.get(reason, "end_turn")


def stop_reason_from_canonical(reason: StopReason | None, tool_used: bool) -> str:
    """Clients run tools only when stop_reason says tool_use; some upstreams say `stop` with tool calls."""
    if reason in (None, "end_turn", "error") and tool_used:
        return "tool_use"
    if reason is None or reason == "error":
        return "end_turn"
    return reason


def usage_to_canonical(usage: s.Usage | None) -> Usage:
    """Anthropic's input_tokens are the uncached ones; canonical input counts cache reads and writes too."""
    if usage is None:
        return ZERO
    cached = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    details = usage.output_tokens_details
    return Usage(
        input=(usage.input_tokens or 0) + cached + written,
        cached=cached,
        output=usage.output_tokens or 0,
        reasoning=details.thinking_tokens if details is not None else 0,
        cache_write=written,
    )


def usage_from_canonical(usage: Usage, cost_microcents: int | None) -> s.Usage:
    out = s.Usage(
        input_tokens=max(usage.input - usage.cached - usage.cache_write, 0),
        cache_creation_input_tokens=usage.cache_write,
        cache_read_input_tokens=usage.cached,
        output_tokens=usage.output,
    )
    if usage.reasoning:
        out.output_tokens_details = s.OutputTokensDetails(thinking_tokens=usage.reasoning)
    if cost_microcents is not None:
        out.cost_microcents = cost_microcents
        out.cost = cost_microcents / 1e8  # USD
    return out
