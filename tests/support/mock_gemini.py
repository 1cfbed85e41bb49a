"""The Gemini side of the mock upstream: POST /{v1beta,v1}/models/{model}:{generateContent,streamGenerateContent,
countTokens}, as generativelanguage.googleapis.com serves them.

The model and the method share one path segment (`mock-model:generateContent`), so the route captures the whole
segment and splits it on its last ':'. The key must come in `x-goog-api-key` or `?key=` (Google answers 403
without one); the request's query string is recorded beside the headers so tests can check that Weir sends the
key in the header and never in the URL.

Usage equals the other sides' once made canonical: promptTokenCount includes the cached tokens, and
candidatesTokenCount excludes the thought tokens (candidates + thoughts = COMPLETION_TOKENS). A stream is framed
exactly `data: <json>\\r\\n\\r\\n`; every chunk is a whole GenerateContentResponse whose usageMetadata has only the
prompt count until the last, which has every count and the finishReason. Without `alt=sse` a stream is answered
as one JSON array, as Google does. Function calls arrive whole, the first with a thoughtSignature as Gemini 2.5/3
send it; the turn still ends "STOP".
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tests.support import mock_upstream as m

COUNT_TOKENS = 4321
THOUGHT_SIGNATURE = base64.b64encode(b"mock-thought-signature-for-get_weather").decode()
PROMPT_USAGE = {
    "promptTokenCount": m.PROMPT_TOKENS,
    "totalTokenCount": m.PROMPT_TOKENS,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": m.PROMPT_TOKENS}],
}
USAGE = {
    **PROMPT_USAGE,
    "candidatesTokenCount": m.COMPLETION_TOKENS - m.REASONING_TOKENS,
    "thoughtsTokenCount": m.REASONING_TOKENS,
    "cachedContentTokenCount": m.CACHED_TOKENS,
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": m.CACHED_TOKENS}],
    "totalTokenCount": m.PROMPT_TOKENS + m.COMPLETION_TOKENS,
}
WORDS_PER_CHUNK = 2  # a streamed reply's text is split across chunks, never one chunk per answer

_numbers = itertools.count(1)


def _error(code: int, status: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


async def models(request: Request) -> Response:
    model, _, method = request.path_params["target"].rpartition(":")
    raw = await request.body()
    body = orjson.loads(raw) if raw else {}
    m.record(request, body)
    m._seen[-1]["query"] = request.url.query  # the key must never be in it
    if not model or method not in ("generateContent", "streamGenerateContent", "countTokens"):
        return _error(404, "NOT_FOUND", f"Method {method!r} of model {model!r} is not served by this mock.")
    if not request.headers.get("x-goog-api-key") and "key" not in request.query_params:
        return _error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers. Please use API Key.")
    if method == "countTokens":
        details = [{"modality": "TEXT", "tokenCount": COUNT_TOKENS}]
        return Response(orjson.dumps({"totalTokens": COUNT_TOKENS, "promptTokensDetails": details}))
    if model == "mock-error-500":
        return _error(500, "INTERNAL", "upstream exploded")
    if model == "mock-error-400":
        return _error(400, "INVALID_ARGUMENT", "bad thing")
    if model == "mock-slow":
        await asyncio.sleep(5)
    response_id = f"mockGeminiResponse{next(_numbers)}"
    if method == "generateContent":
        return Response(orjson.dumps(_whole(model, response_id)), media_type="application/json")
    if request.query_params.get("alt") != "sse":
        return Response(orjson.dumps(_chunks(model, response_id)), media_type="application/json")
    return StreamingResponse(_stream(model, response_id), media_type="text/event-stream")


def _calls() -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for _, name, args in m.TOOL_CALLS:
        parts.append({"functionCall": {"name": name, "args": orjson.loads("".join(args))}})
    parts[0]["thoughtSignature"] = THOUGHT_SIGNATURE
    return parts


def _words(model: str) -> list[str]:
    return m.REPLY_WORDS * (200 if model == "mock-long" else 1)  # mock-long: ~3 s streamed


def _response(model: str, response_id: str, parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": USAGE if last else PROMPT_USAGE,
        "modelVersion": model,
        "responseId": response_id,
    }


def _whole(model: str, response_id: str) -> dict[str, Any]:
    parts = _calls() if model == "mock-tools" else [{"text": "".join(_words(model))}]
    return _response(model, response_id, parts, last=True)


def _chunks(model: str, response_id: str) -> list[dict[str, Any]]:
    """The stream's chunks in order; mock-cut's end after " the" and none of them has a finishReason."""
    if model == "mock-tools":
        pieces = [[part] for part in _calls()]
    else:
        words = _words(model)
        texts = ["".join(words[i : i + WORDS_PER_CHUNK]) for i in range(0, len(words), WORDS_PER_CHUNK)]
        if model == "mock-cut":
            texts = texts[: next(i for i, text in enumerate(texts) if " the" in text) + 1]
        pieces = [[{"text": text}] for text in texts]
    last = len(pieces) - 1
    return [
        _response(model, response_id, parts, last=i == last and model != "mock-cut") for i, parts in enumerate(pieces)
    ]


async def _stream(model: str, response_id: str) -> AsyncIterator[bytes]:
    for number, chunk in enumerate(_chunks(model, response_id)):
        yield b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"
        await asyncio.sleep(0.005 if model == "mock-long" else 0.001)
        if model == "mock-pause" and number == 0:
            await asyncio.sleep(1.5)  # a silent upstream, for keepalives
