"""Responses to a Responses upstream: only `model` changes; `store`, `include` and reasoning items go as sent."""

from __future__ import annotations

from typing import Any

import orjson

from weir._native import responses_usage
from weir.billing.meter import microcents_to_usd
from weir.dialects.base import Passthrough


def body(payload: dict[str, Any], raw: bytes, upstream_model: str, max_tokens: int, stream: bool) -> bytes:
    payload = dict(payload)
    payload["model"] = upstream_model
    return orjson.dumps(payload)


def completed_event(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back response.completed (or .incomplete), its usage carrying the cost."""
    event = orjson.loads(data)
    response = event.get("response")
    if isinstance(response, dict) and isinstance(response.get("usage"), dict):
        response["usage"]["cost_microcents"] = cost
        response["usage"]["cost"] = microcents_to_usd(cost)
    name = event.get("type") if isinstance(event.get("type"), str) else "response.completed"
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


SPEC = Passthrough(tap="openai_responses", usage_of=responses_usage, body=body, usage_event=completed_event)
