#!/usr/bin/env python3
"""Microbenchmark: the Rust stream tap (weir._native.StreamTap) against pure-Python taps.

All implementations do the same job on an upstream OpenAI chat SSE stream: frame it
incrementally (WHATWG event-stream rules, CR / LF / CRLF line ends, chunk boundaries anywhere),
forward every block's raw bytes verbatim, hold back the usage-only chunk (a usage object and
``"choices": []``; its data is kept) and, from it or from the ``[DONE]`` block on, every block (raw, in
``tail``), and read the usage (input, cached, output, reasoning, cache_write).

    rust               weir._native.StreamTap("openai_chat")
    python-scan        PyStreamTap("scan"): orjson-parses only the events in which a regex finds a
                       "usage" key holding an object; the "usage":null of ordinary chunks is not parsed
    python-json        PyStreamTap("json"): orjson-parses every data event, as a naive gateway would
    python-*-lines     the same without the LF-only fast path (line reader only); --variants to time

Before timing, every Python variant is checked against the Rust tap (forwarded bytes, usage,
usage data, tail, complete, data-event count) on every benchmark input, on the recorded streams in
tests/fixtures/openai_chat (whole, byte by byte, random splits) and on small edge-case streams
(every split); a mismatch is an AssertionError.

Inputs: the 50-chunk fixture stream fed one SSE block per chunk and in network-sized pieces
(1..1500 bytes, fixed seed), a 2,000-chunk stream built from the fixture's events in such pieces,
and the fixture fed byte by byte. Also times ``openai_usage`` against ``orjson.loads(body)["usage"]``
on the fixture chat.completion body (and on the same body with a 128x longer answer).

    .venv/bin/python bench/micro/sse.py                  # ~15 s
    .venv/bin/python bench/micro/sse.py --repeats 3 --target 0.05 --no-save
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from weir._native import SseFramer, StreamTap, openai_usage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "bench" / "transport" / "fixtures"
TEST_STREAMS = ROOT / "tests" / "fixtures" / "openai_chat"
RESULTS = ROOT / "bench" / "results"

Usage = tuple[int, int, int, int, int]

# ----------------------------------------------------------------------------- Python tap

_BOM = b"\xef\xbb\xbf"
_DONE_STRIP = b" \t\n\r\x0c"  # Rust's trim_ascii (bytes.strip() would also strip \x0b)
# A "usage" key whose value is an object. A pre-filter, not a parser: the same text inside a
# string also matches, which only costs a parse. (With stream_options.include_usage every chunk
# carries "usage":null, so a plain b'"usage"' in data test would parse every event.)
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


def _count(value: Any) -> int:
    """A token count as the gateway reads it: null and negatives are 0, fractions truncated."""
    if value is None:
        return 0
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is float:
        return int(value) if value > 0 else 0
    raise TypeError("not a token count")


def usage_of(usage: Any) -> Usage | None:
    """``(input, cached, output, reasoning, cache_write)`` of an OpenAI usage object, or None if it is not
    one (``cache_write`` is ``prompt_tokens_details.cache_write_tokens``, which some OpenAI-compatible
    providers report)."""
    if type(usage) is not dict:
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if prompt is None and completion is None:
        return None
    try:
        prompt_details = usage.get("prompt_tokens_details")
        completion_details = usage.get("completion_tokens_details")
        if prompt_details is None:
            cached = cache_write = 0
        else:
            cached = _count(prompt_details.get("cached_tokens"))
            cache_write = _count(prompt_details.get("cache_write_tokens"))
        return (
            _count(prompt),
            cached,
            _count(completion),
            _count(completion_details.get("reasoning_tokens")) if completion_details is not None else 0,
            cache_write,
        )
    except (TypeError, AttributeError):
        return None


# What the reader says of one data event.
FORWARD, WITHHOLD_USAGE, TERMINAL = 0, 1, 2
# What the framer does with the run of passed-on bytes at a dispatched block: KEEP it going (the block
# joins the run); CUT the run before the block and drop the block (a withheld usage chunk); or cut it
# before the block and start a HOLD run at the block (the first [DONE] of a stream not held yet). After
# a CUT or a HOLD every run goes to the tail.
KEEP, CUT, HOLD = 0, 1, 2


class PyStreamTap:
    """The stream tap in plain Python; same interface and results as ``weir._native.StreamTap``.

    ``parse="scan"`` parses (orjson) only the events in which a regex finds a usage object;
    ``parse="json"`` parses every data event. Usage is read from the top-level ``usage`` and
    ``choices`` keys of the parsed chunk (the Rust tap takes the first such key in the document;
    on real streams, where they only occur at the top level, the two agree).

    Framing: the line reader finds line ends with ``bytes.find`` (CR, LF, CRLF; a CR at the end of
    the input waits for the next byte) and resumes where it stopped. While the input holds no CR,
    a faster path (``lf_fast_path``) finds whole blocks with one ``find(b"\\n\\n")`` each and
    reads a one-line ``data:`` block without splitting it; a CR, the first block of the stream
    (BOM) and the end of the stream go through the line reader.

    Holding: blocks pass in contiguous runs of the input, sliced once per run. A withheld usage
    chunk ends a run (its data is kept in ``usage_data``); so does the first ``[DONE]`` block, which
    starts the next one. From the first of the two on, runs go to the tail (``_held``) instead of
    the output, so that the tail holds every later block, raw, except further usage chunks.
    """

    __slots__ = (
        "_data",
        "_event",
        "_failed",
        "_held",
        "_holding",
        "_inspect",
        "_lf_fast_path",
        "_lf_mode",
        "_line_start",
        "_max_line",
        "_pending",
        "_search",
        "_stream_start",
        "complete",
        "data_events",
        "usage",
        "usage_data",
    )

    def __init__(self, parse: str = "scan", max_line_bytes: int = 1 << 20, lf_fast_path: bool = True) -> None:
        if parse not in ("scan", "json"):
            raise ValueError(f"unknown parse mode: {parse!r}")
        self._inspect = self._inspect_scan if parse == "scan" else self._inspect_json
        self._max_line = max_line_bytes
        self._lf_fast_path = lf_fast_path
        self._failed: ValueError | None = None
        self.usage: Usage | None = None
        self.usage_data: bytes | None = None
        self._holding = False  # a usage chunk or [DONE] was seen: every later run goes to _held
        self._held: list[bytes | bytearray] = []  # the tail, in pieces
        self.complete = False
        self.data_events = 0
        self._reset()

    def _reset(self) -> None:
        self._pending = bytearray()  # input of the current, incomplete block
        self._lf_mode = False  # reading blocks with the LF-only fast path
        # Line reader: offset of the first line not interpreted yet, and where the search for the
        # next line end resumes (no CR or LF in between). Fast path: _line_start is 0 and no blank
        # line starts before _search.
        self._line_start = 0
        self._search = 0
        self._stream_start = True
        self._data: list[bytes | bytearray] = []  # data line values of the current block
        self._event: bytes | bytearray | None = None

    # -- public

    @property
    def tail(self) -> bytes:
        """The raw blocks held after the usage chunk, and the ``[DONE]`` block; empty when nothing is held."""
        return b"".join(self._held)

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to forward now: the blocks completed by ``chunk``, minus held-back ones."""
        if self._failed is not None:
            raise self._failed
        if not chunk:
            return b""
        pending = self._pending
        if pending:
            pending += chunk
            buf: bytes | bytearray = pending
        else:
            buf = chunk  # nothing held back: read the chunk itself, keep only its tail
        if self._lf_mode:
            if b"\r" in chunk:  # (the pending bytes are CR-free) read this block line by line
                self._lf_mode = False
                self._line_start = self._search = 0
        elif (
            self._lf_fast_path
            and self._line_start == 0
            and not self._stream_start
            and buf.find(b"\r", self._search) < 0
        ):
            self._lf_mode = True  # no LF before _search either, so no blank line starts there
        consumed, out = self._run_lf(buf) if self._lf_mode else self._run(buf, False)
        if buf is chunk:
            if consumed < len(chunk):
                pending += chunk[consumed:] if consumed else chunk
        else:
            del pending[:consumed]
        self._line_start -= consumed
        self._search -= consumed
        return out

    def finish(self) -> bytes:
        """What is left at the end of the stream, under the same rules; resets the framer."""
        if self._failed is not None:
            raise self._failed
        if self._lf_mode:
            self._line_start = self._search = 0
        _, out = self._run(self._pending, True)
        self._reset()
        return out

    # -- framing

    def _too_long(self) -> ValueError:
        self._pending = bytearray()
        self._failed = ValueError(f"SSE line longer than max_line_bytes ({self._max_line} bytes)")
        return self._failed

    def _run(self, buf: bytes | bytearray, eof: bool) -> tuple[int, bytes]:
        """The line reader. Interprets the complete lines of ``buf`` (which starts at the current
        block); returns the end of the last complete block and the bytes to forward."""
        n = len(buf)
        max_line = self._max_line
        line_start = self._line_start
        search = self._search
        data = self._data
        block_start = 0
        run_start = 0  # start of the current run of passed-on blocks
        parts: list[bytes | bytearray] = []
        runs = self._held if self._holding else parts  # where the current run goes
        lf = buf.find(b"\n", search)  # the next LF, reused until a line end passes it
        while True:
            cr = buf.find(b"\r", search) if lf < 0 else buf.find(b"\r", search, lf)
            if cr >= 0:
                eol = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1] == 10 else cr + 1
                elif eof:
                    nxt = cr + 1
                else:  # a CR as the last byte: wait to see whether an LF follows
                    search = cr
                    if cr - line_start > max_line:
                        raise self._too_long()
                    break
            elif lf >= 0:
                eol = lf
                nxt = lf + 1
            else:
                search = n
                if n - line_start > max_line:
                    raise self._too_long()
                break
            if eol - line_start > max_line:
                raise self._too_long()
            if 0 <= lf < nxt:
                lf = buf.find(b"\n", nxt)

            if self._stream_start:
                self._stream_start = False
                if buf.startswith(_BOM, line_start, eol):
                    line_start += 3
            if line_start == eol:  # blank line: the block is complete
                if data and (cut := self._dispatch()):
                    if run_start < block_start:  # close the run of passed-on blocks
                        runs.append(buf[run_start:block_start])
                    runs = self._held
                    run_start = nxt if cut == CUT else block_start
                data.clear()
                self._event = None
                block_start = nxt
            elif buf.startswith(b"data:", line_start):
                value = line_start + 5
                if value < eol and buf[value] == 32:
                    value += 1
                data.append(buf[value:eol])
            elif buf[line_start] != 58:  # not a comment
                self._field(buf, line_start, eol, data)
            line_start = search = nxt

        if eof and block_start < n:
            if line_start < n:  # a last line without terminator
                if self._stream_start and buf.startswith(_BOM, line_start):
                    line_start += 3
                self._stream_start = False
                if line_start < n and buf[line_start] != 58:
                    self._field(buf, line_start, n, data)
            if data and (cut := self._dispatch()):
                if run_start < block_start:
                    runs.append(buf[run_start:block_start])
                runs = self._held
                run_start = n if cut == CUT else block_start
            block_start = line_start = search = n

        if run_start < block_start:
            runs.append(buf[run_start:block_start])
        self._line_start = line_start
        self._search = search
        if len(parts) == 1 and type(parts[0]) is bytes:
            return block_start, parts[0]  # typically the whole chunk, not copied
        return block_start, b"".join(parts)

    def _run_lf(self, buf: bytes | bytearray) -> tuple[int, bytes]:
        """The fast path for CR-free input: a block ends at the first ``\\n\\n``."""
        n = len(buf)
        max_line = self._max_line
        start = 0  # start of the current block
        search = self._search
        run_start = 0
        parts: list[bytes | bytearray] = []
        runs = self._held if self._holding else parts
        while start < n:
            if buf[start] == 10:  # a blank line opening a block is a block of its own
                start += 1
                continue
            blank = buf.find(b"\n\n", search if search > start else start)
            if blank < 0:
                break
            end = blank + 2
            if buf.startswith(b"data:", start) and buf.find(b"\n", start, blank) < 0:
                if blank - start > max_line:
                    raise self._too_long()
                value = start + 5
                if value < blank and buf[value] == 32:
                    value += 1
                data: bytes | bytearray | None = buf[value:blank]
            else:
                data = self._block_data(buf, start, blank)
            if data is not None:
                if type(data) is not bytes:
                    data = bytes(data)
                cut = self._take(data)
                if cut:
                    if run_start < start:
                        runs.append(buf[run_start:start])
                    runs = self._held
                    run_start = end if cut == CUT else start
            start = end
        if n - start > max_line:  # the unfinished last line may be too long
            last_lf = buf.rfind(b"\n", start)
            if n - (last_lf + 1 if last_lf >= 0 else start) > max_line:
                raise self._too_long()
        if run_start < start:
            runs.append(buf[run_start:start])
        self._line_start = start
        self._search = n - 1 if n > start and buf[n - 1] == 10 else n
        if len(parts) == 1 and type(parts[0]) is bytes:
            return start, parts[0]
        return start, b"".join(parts)

    def _block_data(self, buf: bytes | bytearray, start: int, end: int) -> bytes | None:
        """The data of the LF-only block ``buf[start:end]`` (no blank line in it), or None."""
        data: list[bytes | bytearray] = []
        at = start
        while at < end:
            eol = buf.find(b"\n", at, end)
            if eol < 0:
                eol = end
            if eol - at > self._max_line:
                raise self._too_long()
            if buf[at] != 58:  # not a comment
                self._field(buf, at, eol, data)
            at = eol + 1
        if not data:
            return None
        return bytes(data[0]) if len(data) == 1 else b"\n".join(data)

    def _field(self, buf: bytes | bytearray, start: int, end: int, data: list[bytes | bytearray]) -> None:
        """One field line ``buf[start:end]`` (not blank, not a comment)."""
        colon = buf.find(b":", start, end)
        if colon < 0:
            name = buf[start:end]
            value = end
        else:
            name = buf[start:colon]
            value = colon + 1
            if value < end and buf[value] == 32:
                value += 1
        if name == b"data":
            data.append(buf[value:end])
        elif name == b"event":
            self._event = buf[value:end]  # not used by the OpenAI chat reader

    def _dispatch(self) -> int:
        """Hands the event of the line reader's block to the reader: KEEP, CUT or HOLD (see ``_take``)."""
        lines = self._data
        data = lines[0] if len(lines) == 1 else b"\n".join(lines)
        return self._take(data if type(data) is bytes else bytes(data))

    def _take(self, data: bytes) -> int:
        """What becomes of the block of a data event: KEEP (it stays in the current run: passed on,
        or held if holding), CUT (withheld usage chunk: the run ends before it, the block is dropped)
        or HOLD (the first [DONE] before any holding: the run ends before it and the next run, held,
        starts with it). After a CUT or a HOLD every run goes to ``_held``."""
        disposition = self._inspect(data)
        if disposition == FORWARD:
            self.data_events += 1
            return KEEP
        if disposition == WITHHOLD_USAGE:
            self.usage_data = data
            self._holding = True
            return CUT
        self.complete = True
        if not self._holding:
            self._holding = True
            return HOLD
        return KEEP  # a [DONE] while holding stays in the held run

    # -- the OpenAI chat reader

    def _inspect_scan(self, data: bytes) -> int:
        if data.strip(_DONE_STRIP) == b"[DONE]":
            return TERMINAL
        if _USAGE_OBJECT.search(data) is None:
            return FORWARD
        return self._read_usage(data)

    def _inspect_json(self, data: bytes) -> int:
        if data.strip(_DONE_STRIP) == b"[DONE]":
            return TERMINAL
        return self._read_usage(data)

    def _read_usage(self, data: bytes) -> int:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return FORWARD
        if type(chunk) is not dict:
            return FORWARD
        usage = usage_of(chunk.get("usage"))
        if usage is None:
            return FORWARD
        self.usage = usage
        return WITHHOLD_USAGE if chunk.get("choices") == [] else FORWARD


