"""The mock upstream's OpenAI media endpoints: embeddings, image generation, speech, transcription, translation.

Answers are computed from the request so tests can check them exactly: embedding vectors are fixed numbers that
float32 holds exactly (and come back as base64 of little-endian float32 when asked, as OpenAI does), images are
tiny fixed byte strings, speech is a fixed byte stream sent in several chunks with pauses, and a transcription
reports the uploaded WAV's real length. The multipart upload is parsed with the standard library's MIME parser, a
different implementation from Weir's, and what it found is recorded for tests to read back.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import hashlib
import io
import math
import struct
import time
import wave
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tests.support.mock_upstream import record

EMBED_TOKENS_PER_INPUT = 7
IMAGE_BYTES = b"\x89PNG\r\n\x1a\nmock-image-"
IMAGE_USAGE = {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210}
SPEECH_CHUNKS = [b"ID3\x04\x00" + bytes([i]) * 4096 for i in range(5)]  # several chunks, with pauses between
TRANSCRIBE_TOKENS = {"input_tokens": 14, "output_tokens": 45}


def vector(index: int) -> list[float]:
    """The embedding of the index-th input: numbers float32 represents exactly."""
    return [index + 0.5, -1.25, 3.0, 0.125 * (index + 1)]


def _error(status: int, message: str, param: str | None = None) -> Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def embeddings(request: Request) -> Response:
    body = orjson.loads(await request.body())
    record(request, body)
    if body["model"] == "mock-error-400":
        return _error(400, "bad embeddings input", "input")
    inputs = body["input"]
    count = 1 if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)) else len(inputs)
    data = []
    for i in range(count):
        values: Any = vector(i)
        if body.get("encoding_format") == "base64":
            values = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": i, "embedding": values})
    tokens = EMBED_TOKENS_PER_INPUT * count
    answer = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Response(orjson.dumps(answer), media_type="application/json")


async def images(request: Request) -> Response:
    body = orjson.loads(await request.body())
    record(request, body)
    n = body.get("n") or 1
    data = [
        {"b64_json": base64.b64encode(IMAGE_BYTES + bytes([i])).decode(), "revised_prompt": body["prompt"]}
        for i in range(n)
    ]
    answer: dict[str, Any] = {"created": int(time.time()), "data": data}
    if body["model"] == "mock-image-tokens":  # gpt-image-1 reports token usage as well
        answer["usage"] = IMAGE_USAGE
    return Response(orjson.dumps(answer), media_type="application/json")


SPEECH_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/ogg", "pcm": "audio/pcm"}


async def speech(request: Request) -> Response:
    body = orjson.loads(await request.body())
    record(request, body)
    if body["model"] == "mock-error-400":
        return _error(400, "unknown voice", "voice")
    cut = body["model"] == "mock-speech-cut"

    async def chunks() -> AsyncIterator[bytes]:
        for i, chunk in enumerate(SPEECH_CHUNKS):
            if cut and i == 2:
                raise ConnectionError("mock: the speech stream breaks off")
            yield chunk
            await asyncio.sleep(0.3 if body["model"] == "mock-speech-slow" else 0.02)

    media_type = SPEECH_TYPES.get(body.get("response_format", "mp3"), "application/octet-stream")
    return StreamingResponse(chunks(), media_type=media_type)


def _form(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() / audio.getframerate()


async def transcriptions(request: Request) -> Response:
    raw = await request.body()
    fields = _form(request.headers.get("content-type", ""), raw)
    filename, audio = fields.get("file", (None, b""))
    text = {k: v.decode() for k, (fn, v) in fields.items() if k != "file" and fn is None}
    record(
        request,
        {
            "fields": text,
            "field_order": list(fields),
            "filename": filename,
            "file_bytes": len(audio),
            "file_sha256": hashlib.sha256(audio).hexdigest(),
            "body_bytes": len(raw),
        },
    )
    if "model" not in fields or not audio:
        return _error(400, "model and file are required", "file")
    try:
        seconds = wav_seconds(audio)
    except (wave.Error, EOFError):
        seconds = 1.0  # a real upstream decodes any format; the mock only knows WAV
    transcript = f"{len(audio)} bytes of audio from {filename}"
    task = "translate" if request.url.path.endswith("/translations") else "transcribe"
    format_ = text.get("response_format", "json")
    if format_ == "text":
        return PlainTextResponse(transcript + "\n")  # no usage: Weir measures the WAV itself
    if format_ == "verbose_json":  # duration only, no usage
        answer: dict[str, Any] = {"task": task, "language": "english", "duration": seconds, "text": transcript}
        return Response(orjson.dumps(answer), media_type="application/json")
    usage: dict[str, Any] = {"type": "duration", "seconds": math.ceil(seconds)}
    if text["model"] == "mock-transcribe-tokens":
        usage = {"type": "tokens", **TRANSCRIBE_TOKENS, "total_tokens": sum(TRANSCRIBE_TOKENS.values())}
    return Response(orjson.dumps({"text": transcript, "usage": usage}), media_type="application/json")
