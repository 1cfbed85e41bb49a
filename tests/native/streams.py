"""Recorded streams and a plain-Python reference reading of them, to check weir._native against.

The reference works on the whole input at once (no chunking), so it is independent of the
framer's incremental machinery.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    tail: bytes
    complete: bool
    data_events: int


class _Holder:
    """The tap's holding rule: blocks pass until the usage event or the terminal event, then go to the tail."""

    def __init__(self) -> None:
        self.forwarded: list[bytes] = []
        self.tail: list[bytes] = []
        self.holding = False
        self.complete = False
        self.usage_data: bytes | None = None
        self.data_events = 0

    def passed(self, block: RefBlock) -> None:
        (self.tail if self.holding else self.forwarded).append(block.raw)
        if block.data is not None:
            self.data_events += 1

    def usage(self, block: RefBlock) -> None:
        self.usage_data = block.data
        self.holding = True

    def terminal(self, block: RefBlock) -> None:
        self.tail.append(block.raw)
        self.holding = self.complete = True

    def result(self) -> RefTap:
        return RefTap(b"".join(self.forwarded), self.usage_data, b"".join(self.tail), self.complete, self.data_events)


def reference_openai_tap(stream: bytes) -> RefTap:
    tap = _Holder()
    for block in reference_blocks(stream):
        if block.data is None:
            tap.passed(block)
        elif block.data == b"[DONE]":
            tap.terminal(block)
        else:
            chunk = json.loads(block.data)
            if chunk.get("usage") and chunk.get("choices") == []:
                tap.usage(block)
            else:
                tap.passed(block)
    return tap.result()


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def reference_anthropic_tap(stream: bytes) -> RefTap:
    tap = _Holder()
    for block in reference_blocks(stream):
        if block.data is None:
            tap.passed(block)
            continue
        event = _json_object(block.data)
        kind = block.event or (event or {}).get("type")
        if kind == "message_delta" and event is not None:
            tap.usage(block)
        elif kind == "message_stop":
            tap.terminal(block)
        else:
            tap.passed(block)
    return tap.result()


Usage5 = tuple[int, int, int, int, int]

_COUNTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def _canonical(counts: dict[str, int]) -> Usage5:
    read = counts.get("cache_read_input_tokens", 0)
    write = counts.get("cache_creation_input_tokens", 0)
    return (
        counts.get("input_tokens", 0) + read + write,
        read,
        counts.get("output_tokens", 0),
        counts.get("thinking_tokens", 0),
        write,
    )


def reference_anthropic_usage(stream: bytes) -> Usage5 | None:
    """message_start's message.usage, then each message_delta's present counts override (the SDK's
    accumulate_event), in Weir's canonical convention."""
    counts: dict[str, int] = {}
    for event_type, data in reference_events(stream):
        event = _json_object(data)
        if event is None:
            continue
        kind = event_type or event.get("type")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage")
            counts = {}
        elif kind == "message_delta":
            usage = event.get("usage")
        else:
            continue
        if not isinstance(usage, dict):
            continue
        details = usage.get("output_tokens_details") or {}
        for key, value in [*usage.items(), ("thinking_tokens", details.get("thinking_tokens"))]:
            if (key in _COUNTS or key == "thinking_tokens") and value is not None:
                counts[key] = value
    if not any(key in counts for key in _COUNTS):
        return None
    return _canonical(counts)
