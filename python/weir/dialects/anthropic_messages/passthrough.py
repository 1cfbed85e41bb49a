"""Messages to an Anthropic upstream: `model` changes, `max_tokens` (which Anthropic requires) gets the model's
default when missing, and the client's anthropic-version and allowed anthropic-beta flags go along."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from weir._native import anthropic_usage
from weir.billing.meter import microcents_to_usd
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


SPEC = Passthrough(
    tap="anthropic_messages",
    usage_of=anthropic_usage,
    body=body,
    usage_event=message_delta,
    anthropic_headers=True,
    streamed_text=streamed_text,
)
