"""The built-in demo upstream: an OpenAI-compatible echo served by Weir itself at /_demo/v1.

The embedded defaults' demo models reach it over HTTP through the same upstream client as any real provider, so
every client dialect (Chat Completions, Responses, Messages, Gemini) gets to it by the same translation as to a
real OpenAI upstream. It answers "Echo: <the last user message>", word by word when streaming, with usage counted
as Weir's own local count does (BPE tokens of the text, plus 3 per message: `http/count_tokens.py`), so the demo's
count_tokens and its bill agree. Its media endpoints are in `echo_media.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from weir._native import count_tokens_many

ENCODING = "o200k_base"
PER_MESSAGE = 3  # as Weir's local count frames each message (system prompts excepted)
SYSTEM_ROLES = ("system", "developer")


def texts_of(content: Any) -> list[str]:
    """The text of a message's content: a string, or a list of parts of which the text ones count."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def prompt_tokens(body: dict[str, Any]) -> int:
    texts: list[str] = []
    framing = 0
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") not in SYSTEM_ROLES:
            framing += PER_MESSAGE
        texts += texts_of(message.get("content"))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            texts += [str(function.get("name", "")), str(function.get("arguments", ""))]
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        texts += [str(function.get("name", "")), str(function.get("description") or "")]
        if "parameters" in function:
            texts.append(orjson.dumps(function["parameters"]).decode())
    counted: int = count_tokens_many(texts, ENCODING)
    return framing + counted


def tokens(text: str) -> int:
    counted: int = count_tokens_many([text], ENCODING)
    return counted


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return " ".join(texts_of(message.get("content")))
    return ""


async def echo_chat(request: Request) -> Response:
    body = orjson.loads(await request.body())
    messages = body.get("messages") or []
    reply = "Echo: " + (_last_user_text(messages) or "(nothing to echo)")
    prompt, completion = prompt_tokens(body), tokens(reply)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
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
