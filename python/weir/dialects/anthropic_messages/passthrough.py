"""Messages to an Anthropic upstream: `model` changes, `max_tokens` (which Anthropic requires) gets the model's
default when missing, and the client's anthropic-version and allowed anthropic-beta flags go along."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from weir._native import anthropic_usage
from weir.billing.meter import microcents_to_usd
from weir.canonical.usage import Usage
from weir.dialects.base import Passthrough


def body(payload: dict[str, Any], raw: bytes, upstream_model: str, max_tokens: int, stream: bool) -> bytes:
    payload["model"] = upstream_model  # set again by each attempt: the client's dict may be changed in place
    if "max_tokens" not in payload:
        payload["max_tokens"] = max_tokens
    return orjson.dumps(payload)


def message_delta(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back message_delta, its cumulative usage carrying the cost."""
    event = orjson.loads(data)
    usage = event.setdefault("usage", {})
    usage["cost_microcents"] = cost
    usage["cost"] = microcents_to_usd(cost)
    return b"event: message_delta\ndata: " + orjson.dumps(event) + b"\n\n"


def streamed_text(event: Any) -> Iterator[str]:
    """An event's output: the text, thinking and tool input of each content_block_delta, a tool's name."""
    if not isinstance(event, dict):
        return
    if event.get("type") == "content_block_delta" and isinstance(delta := event.get("delta"), dict):
        for field in ("text", "thinking", "partial_json"):
            if isinstance(text := delta.get(field), str):
                yield text
    elif event.get("type") == "content_block_start" and isinstance(block := event.get("content_block"), dict):
        if isinstance(tool := block.get("name"), str):
            yield tool


def capped_end(head: Any, last: Any, usage: Usage, cost: int, wants_usage: bool, open_block: int | None) -> bytes:
    """The open content block stopped, a message_delta with stop_reason "max_tokens" (as when max_tokens runs out)
    carrying the usage and cost, and message_stop."""
    out = b""
    if open_block is not None:
        stop = {"type": "content_block_stop", "index": open_block}
        out += b"event: content_block_stop\ndata: " + orjson.dumps(stop) + b"\n\n"
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {"output_tokens": usage.output, "cost_microcents": cost, "cost": microcents_to_usd(cost)},
    }
    out += b"event: message_delta\ndata: " + orjson.dumps(delta) + b"\n\n"
    return out + b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


SPEC = Passthrough(
    tap="anthropic_messages",
    usage_of=anthropic_usage,
    body=body,
    usage_event=message_delta,
    anthropic_headers=True,
    streamed_text=streamed_text,
    capped_end=capped_end,
)