# ----------------------------------------------------------------------------- inputs


def fixture_blocks(stream: bytes) -> list[bytes]:
    """The blocks of an LF-only stream, each with its blank line."""
    assert b"\r" not in stream and stream.endswith(b"\n\n")
    return [block + b"\n\n" for block in stream[:-2].split(b"\n\n")]


def long_stream(blocks: list[bytes], content_chunks: int) -> tuple[bytes, Usage]:
    """``content_chunks`` content chunks cycled from the fixture's, then its usage chunk (with the
    completion count patched to match) and ``[DONE]``."""
    *content, usage_block, done = blocks
    assert b'"choices":[]' in usage_block and done == b"data: [DONE]\n\n"
    body = [content[0]] + [content[1 + i % (len(content) - 1)] for i in range(content_chunks - 1)]
    old = b'"completion_tokens":64,"total_tokens":100'
    assert old in usage_block, "fixture usage changed; update long_stream()"
    patched = usage_block.replace(
        old, b'"completion_tokens":%d,"total_tokens":%d' % (content_chunks, 36 + content_chunks)
    )
    return b"".join([*body, patched, done]), (36, 0, content_chunks, 0, 0)


def network_pieces(stream: bytes, rng: random.Random, low: int = 1, high: int = 1500) -> list[bytes]:
    pieces = []
    at = 0
    while at < len(stream):
        size = rng.randint(low, high)
        pieces.append(stream[at : at + size])
        at += size
    return pieces


