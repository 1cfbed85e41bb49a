"""The built-in demo upstream: an OpenAI-compatible echo served by Weir itself at /_demo/v1.

The demo model reaches it over HTTP through the same upstream client as any real provider.
Token counts are a rough estimate (4 bytes a token); the real counter arrives with the token-counting work.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse


def _tokens(text: str) -> int:
    return max(1, -(-len(text.encode()) // 4))


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


async def echo_chat(request: Request) -> Response:
    body = orjson.loads(await request.body())
    messages = body.get("messages") or []
    reply = "Echo: " + (_last_user_text(messages) or "(nothing to echo)")
    prompt = _tokens(orjson.dumps(messages).decode())
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": _tokens(reply),
        "total_tokens": prompt + _tokens(reply),
    }
    base = {
        "id": f"chatcmpl-echo{time.time_ns()}",
        "created": int(time.time()),
        "model": body.get("model", ""),
    }
    if not body.get("stream"):
        message = {"role": "assistant", "content": reply}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return Response(
            orjson.dumps({**base, "object": "chat.completion", "choices": [choice], "usage": usage}),
            media_type="application/json",
        )
    include_usage = (body.get("stream_options") or {}).get("include_usage") is True

    async def events() -> Any:
        chunk = {**base, "object": "chat.completion.chunk"}
        words = reply.split(" ")
        for i, word in enumerate(words):
            delta: dict[str, Any] = {"content": word if i == 0 else " " + word}
            if i == 0:
                delta["role"] = "assistant"
            yield _sse({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            await asyncio.sleep(0.02)
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if include_usage:
            yield _sse({**chunk, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"
