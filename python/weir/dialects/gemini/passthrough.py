"""Gemini to a Gemini upstream: the body goes unchanged (it names neither the model nor streaming: the URL does).
Gemini streams carry usage in their chunks, so the tap holds nothing back and there is no usage event to rewrite:
a passed-through stream's cost is in the usage record, not in the stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from weir._native import gemini_usage
from weir.canonical.usage import Usage
from weir.dialects.base import Passthrough


def body(payload: dict[str, Any], raw: bytes, upstream_model: str, max_tokens: int, stream: bool) -> bytes:
    return raw


def no_usage_event(data: bytes, cost: int, wants_usage: bool) -> bytes:
    return data  # never called: the gemini tap holds nothing back


def streamed_text(event: Any) -> Iterator[str]:
    """A chunk's output: the text (thoughts included) and function-call names and arguments of its candidates."""
    for candidate in event.get("candidates") or () if isinstance(event, dict) else ():
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in content.get("parts") or () if isinstance(content, dict) else ():
            if not isinstance(part, dict):
                continue
            if isinstance(text := part.get("text"), str):
                yield text
            call = part.get("functionCall")
            if isinstance(call, dict):
                if isinstance(name := call.get("name"), str):
                    yield name
                yield orjson.dumps(call.get("args") or {}).decode()


def capped_end(head: Any, last: Any, usage: Usage, cost: int, wants_usage: bool, open_block: int | None) -> bytes:
    """A last chunk with finishReason MAX_TOKENS (as when maxOutputTokens runs out) and the usage billed."""
    chunk: dict[str, Any] = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": usage.input,
            "candidatesTokenCount": usage.output,
            "totalTokenCount": usage.input + usage.output,
        },
    }
    if isinstance(last, dict) and isinstance(last.get("modelVersion"), str):
        chunk["modelVersion"] = last["modelVersion"]
    return b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"


SPEC = Passthrough(
    tap="gemini",
    usage_of=gemini_usage,
    body=body,
    usage_event=no_usage_event,
    streamed_text=streamed_text,
    capped_end=capped_end,
)
