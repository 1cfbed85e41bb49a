"""Chat Completions to a Chat Completions upstream: only `model` changes, and streams always ask for usage
(Weir bills from it and takes the extra chunk out again when the client did not ask for it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from weir._native import openai_usage
from weir.billing.meter import microcents_to_usd
from weir.canonical.usage import Usage
from weir.dialects.base import Passthrough


def body(payload: dict[str, Any], raw: bytes, upstream_model: str, max_tokens: int, stream: bool) -> bytes:
    payload["model"] = upstream_model  # set again by each attempt: the client's dict may be changed in place
    if stream:
        options = payload.get("stream_options")
        payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return orjson.dumps(payload)


def usage_chunk(data: bytes, cost: int, wants_usage: bool) -> bytes:
    """The held-back usage chunk, with the cost added, for clients that asked for usage; nothing for the others."""
    if not wants_usage:
        return b""
    chunk = orjson.loads(data)
    chunk["usage"]["cost_microcents"] = cost
    chunk["usage"]["cost"] = microcents_to_usd(cost)
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def streamed_text(event: Any) -> Iterator[str]:
    """A chunk's output: each choice's content, reasoning, refusal and tool-call names and arguments."""
    for choice in event.get("choices") or () if isinstance(event, dict) else ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        for name in ("content", "reasoning_content", "reasoning", "refusal"):
            if isinstance(text := delta.get(name), str):
                yield text
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                for name in ("name", "arguments"):
                    if isinstance(text := function.get(name), str):
                        yield text


def capped_end(head: Any, last: Any, usage: Usage, cost: int, wants_usage: bool, open_block: int | None) -> bytes:
    """A final chunk with finish_reason "length" (as when max_tokens runs out), the usage chunk when the client
    asked for usage, and [DONE]."""
    ids = ("id", "created", "model", "system_fingerprint")
    base = {k: last[k] for k in ids if isinstance(last, dict) and k in last}
    base["object"] = "chat.completion.chunk"
    out = b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    if wants_usage:
        counts = {"prompt_tokens": usage.input, "completion_tokens": usage.output}
        counts["total_tokens"] = usage.input + usage.output
        totals = {**counts, "cost_microcents": cost, "cost": microcents_to_usd(cost)}
        out += b"\n\ndata: " + orjson.dumps({**base, "choices": [], "usage": totals})
    return out + b"\n\ndata: [DONE]\n\n"


SPEC = Passthrough(
    tap="openai_chat",
    usage_of=openai_usage,
    body=body,
    usage_event=usage_chunk,
    streamed_text=streamed_text,
    capped_end=capped_end,
)
