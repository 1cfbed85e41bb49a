"""The demo echo upstream's OpenAI media endpoints, under /_demo/v1 like its chat (`echo.py`): made-up but
well-formed answers computed from the request, so that the media recipes and the openai SDK's media calls work on
the embedded defaults, priced and metered like real ones.

Embeddings are unit vectors drawn from each input's hash (the same input always gets the same vector). Images are
a small PNG of one colour, also drawn from the prompt. Speech is a quiet tone in a WAV file, 60 ms a character,
that carries the text it "says" in its INFO comment; transcribing such a file gives that text back, any other WAV
its length. Only WAV (or raw PCM) audio is made and understood: anything else is refused with a 400 that says so.
"""

from __future__ import annotations

import array
import base64
import email.parser
import email.policy
import hashlib
import math
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from weir.upstreams.echo import tokens

DIMENSIONS = 16  # real embedding models have 1536 or more; `dimensions` asks for another size
MAX_DIMENSIONS = 3072
IMAGE_SIDE = 64
SAMPLE_RATE = 24_000  # OpenAI's speech: 24 kHz, 16-bit, mono
MS_PER_CHARACTER = 60
MAX_SPEECH_SECONDS = 30
CHUNK_BYTES = 16_384  # speech streams back in pieces of this size


class Refused(Exception):
    """The request is one the demo cannot answer: a 400 in OpenAI's shape."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _refusal(exc: Refused) -> Response:
    error = {"message": str(exc), "type": "invalid_request_error", "param": exc.param, "code": None}
    return Response(orjson.dumps({"error": error}), status_code=400, media_type="application/json")


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Refused(f"The body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Refused("The body must be a JSON object.")
    return body


def unit_vector(seed: bytes, dimensions: int) -> list[float]:
    raw = hashlib.shake_256(seed).digest(2 * dimensions)
    values = [int.from_bytes(raw[i : i + 2], "little") - 32768 for i in range(0, len(raw), 2)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


async def embeddings(request: Request) -> Response:
    try:
        body = await _json_body(request)
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise Refused("'input' must be a string, a list of strings or a list of token ids.", "input")
        dimensions = body.get("dimensions", DIMENSIONS)
        if not isinstance(dimensions, int) or not 0 < dimensions <= MAX_DIMENSIONS:
            raise Refused(f"'dimensions' must be a whole number from 1 to {MAX_DIMENSIONS}.", "dimensions")
        data, used = [], 0
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                seed, used = item.encode(), used + tokens(item)
            elif isinstance(item, list) and all(isinstance(t, int) for t in item):
                seed, used = orjson.dumps(item), used + len(item)
            else:
                raise Refused(f"input[{index}] is neither a string nor a list of token ids.", "input")
            vector: Any = unit_vector(seed, dimensions)
            if body.get("encoding_format") == "base64":  # the openai SDK asks for this by default
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
    except Refused as exc:
        return _refusal(exc)
    usage = {"prompt_tokens": used, "total_tokens": used}
    answer = {"object": "list", "data": data, "model": body.get("model", ""), "usage": usage}
    return Response(orjson.dumps(answer), media_type="application/json")


def png(prompt: str) -> bytes:
    """A IMAGE_SIDE x IMAGE_SIDE PNG of one colour, drawn from the prompt."""
    rgb = hashlib.sha256(prompt.encode()).digest()[:3]
    rows = (b"\x00" + rgb * IMAGE_SIDE) * IMAGE_SIDE  # filter byte 0 (none) before each row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", IMAGE_SIDE, IMAGE_SIDE, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def images(request: Request) -> Response:
    try:
        body = await _json_body(request)
        prompt, n = body.get("prompt"), body.get("n", 1)
        if not isinstance(prompt, str) or not prompt:
            raise Refused("'prompt' is required.", "prompt")
        if not isinstance(n, int) or not 0 < n <= 10:
            raise Refused("'n' must be a whole number from 1 to 10.", "n")
    except Refused as exc:
        return _refusal(exc)
    image = base64.b64encode(png(prompt)).decode()
    data = [{"b64_json": image, "revised_prompt": prompt} for _ in range(n)]
    return Response(orjson.dumps({"created": int(time.time()), "data": data}), media_type="application/json")


def tone(seconds: float) -> bytes:
    """16-bit mono PCM: a quiet 220 Hz tone, faded in and out."""
    count = int(SAMPLE_RATE * seconds)
    fade = SAMPLE_RATE // 50
    samples = array.array("h", bytes(2 * count))
    for i in range(count):
        envelope = min(1.0, i / fade, (count - i) / fade)
        samples[i] = int(1500 * envelope * math.sin(2 * math.pi * 220 * i / SAMPLE_RATE))
    return samples.tobytes()  # little-endian on every platform Weir runs on


def wav(pcm: bytes, comment: str) -> bytes:
    """A RIFF/WAVE file of `pcm`, with `comment` in a LIST/INFO/ICMT chunk before the data."""
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16)
    text = comment.encode() + b"\x00"
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text + b"\x00" * (len(text) & 1)
    chunks = [(b"fmt ", fmt), (b"LIST", info), (b"data", pcm)]
    body = b"".join(kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1) for kind, data in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


async def speech(request: Request) -> Response:
    try:
        body = await _json_body(request)
        text, format_ = body.get("input"), body.get("response_format", "mp3")
        if not isinstance(text, str) or not text:
            raise Refused("'input' is required.", "input")
        if format_ not in ("wav", "pcm") or body.get("stream_format", "audio") != "audio":
            raise Refused(
                f"The demo echo upstream makes only wav and pcm audio, not {format_!r} (nor SSE streams); "
                'ask for "response_format": "wav".',
                "response_format",
            )
    except Refused as exc:
        return _refusal(exc)
    pcm = tone(min(MAX_SPEECH_SECONDS, len(text) * MS_PER_CHARACTER / 1000))
    audio = wav(pcm, text) if format_ == "wav" else pcm

    async def pieces() -> AsyncIterator[bytes]:
        for at in range(0, len(audio), CHUNK_BYTES):
            yield audio[at : at + CHUNK_BYTES]

    return StreamingResponse(pieces(), media_type="audio/wav" if format_ == "wav" else "audio/pcm")


def read_wav(data: bytes) -> tuple[float, str | None]:
    """The length in seconds of a PCM WAV file and its INFO comment, if any."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise Refused("The demo echo upstream understands only WAV audio.", "file")
    byte_rate, comment, at = 0, None, 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        content = data[at + 8 : at + 8 + size]
        if kind == b"fmt " and len(content) >= 12:
            byte_rate = struct.unpack_from("<I", content, 8)[0]
        elif kind == b"LIST" and content[:4] == b"INFO":
            sub = 4
            while sub + 8 <= len(content):
                name, length = content[sub : sub + 4], struct.unpack_from("<I", content, sub + 4)[0]
                if name == b"ICMT":
                    comment = content[sub + 8 : sub + 8 + length].rstrip(b"\x00").decode(errors="replace")
                sub += 8 + length + (length & 1)
        elif kind == b"data" and byte_rate > 0:
            return len(content) / byte_rate, comment
        at += 8 + size + (size & 1)
    raise Refused("The WAV file has no readable format or data chunk.", "file")


