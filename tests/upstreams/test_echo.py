"""The demo echo upstream's pure parts: its token count agrees with Weir's local count, its media are well formed."""

from __future__ import annotations

import base64
import io
import struct
import wave
import zlib

import orjson
import pytest

from weir.dialects.anthropic_messages import request as anthropic_request
from weir.http.count_tokens import local_count
from weir.upstreams import echo, echo_media


@pytest.mark.parametrize(
    ("system", "turns"),
    [
        (None, ["hello"]),
        ("You are terse.", ["hello there", "Echo: hello there", "and again, in French? Très bien."]),
        ("Two\nlines of system prompt", ["x" * 500, "ok", "¿qué tal? 你好"]),
    ],
)
def test_the_echo_bills_what_count_tokens_counts(system: str | None, turns: list[str]) -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    anthropic = {"model": "m", "max_tokens": 1, "messages": messages, **({"system": system} if system else {})}
    counted = local_count(anthropic_request.to_canonical(orjson.dumps(anthropic)), echo.ENCODING)
    chat = [*([{"role": "system", "content": system}] if system else []), *messages]
    assert echo.prompt_tokens({"messages": chat}) == counted
    parts = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in chat]  # content as parts
    assert echo.prompt_tokens({"messages": parts}) == counted


def test_embedding_vectors_are_unit_length_and_stable() -> None:
    a, b = echo_media.unit_vector(b"hello", 16), echo_media.unit_vector(b"world", 16)
    assert a == echo_media.unit_vector(b"hello", 16) and a != b
    assert abs(sum(v * v for v in a) - 1) < 1e-9 and len(echo_media.unit_vector(b"x", 256)) == 256


def test_the_image_is_a_png_of_one_colour() -> None:
    data = echo_media.png("a weir at dawn")
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data != echo_media.png("another prompt")
    at, chunks = 8, {}
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + size]
        assert struct.unpack(">I", data[at + 8 + size : at + 12 + size])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        at += 12 + size
    side = echo_media.IMAGE_SIDE
    assert struct.unpack(">IIBB", chunks[b"IHDR"][:10]) == (side, side, 8, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == side * (1 + 3 * side) and len(set(rows[1 : 1 + 3 * side : 3])) == 1


def test_speech_is_a_wav_that_carries_its_text_back() -> None:
    text = "Hello from Weir."
    audio = echo_media.wav(echo_media.tone(len(text) * echo_media.MS_PER_CHARACTER / 1000), text)
    with wave.open(io.BytesIO(audio)) as reader:  # the standard library reads it as ordinary PCM
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24_000)
        seconds = reader.getnframes() / reader.getframerate()
    assert seconds == pytest.approx(0.96)
    assert echo_media.read_wav(audio) == (pytest.approx(0.96), text)
    plain = io.BytesIO()
    with wave.open(plain, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(bytes(8000 * 4))
    assert echo_media.read_wav(plain.getvalue()) == (1.0, None)
    with pytest.raises(echo_media.Refused, match="only WAV"):
        echo_media.read_wav(b"ID3\x04" + bytes(100))


def test_form_fields_reads_a_multipart_upload() -> None:
    boundary = "b0undary"
    wav = base64.b64decode("UklGRg==")
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + wav
        + f"\r\n--{boundary}--\r\n".encode()
    )
    fields = echo_media.form_fields(f"multipart/form-data; boundary={boundary}", body)
    assert fields == {"model": b"whisper-1", "file": wav}
    assert echo_media.form_fields("application/json", b"{}") == {}
