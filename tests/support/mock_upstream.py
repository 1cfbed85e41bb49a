"""A mock OpenAI-dialect upstream, served over loopback by granian in its own process.

Its behaviour is chosen by the model name the gateway sends upstream; every request it receives is recorded
(headers and body) and can be read back at GET /_mock/requests so tests can see what the upstream saw.
Usage numbers are fixed constants so tests can compute exact costs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

PROMPT_TOKENS = 1234
CACHED_TOKENS = 200
COMPLETION_TOKENS = 567
REASONING_TOKENS = 100
REPLY_WORDS = ["Hello", " from", " the", " mock", " upstream", "."]

USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": REASONING_TOKENS, "audio_tokens": 0},
}
TOOL_CALLS = [
    ("call_weather_1", "get_weather", ['{"city":', ' "Paris"}']),
    ("call_time_2", "get_time", ['{"tz":', ' "Europe/Paris"}']),
]

_seen: list[dict[str, Any]] = []
# mock-hold-<ms>[-<name>]: calls of that model in flight now, and the most ever at once (GET /_mock/holds)
_holds: dict[str, list[int]] = {}


def record(request: Request, body: Any) -> None:
    _seen.append({"headers": dict(request.headers), "body": body, "path": request.url.path})


async def chat(request: Request) -> Response:
    raw = await request.body()
    body = orjson.loads(raw)
    record(request, body)
    model = body.get("model", "")
    if isinstance(model, str) and model.startswith("fault-"):
        from tests.support import mock_faults

        return await mock_faults.chat(request, body)
    if model == "mock-error-500":
        error = {"error": {"message": "upstream exploded", "type": "server_error", "param": None, "code": None}}
        return Response(orjson.dumps(error), status_code=500, media_type="application/json")
    if model == "mock-error-400":
        error = {"error": {"message": "bad thing", "type": "invalid_request_error", "param": "x", "code": "bad"}}
        return Response(orjson.dumps(error), status_code=400, media_type="application/json")
    if model == "mock-slow":
        await asyncio.sleep(5)
    if model.startswith("mock-hold-"):  # answers normally after holding the call <ms> milliseconds
        counts = _holds.setdefault(model, [0, 0])
        counts[0] += 1
        counts[1] = max(counts[1], counts[0])
        try:
            await asyncio.sleep(int(model.split("-")[2]) / 1000)
        finally:
            counts[0] -= 1
    base = {
        "id": "chatcmpl-mock1",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_mock",
    }
    tools = model == "mock-tools"
    if not body.get("stream"):
        return Response(orjson.dumps(_completion(base, tools)), media_type="application/json")
    include_usage = (body.get("stream_options") or {}).get("include_usage") is True
    return StreamingResponse(
        _stream(base, tools, include_usage, cut=model == "mock-cut", long=model == "mock-long"),
        media_type="text/event-stream; charset=utf-8",
    )


def _completion(base: dict[str, Any], tools: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if tools else "".join(REPLY_WORDS)}
    if tools:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": "".join(args)}}
            for cid, name, args in TOOL_CALLS
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "tool_calls" if tools else "stop",
    }
    return {**base, "object": "chat.completion", "choices": [choice], "usage": USAGE}


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def _stream(base: dict[str, Any], tools: bool, include_usage: bool, cut: bool, long: bool = False) -> Any:
    chunk = {**base, "object": "chat.completion.chunk"}

    def delta(d: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {**chunk, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            obj["usage"] = None
        return _event(obj)

    yield delta({"role": "assistant", "content": "" if not tools else None})
    yield b": keep-alive\n\n"
    if tools:
        for index, (cid, name, args) in enumerate(TOOL_CALLS):
            first = {
                "index": index,
                "id": cid,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            yield delta({"tool_calls": [first]})
            for part in args:
                yield delta({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    else:
        for word in REPLY_WORDS * (200 if long else 1):  # mock-long: ~6 s, for clients that leave early
            yield delta({"content": word})
            await asyncio.sleep(0.005 if long else 0.001)
            if cut and word == " the":
                return
    yield delta({}, "tool_calls" if tools else "stop")
    if include_usage:
        yield _event({**chunk, "choices": [], "usage": USAGE})
    yield b"data: [DONE]\n\n"


async def holds(request: Request) -> Response:
    return Response(
        orjson.dumps({m: {"now": c[0], "peak": c[1]} for m, c in _holds.items()}), media_type="application/json"
    )


async def requests_seen(request: Request) -> Response:
    if request.method == "DELETE":
        _seen.clear()
        return Response(b"[]", media_type="application/json")
    return Response(orjson.dumps(_seen), media_type="application/json")


def _anthropic_routes() -> list[Route]:
    from tests.support import mock_anthropic  # imports this module: load it late

    return [
        Route("/v1/messages", mock_anthropic.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", mock_anthropic.count_tokens, methods=["POST"]),
    ]


def _responses_and_gemini_routes() -> list[Route]:
    # Those modules import this one and a test may import either first: look their handlers up per request.
    async def responses(request: Request) -> Response:
        from tests.support import mock_responses

        return await mock_responses.responses(request)

    async def gemini(request: Request) -> Response:
        from tests.support import mock_gemini

        return await mock_gemini.models(request)

    return [
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1beta/models/{target}", gemini, methods=["POST"]),  # target = {model}:{method}
        Route("/v1/models/{target}", gemini, methods=["POST"]),
    ]


def _media_routes() -> list[Route]:
    # mock_media imports this module: look its handlers up per request, as above.
    def late(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            from tests.support import mock_media

            return await getattr(mock_media, name)(request)  # type: ignore[no-any-return]

        return endpoint

    return [
        Route("/v1/embeddings", late("embeddings"), methods=["POST"]),
        Route("/v1/images/generations", late("images"), methods=["POST"]),
        Route("/v1/audio/speech", late("speech"), methods=["POST"]),
        Route("/v1/audio/transcriptions", late("transcriptions"), methods=["POST"]),
        Route("/v1/audio/translations", late("transcriptions"), methods=["POST"]),
    ]


app = Starlette(
    routes=[
        *_media_routes(),
        *_anthropic_routes(),
        *_responses_and_gemini_routes(),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/_mock/requests", requests_seen, methods=["GET", "DELETE"]),
        Route("/_mock/holds", holds, methods=["GET"]),
    ]
)