def form_fields(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body, by field name (the standard library's MIME parser)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, bytes] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name, payload = part.get_param("name", header="content-disposition"), part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload
    return fields


def _clock(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02}{separator}{ms % 1000:03}"


async def _transcribe(request: Request, task: str) -> Response:
    fields = form_fields(request.headers.get("content-type", ""), await request.body())
    try:
        if not fields.get("file"):
            raise Refused("'file' is required.", "file")
        seconds, said = read_wav(fields["file"])
    except Refused as exc:
        return _refusal(exc)
    text = said or f"({seconds:.2f} seconds of audio)"
    format_ = fields.get("response_format", b"json").decode()
    if format_ == "text":
        return PlainTextResponse(text + "\n")
    if format_ in ("srt", "vtt"):
        separator = "," if format_ == "srt" else "."
        cue = f"{_clock(0, separator)} --> {_clock(seconds, separator)}\n{text}\n"
        return PlainTextResponse(f"1\n{cue}\n" if format_ == "srt" else f"WEBVTT\n\n{cue}\n")
    if format_ == "verbose_json":
        segment = {"id": 0, "start": 0.0, "end": seconds, "text": text}
        answer: dict[str, Any] = {
            "task": task,
            "language": "english",
            "duration": seconds,
            "text": text,
            "segments": [segment],
        }
    else:
        answer = {"text": text, "usage": {"type": "duration", "seconds": math.ceil(seconds)}}
    return Response(orjson.dumps(answer), media_type="application/json")


async def transcriptions(request: Request) -> Response:
    return await _transcribe(request, "transcribe")


async def translations(request: Request) -> Response:
    return await _transcribe(request, "translate")


ECHO_MEDIA: dict[str, Callable[[Request], Coroutine[Any, Any, Response]]] = {
    "/embeddings": embeddings,
    "/images/generations": images,
    "/audio/speech": speech,
    "/audio/transcriptions": transcriptions,
    "/audio/translations": translations,
}
