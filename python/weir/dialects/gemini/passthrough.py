"""Gemini to a Gemini upstream: the body goes unchanged (it names neither the model nor streaming: the URL does).
Gemini streams carry usage in their chunks, so the tap holds nothing back and there is no usage event to rewrite:
a passed-through stream's cost is in the usage record, not in the stream."""

from __future__ import annotations

from typing import Any

from weir._native import gemini_usage
from weir.dialects.base import Passthrough


def body(payload: dict[str, Any], raw: bytes, upstream_model: str, max_tokens: int, stream: bool) -> bytes:
    return raw


def no_usage_event(data: bytes, cost: int, wants_usage: bool) -> bytes:
    return data  # never called: the gemini tap holds nothing back


SPEC = Passthrough(tap="gemini", usage_of=gemini_usage, body=body, usage_event=no_usage_event)
