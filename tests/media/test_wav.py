from __future__ import annotations

import io
import struct
import wave

from weir.http.media.wav import wav_duration_ms


def wav(seconds: float, rate: int = 16_000, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * channels * round(rate * seconds))
    return buffer.getvalue()


def test_duration_from_the_header() -> None:
    for seconds, rate, channels in ((1.0, 16_000, 1), (2.5, 44_100, 2), (0.0015, 8_000, 1)):
        data = wav(seconds, rate, channels)
        frames = round(rate * seconds)
        want = -(-frames * 1000 // rate)
        assert wav_duration_ms(data[:4096], len(data)) == want


def test_extra_chunks_and_unknown_data_size() -> None:
    data = wav(1.0)
    fmt_end = 12 + 8 + 16
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # odd size: padded
    streamed = data[:fmt_end] + extra + b"data" + struct.pack("<I", 0xFFFFFFFF) + data[fmt_end + 8 :]
    assert wav_duration_ms(streamed[:4096], len(streamed)) == 1000
    truncated = data[: len(data) // 2]  # the header promises more than arrived: what arrived counts
    assert wav_duration_ms(truncated, len(truncated)) == 500


def test_not_wav() -> None:
    assert wav_duration_ms(b"ID3\x04" + bytes(100), 10_000) is None
    assert wav_duration_ms(b"RIFF\x00\x00\x00\x00WAVEdata\x10\x00\x00\x00", 100) is None  # no fmt before data
    assert wav_duration_ms(b"", 0) is None
