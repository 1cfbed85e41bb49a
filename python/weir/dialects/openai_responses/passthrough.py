"""Responses to a Responses upstream: only `model` changes; `store`, `include` and reasoning items go as sent.

The answer keeps the upstream's bytes but one: the response's id becomes Weir's own. `previous_response_id` is
answered by Weir from the conversations it stores, keyed by response id, and an upstream's ids are not promised
to be unique (some repeat them); an id Weir makes never collides.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import orjson

from weir._native import responses_usage
from weir.billing.meter import microcents_to_usd
from weir.canonical.usage import Usage
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


MAX_HELD = 64 * 1024  # a stream's bytes held until its response id is seen (it is in the first event)
_STREAM_ID = re.compile(rb'"response"\s*:\s*\{\s*"id"\s*:\s*("[^"\\]+")')


class ResponseIds:
    """Replaces the upstream's response id by a new one of Weir's, everywhere it appears as a JSON string."""

    __slots__ = ("_held", "ours", "theirs")

    def __init__(self) -> None:
        self.ours = b'"resp_' + os.urandom(16).hex().encode() + b'"'
        self.theirs: bytes | None = None
        self._held = b""

    def unary(self, body: bytes) -> bytes:
        try:
            found = orjson.loads(body).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            return body
        if not isinstance(found, str) or not found:
            return body
        self.theirs = orjson.dumps(found)
        return body.replace(self.theirs, self.ours)

    def stream(self, out: bytes) -> bytes:
        """Forwarded stream bytes, rewritten; held (b"") until the id has been seen, at most MAX_HELD bytes."""
        if self.theirs is None:
            held = self._held + out
            found = _STREAM_ID.search(held)
            if found is None and len(held) < MAX_HELD:
                self._held = held
                return b""
            self._held = b""
            if found is None:
                return held
            self.theirs = found.group(1)
            out = held
        return out.replace(self.theirs, self.ours)

    def apply(self, data: bytes) -> bytes:
        """`data` (the held-back events at the end of a stream) rewritten; nothing held is added."""
        return data.replace(self.theirs, self.ours) if self.theirs is not None else data

    def flush(self, out: bytes) -> bytes:
        """The end of the stream: what is still held, then `out`, rewritten."""
        held, self._held = self._held, b""
        data = held + out
        return data.replace(self.theirs, self.ours) if self.theirs is not None else data


def streamed_text(event: Any) -> Iterator[str]:
    """An event's output: the `delta` of every *.delta event (output text, reasoning, refusal, tool arguments)."""
    if isinstance(event, dict) and str(event.get("type", "")).endswith(".delta"):
        if isinstance(text := event.get("delta"), str):
            yield text


def capped_end(head: Any, last: Any, usage: Usage, cost: int, wants_usage: bool, open_block: int | None) -> bytes:
    """response.incomplete (as when max_output_tokens runs out), its response carrying the usage and cost."""
    created = head.get("response") if isinstance(head, dict) else None
    response = {k: v for k, v in created.items() if k != "output"} if isinstance(created, dict) else {}
    response.update(
        object="response",
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        output=[],
        usage={
            "input_tokens": usage.input,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage.output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.input + usage.output,
            "cost_microcents": cost,
            "cost": microcents_to_usd(cost),
        },
    )
    event: dict[str, Any] = {"type": "response.incomplete", "response": response}
    if isinstance(last, dict) and isinstance(last.get("sequence_number"), int):
        event["sequence_number"] = last["sequence_number"] + 1
    return b"event: response.incomplete\ndata: " + orjson.dumps(event) + b"\n\n"


SPEC = Passthrough(
    tap="openai_responses",
    usage_of=responses_usage,
    body=body,
    usage_event=completed_event,
    ids=ResponseIds,
    streamed_text=streamed_text,
    capped_end=capped_end,
)