def random_splits(stream: bytes, rng: random.Random, cuts: int) -> list[bytes]:
    bounds = [0, *sorted(rng.randint(0, len(stream)) for _ in range(cuts)), len(stream)]
    return [stream[a:b] for a, b in pairwise(bounds)]


# ----------------------------------------------------------------------------- implementations

Tap = Any  # StreamTap or PyStreamTap: feed(), finish(), usage, usage_data, tail, complete, data_events

IMPLEMENTATIONS: dict[str, Callable[[], Tap]] = {
    "rust": lambda: StreamTap("openai_chat"),
    "python-scan": lambda: PyStreamTap("scan"),
    "python-json": lambda: PyStreamTap("json"),
    # The same without the LF-only fast path (line reader only); not timed unless asked for.
    "python-scan-lines": lambda: PyStreamTap("scan", lf_fast_path=False),
    "python-json-lines": lambda: PyStreamTap("json", lf_fast_path=False),
}
DEFAULT_VARIANTS = ["rust", "python-scan", "python-json"]

# Small streams for the edge cases of the framing rules and the reader, checked at every split.
EDGE_STREAMS = [
    b"\ndata: [DONE]\n\n",
    b"\xef\xbb\xbfdata: {}\n\n: ping\n\n",
    b"data: a\r\rdata: b\n\ndata: c\r\n\r\ndata:d\r\ndata:  e\r\n\n",
    b'data: {"choices":[{"delta":{}}], "usage" : {"prompt_tokens":5,"completion_tokens":1}}\n\n'
    b': ping\n\n\n\ndata: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,'
    b'"completion_tokens_details":{"reasoning_tokens":2}}}\n\n\n: x\ndata: [DONE]\n\n',
    b"event: a\nevent: b\ndata\n\ndata:\ndata:\n\nData: no\nretry: 5\nid: 9\n\n",
    b'data: {"choices":[],\ndata: "usage":{"prompt_tokens":7}}\n\ndata: [DONE]',
    b'data: {"choices":[],"usage":{"prompt_tokens":7}}\n\ndata: [DONE]\r',
    b'data: {"choices":[],"usage":null,"prompt_filter_results":[]}\n\ndata: b\r\n\r\ndata: c\n\n',
    b'data: hello\n\ndata: [1,2]\n\ndata: {"usage":{"prompt_tokens":"many"}}\n\ndata: [DONE] \n\n',
    # Held after the usage chunk: a comment, a late content chunk, blank lines, a second usage chunk
    # (dropped, the last one kept), [DONE] and blocks after it; cache writes present and null.
    b'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,'
    b'"prompt_tokens_details":{"cached_tokens":4,"cache_write_tokens":3}}}\n\n: late\n\n'
    b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n\n\ndata: {"choices":[],"usage":{"prompt_tokens":9,'
    b'"completion_tokens":3,"prompt_tokens_details":{"cache_write_tokens":null}}}\r\n\r\n'
    b"data: [DONE]\n\ndata: after\n\n: bye\n",
    # Held from [DONE] on, a usage chunk after it dropped; the second [DONE] stays in the tail.
    b'data: a\n\n: ping\n\ndata: [DONE]\n\n\ndata: {"choices":[],"usage":{"completion_tokens":1,'
    b'"prompt_tokens_details":{"cache_write_tokens":2.5}}}\n\ndata: [DONE]\n\ndata: b',
    # Cut short: no [DONE], nothing held (the last event is "[DON").
    b'data: {"choices":[{"delta":{}}],"usage":{"prompt_tokens":3,"prompt_tokens_details":'
    b'{"cache_write_tokens":-1}}}\n\ndata: [DON',
]


def tap_outcome(make: Callable[[], Tap], chunks: Sequence[bytes]) -> tuple[Any, ...]:
    tap = make()
    forwarded = b"".join([tap.feed(chunk) for chunk in chunks]) + tap.finish()
    return forwarded, tap.usage, tap.usage_data, tap.tail, tap.complete, tap.data_events


def verify(scenarios: list[Scenario], rng: random.Random) -> int:
    """Asserts that every Python tap gives exactly the Rust tap's outcome (forwarded bytes, usage,
    usage data, tail, complete, data events); returns the number of (input, chunking) cases."""
    cases: list[tuple[str, list[bytes]]] = []
    for s in scenarios:
        whole = b"".join(s.chunks)
        cases += [(s.name, s.chunks), (f"{s.name}/whole", [whole])]
        forwarded, usage, usage_data, tail, complete, _ = tap_outcome(IMPLEMENTATIONS["rust"], [whole])
        assert usage == s.usage and complete and tail == b"data: [DONE]\n\n", s.name
        assert forwarded + b"data: " + (usage_data or b"") + b"\n\n" + tail == whole, s.name
    for path in sorted(TEST_STREAMS.glob("*.sse")):
        stream = path.read_bytes()
        cases += [
            (f"{path.stem}/whole", [stream]),
            (f"{path.stem}/bytes", [stream[i : i + 1] for i in range(len(stream))]),
        ]
        cases += [(f"{path.stem}/split{k}", random_splits(stream, rng, rng.randint(1, 12))) for k in range(30)]
    for k, stream in enumerate(EDGE_STREAMS):
        cases += [(f"edge{k}/bytes", [stream[i : i + 1] for i in range(len(stream))])]
        cases += [(f"edge{k}/split{i}", [stream[:i], stream[i:]]) for i in range(len(stream) + 1)]
    for name, chunks in cases:
        expected = tap_outcome(IMPLEMENTATIONS["rust"], chunks)
        for impl, make in IMPLEMENTATIONS.items():
            got = tap_outcome(make, chunks)
            assert got == expected, f"{impl} differs from rust on {name}: {got} != {expected}"
    # Both refuse a line over max_line_bytes.
    for impl, make in [("rust", lambda: StreamTap("openai_chat", 16)), ("python", lambda: PyStreamTap("scan", 16))]:
        tap = make()
        tap.feed(b"data: short\n\n")
        try:
            tap.feed(b"data: " + b"x" * 11)
        except ValueError:
            continue
        raise AssertionError(f"{impl}: no error for a long line")
    return len(cases)


# ----------------------------------------------------------------------------- timing


class Scenario:
    def __init__(self, name: str, description: str, chunks: list[bytes], usage: Usage | None) -> None:
        self.name = name
        self.description = description
        self.chunks = chunks
        self.usage = usage
        stream = b"".join(chunks)
        self.bytes = len(stream)
        framer = SseFramer()
        self.events = len(framer.feed(stream) + framer.finish())  # data events, [DONE] included


def run_stream(make: Callable[[], Tap], chunks: Sequence[bytes], loops: int) -> float:
    """Seconds for ``loops`` complete streams (fresh tap, every chunk fed, finish, usage read)."""
    start = time.perf_counter()
    for _ in range(loops):
        tap = make()
        feed = tap.feed
        for chunk in chunks:
            feed(chunk)
        tap.finish()
        _ = tap.usage  # read, as the gateway does
    return time.perf_counter() - start


def calibrate(fn: Callable[[int], float], target: float) -> int:
    """Loops per repeat so that one repeat takes about ``target`` seconds."""
    loops = 1
    while True:
        elapsed = fn(loops)
        if elapsed >= target / 10 or loops >= 1 << 24:
            return max(1, round(loops * target / max(elapsed, 1e-9)))
        loops *= 10


def measure(fns: dict[str, Callable[[int], float]], repeats: int, target: float) -> dict[str, dict[str, Any]]:
    """Median seconds per call of each function; the functions are interleaved within a repeat."""
    loops = {name: calibrate(fn, target) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            names = list(fns)
            names = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
            for name in names:
                samples[name].append(fns[name](loops[name]) / loops[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        name: {
            "median_s": statistics.median(s),
            "min_s": min(s),
            "max_s": max(s),
            "loops": loops[name],
            "samples_s": s,
        }
        for name, s in samples.items()
    }


def paired_ratio(samples: list[float], rust_samples: list[float]) -> float:
    """Median over repeats of (this / rust) within the same repeat: steadier than the ratio of the
    medians when the machine's speed drifts (the variants are interleaved within a repeat)."""
    return statistics.median(a / b for a, b in zip(samples, rust_samples, strict=True))


def bench_taps(scenarios: list[Scenario], variants: list[str], repeats: int, target: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in scenarios:
        fns = {
            impl: (lambda loops, make=IMPLEMENTATIONS[impl], chunks=s.chunks: run_stream(make, chunks, loops))
            for impl in variants
        }
        stats = measure(fns, repeats, target)
        rust = stats["rust"]["median_s"]
        for st in stats.values():
            st["mb_per_s"] = s.bytes / st["median_s"] / 1e6
            st["events_per_s"] = s.events / st["median_s"]
            st["us_per_stream"] = st["median_s"] * 1e6
            st["rust_speedup"] = st["median_s"] / rust
            st["rust_speedup_paired"] = paired_ratio(st["samples_s"], stats["rust"]["samples_s"])
        out[s.name] = {
            "description": s.description,
            "bytes": s.bytes,
            "chunks": len(s.chunks),
            "events": s.events,
            "results": stats,
        }
    return out


def bench_openai_usage(bodies: dict[str, bytes], repeats: int, target: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, body in bodies.items():
        expected = openai_usage(body)
        assert expected is not None
        assert usage_of(orjson.loads(body)["usage"]) == expected
        assert usage_of(json.loads(body)["usage"]) == expected

        def rust(loops: int, body: bytes = body) -> float:
            start = time.perf_counter()
            for _ in range(loops):
                openai_usage(body)
            return time.perf_counter() - start

        def orjson_usage(loops: int, body: bytes = body, loads: Callable[[bytes], Any] = orjson.loads) -> float:
            start = time.perf_counter()
            for _ in range(loops):
                loads(body)["usage"]
            return time.perf_counter() - start

        def orjson_tuple(loops: int, body: bytes = body, loads: Callable[[bytes], Any] = orjson.loads) -> float:
            start = time.perf_counter()
            for _ in range(loops):
                usage_of(loads(body)["usage"])
            return time.perf_counter() - start

        def json_tuple(loops: int, body: bytes = body, loads: Callable[[bytes], Any] = json.loads) -> float:
            start = time.perf_counter()
            for _ in range(loops):
                usage_of(loads(body)["usage"])
            return time.perf_counter() - start

        fns = {
            "openai_usage(body)": rust,
            'orjson.loads(body)["usage"]': orjson_usage,
            'usage_of(orjson.loads(body)["usage"])': orjson_tuple,
            'usage_of(json.loads(body)["usage"])': json_tuple,
        }
        stats = measure(fns, repeats, target)
        rust_s = stats["openai_usage(body)"]["median_s"]
        for st in stats.values():
            st["ns_per_call"] = st["median_s"] * 1e9
            st["mb_per_s"] = len(body) / st["median_s"] / 1e6
            st["rust_speedup"] = st["median_s"] / rust_s
            st["rust_speedup_paired"] = paired_ratio(st["samples_s"], stats["openai_usage(body)"]["samples_s"])
        out[name] = {"bytes": len(body), "usage": list(expected), "results": stats}
    return out


# ----------------------------------------------------------------------------- report


def host_info() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_1m": os.getloadavg()[0],
    }


def versions() -> dict[str, str | None]:
    v: dict[str, str | None] = {}
    for pkg in ["weir-gateway", "orjson"]:
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    return v


def speedups(st: dict[str, Any], rust: bool) -> str:
    if rust:
        return f"{'-':>7} {'-':>7}"
    return f"{st['rust_speedup']:>7.1f} {st['rust_speedup_paired']:>7.1f}"


def print_taps(taps: dict[str, Any]) -> None:
    header = f"{'input':<20} {'impl':<17} {'us/stream':>10} {'MB/s':>9} {'events/s':>12} {'rust x':>7} {'paired':>7}"
    print(header)
    print("-" * len(header))
    for name, s in taps.items():
        for impl, st in s["results"].items():
            print(
                f"{name:<20} {impl:<17} {st['us_per_stream']:>10.1f} {st['mb_per_s']:>9.1f}"
                f" {st['events_per_s']:>12,.0f} {speedups(st, impl == 'rust')}"
            )
        print(f"{'':<20} ({s['bytes']:,} bytes, {s['chunks']:,} chunks, {s['events']:,} data events)")
    print()


def print_usage(usage: dict[str, Any]) -> None:
    header = f"{'body':<26} {'call':<40} {'ns/call':>9} {'MB/s':>8} {'rust x':>7} {'paired':>7}"
    print(header)
    print("-" * len(header))
    for name, b in usage.items():
        for call, st in b["results"].items():
            rust = call.startswith("openai_usage")
            print(f"{name:<26} {call:<40} {st['ns_per_call']:>9.0f} {st['mb_per_s']:>8.1f} {speedups(st, rust)}")
        print(f"{'':<26} ({b['bytes']:,} bytes)")
    print()


# ----------------------------------------------------------------------------- main


def build_scenarios(seed: int, long_chunks: int) -> list[Scenario]:
    rng = random.Random(seed)
    stream = (FIXTURES / "chat_completion_stream.sse").read_bytes()
    blocks = fixture_blocks(stream)
    fixture_usage = (36, 0, 64, 0, 0)
    long, long_usage = long_stream(blocks, long_chunks)
    return [
        Scenario(
            "fixture-events",
            "chat_completion_stream.sse, one SSE block per chunk (upstream flushes per event)",
            blocks,
            fixture_usage,
        ),
        Scenario(
            "fixture-net",
            "chat_completion_stream.sse in pieces of 1..1500 bytes (seeded)",
            network_pieces(stream, rng),
            fixture_usage,
        ),
        Scenario(
            f"long-{long_chunks}-net",
            f"{long_chunks} content chunks cycled from the fixture + usage + [DONE], pieces of 1..1500 bytes",
            network_pieces(long, rng),
            long_usage,
        ),
        Scenario(
            "fixture-bytewise",
            "chat_completion_stream.sse fed one byte per chunk (worst case)",
            [stream[i : i + 1] for i in range(len(stream))],
            fixture_usage,
        ),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats per cell; the median is reported")
    ap.add_argument("--target", type=float, default=0.1, help="seconds per repeat (sets the loop count)")
    ap.add_argument("--seed", type=int, default=20261121, help="seed for the network-sized pieces")
    ap.add_argument("--long-chunks", type=int, default=2000, help="content chunks of the long stream")
    ap.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help="comma list of " + ",".join(IMPLEMENTATIONS) + " (rust is always included)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    args = ap.parse_args()
    variants = ["rust", *[v for v in args.variants.split(",") if v and v != "rust"]]
    unknown = [v for v in variants if v not in IMPLEMENTATIONS]
    if unknown:
        ap.error(f"unknown variants: {', '.join(unknown)}")

    wall = time.perf_counter()
    load_start = os.getloadavg()[0]
    scenarios = build_scenarios(args.seed, args.long_chunks)
    checked = verify(scenarios, random.Random(args.seed))
    python = ", ".join(name for name in IMPLEMENTATIONS if name != "rust")
    print(f"verified: {python} give the rust outcome on {checked} inputs/chunkings\n")

    taps = bench_taps(scenarios, variants, args.repeats, args.target)
    print_taps(taps)

    body = (FIXTURES / "chat_completion.json").read_bytes()
    document = orjson.loads(body)
    document["choices"][0]["message"]["content"] *= 128  # the same body with a ~17 KB answer
    bodies = {"chat_completion.json": body, "chat_completion.json x128": orjson.dumps(document)}
    usage = bench_openai_usage(bodies, args.repeats, args.target)
    print_usage(usage)

    wall_s = time.perf_counter() - wall
    now = dt.datetime.now()
    host = host_info()
    host["loadavg_1m_start"] = load_start
    host["loadavg_1m_end"] = host.pop("loadavg_1m")
    result = {
        "benchmark": "micro-sse",
        "timestamp": now.isoformat(timespec="seconds"),
        "command": "python " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]),
        "config": {
            "repeats": args.repeats,
            "target_s": args.target,
            "seed": args.seed,
            "long_chunks": args.long_chunks,
            "variants": variants,
            "statistic": "median of repeats; per repeat: seconds / loops",
            "gc": "disabled while timing",
        },
        "host": host,
        "versions": versions(),
        "verified_cases": checked,
        "stream_tap": taps,
        "openai_usage": usage,
        "wall_s": round(wall_s, 1),
    }
    print(f"wall: {wall_s:.1f} s, load average (1 min) {load_start:.2f} at start, {host['loadavg_1m_end']:.2f} at end")
    if not args.no_save:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"micro-sse-{now:%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
