"""The Anthropic Messages side of the mock upstream: POST /v1/messages and /v1/messages/count_tokens.

Same behaviour-by-model-name and the same fixed usage as the OpenAI side (tests compute exact costs from it).
Anthropic counts input without cache reads/writes: the mock reports cache reads as CACHED_TOKENS and input as
PROMPT_TOKENS - CACHED_TOKENS, so the canonical totals equal the OpenAI side's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tests.support import mock_upstream as m

COUNT_TOKENS = 4321
USAGE = {
    "input_tokens": m.PROMPT_TOKENS - m.CACHED_TOKENS,
    "cache_read_input_tokens": m.CACHED_TOKENS,
    "cache_creation_input_tokens": 0,
    "output_tokens": m.COMPLETION_TOKENS,
}


def _event(name: str, obj: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


async def messages(request: Request) -> Response:
    raw = await request.body()
    body = orjson.loads(raw)
    m.record(request, body)
    model = body.get("model", "")
    if model == "mock-error-500" or model.startswith("fault-500-"):
        error = {"type": "error", "error": {"type": "api_error", "message": "upstream exploded"}}
        return Response(orjson.dumps(error), status_code=500, media_type="application/json")
    tools = model == "mock-tools"
    if not body.get("stream"):
        return Response(orjson.dumps(_message(model, tools)), media_type="application/json")
    return StreamingResponse(_stream(model, tools, cut=model == "mock-cut"), media_type="text/event-stream")


def _message(model: str, tools: bool) -> dict[str, Any]:
    content: list[dict[str, Any]]
    if tools:
        content = [
            {"type": "tool_use", "id": cid, "name": name, "input": orjson.loads("".join(args))}
            for cid, name, args in m.TOOL_CALLS
        ]
    else:
        content = [{"type": "text", "text": "".join(m.REPLY_WORDS)}]
    return {
        "id": "msg_mock1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tools else "end_turn",
        "stop_sequence": None,
        "usage": USAGE,
    }


async def _stream(model: str, tools: bool, cut: bool) -> Any:
    start = {**_message(model, tools), "content": [], "stop_reason": None}
    start["usage"] = {**USAGE, "output_tokens": 1}
    yield _event("message_start", {"type": "message_start", "message": start})
    yield _event("ping", {"type": "ping"})
    if tools:
        for index, (cid, name, args) in enumerate(m.TOOL_CALLS):
            block = {"type": "tool_use", "id": cid, "name": name, "input": {}}
            yield _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
            for part in args:
                delta = {"type": "input_json_delta", "partial_json": part}
                yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
    else:
        block = {"type": "text", "text": ""}
        yield _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        long = model == "mock-long"  # ~6 s, ignoring max_tokens: for caps and clients that leave early
        for word in m.REPLY_WORDS * (200 if long else 1):
            delta = {"type": "text_delta", "text": word}
            yield _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            await asyncio.sleep(0.005 if long else 0.001)
            if cut and word == " the":
                return
            if model == "mock-pause" and word == " from":
                await asyncio.sleep(1.5)  # a silent upstream, for keepalives
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    stop = "tool_use" if tools else "end_turn"
    final = {"output_tokens": m.COMPLETION_TOKENS}
    yield _event(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": final},
    )
    yield _event("message_stop", {"type": "message_stop"})


async def count_tokens(request: Request) -> Response:
    body = orjson.loads(await request.body())
    m.record(request, body)
    return Response(orjson.dumps({"input_tokens": COUNT_TOKENS}), media_type="application/json")
