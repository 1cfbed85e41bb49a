"""Recorded streams and a plain-Python reference reading of them, to check weir._native against.

The reference works on the whole input at once (no chunking), so it is independent of the
framer's incremental machinery.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures"

_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


def fixtures(dialect: str) -> list[tuple[str, bytes]]:
    paths = sorted((FIXTURES / dialect).glob("*.sse"))
    assert paths, f"no fixtures for {dialect}"
    return [(path.stem, path.read_bytes()) for path in paths]


@dataclass
class RefBlock:
    raw: bytes
    event: str | None
    data: bytes | None  # None: dispatches nothing


def reference_blocks(stream: bytes) -> list[RefBlock]:
    """Blocks per the WHATWG event-stream rules; a trailing unterminated block is kept."""
    lines: list[tuple[bytes, int]] = []  # (line, end offset including its terminator)
    pos = 0
    while m := _LINE.match(stream, pos):
        lines.append((m.group(1), m.end()))
        pos = m.end()
    if pos < len(stream):
        lines.append((stream[pos:], len(stream)))

    blocks: list[RefBlock] = []
    start = 0
    event: str | None = None
    data: list[bytes] = []
    for index, (line, end) in enumerate(lines):
        if index == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        last = index == len(lines) - 1
        if line:
            if not line.startswith(b":"):
                name, colon, value = line.partition(b":")
                if colon and value.startswith(b" "):
                    value = value[1:]
                if name == b"data":
                    data.append(value)
                elif name == b"event":
                    event = value.decode("utf-8", "replace") or None
        if not line or last:
            blocks.append(RefBlock(stream[start:end], event, b"\n".join(data) if data else None))
            start, event, data = end, None, []
    return blocks


def reference_events(stream: bytes) -> list[tuple[str | None, bytes]]:
    return [(b.event, b.data) for b in reference_blocks(stream) if b.data is not None]


@dataclass
class RefTap:
    forwarded: bytes
    usage_data: bytes | None
    done_raw: bytes | None
    data_events: int


def reference_openai_tap(stream: bytes) -> RefTap:
    forwarded: list[bytes] = []
    usage_data = done_raw = None
    data_events = 0
    for block in reference_blocks(stream):
        if block.data is None:
            forwarded.append(block.raw)
        elif block.data == b"[DONE]":
            done_raw = block.raw
        else:
            chunk = json.loads(block.data)
            if chunk.get("usage") and chunk.get("choices") == []:
                usage_data = block.data
            else:
                forwarded.append(block.raw)
                data_events += 1
    return RefTap(b"".join(forwarded), usage_data, done_raw, data_events)
