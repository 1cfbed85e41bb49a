"""How long a WAV upload is, from its first bytes and its size: the fallback measure of transcribed audio when
the upstream reports neither usage nor a duration (response_format text, srt or vtt).

Only RIFF/WAVE is measured: its header states the byte rate, so the length needs no decoding. Other formats
would need a decoder, and are not measured.
"""

from __future__ import annotations

import struct

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put in a size field they could not know yet


def wav_duration_ms(head: bytes, total: int) -> int | None:
    """Milliseconds of audio (rounded up) in a WAV file of `total` bytes starting with `head`; None when `head` is
    not a WAV header this function can read."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    byte_rate = 0
    at = 12
    while at + 8 <= len(head):
        chunk_id = head[at : at + 4]
        (size,) = struct.unpack_from("<I", head, at + 4)
        body = at + 8
        if chunk_id == b"fmt ":
            if body + 12 > len(head):
                return None
            (byte_rate,) = struct.unpack_from("<I", head, body + 8)
        elif chunk_id == b"data":
            if byte_rate <= 0:
                return None
            present = max(0, total - body)
            data = present if size in _UNKNOWN_SIZES else min(size, present)
            return -(-data * 1000 // byte_rate)
        at = body + size + (size & 1)  # chunks are padded to an even size
    return None
