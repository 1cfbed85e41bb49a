#!/usr/bin/env python3
"""Microbenchmark: what Weir's dialect translation costs per call, for every (client, upstream) pair.

A call whose upstream speaks another dialect than its client goes through the canonical form
(python/weir/pipeline/translate.py); this times exactly those conversion steps, offline, for the
4 x 4 pairs of openai_chat, anthropic_messages, openai_responses and gemini. Same-dialect pairs are
passthrough in production and are timed only as a reference.

    request    client request.to_canonical(body) + upstream request.from_canonical(req, target)
    response   upstream response.to_canonical(body) + client response.from_canonical(resp, reply)
    stream     a fresh SseFramer, upstream reader and client writer; each upstream SSE event fed as one
               chunk: framer.feed -> reader.feed -> writer.feed; then framer.finish, reader.finish and
               writer.finish(usage, cost), as the pipeline's _convert does (its usage tally, custom-tool
               restorer and sends are not timed)

The bodies are built from canonical objects by each dialect's own converters, so each is valid for
its dialect: a ~2 KB chat request (system prompt, 4 turns of history with a tool call and its result,
a new user question, 2 function tools), a ~0.9 KB text answer with usage, and a streamed answer of
200 text deltas then one function call with its arguments in 4 fragments, framed as the upstream
dialect frames it (that dialect's stream writer). Before timing, every pair's output is read back
with the client dialect's own readers and must carry the same conversation, text, tool call and
usage; a mismatch is an AssertionError.

A second table splits the work by dialect (request read / write, response read / write, stream
read = SseFramer + reader, stream write = writer): a pair costs about the client's side plus the
upstream's, so it shows which dialect makes a pair expensive.

Statistic: median over repeats of (ns / loops); the loop count per cell is calibrated to --target
seconds; the 48 pair cells and 24 side cells are interleaved within a repeat in a rotating order;
GC is collected before each repeat and disabled while timing.

    .venv/bin/python bench/micro/translate.py            # ~32 s; tables on stdout, JSON in bench/results/
    .venv/bin/python bench/micro/translate.py --quick    # ~4 s, noisier
    .venv/bin/python bench/micro/translate.py --profile openai_responses:gemini:stream   # cProfile one cell
    .venv/bin/python bench/micro/translate.py --profile gemini:request.write             # or one side
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
from msgspec import Raw
from sse import host_info  # bench/micro/sse.py, beside this script

from weir._native import SseFramer
from weir.canonical.content import Content, Text, ToolResult, ToolUse
from weir.canonical.request import Message, Request, Tool, ToolChoice
from weir.canonical.response import Response
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Finish,
    Start,
    StreamEvent,
    TextDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.base import Reply, Target
from weir.dialects.registry import DIALECTS, Dialect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"

NAMES = list(DIALECTS)  # openai_chat, anthropic_messages, openai_responses, gemini
SHORT = {"openai_chat": "chat", "anthropic_messages": "anthropic", "openai_responses": "responses", "gemini": "gemini"}
KINDS = ("request", "response", "stream")
MODEL = "bench-model"
MAX_SSE_LINE = 1 << 20  # server.max_sse_line_bytes default
COST_MICROCENTS = 123_456  # a client reply carries Weir's cost
USAGE = Usage(input=1900, cached=1024, output=231)  # what every dialect carries both ways

# ----------------------------------------------------------------------------- canonical bodies

SYSTEM = (
    "You are Atlas, the travel assistant of a small tour operator. Answer in the user's language, briefly and "
    "precisely. Use the tools when the answer depends on live data (weather, opening hours); never guess "
    "figures. When a tool fails, say so and offer an alternative. Prices are in euros, temperatures in Celsius, "
    "distances in kilometres. Do not recommend places that are closed on the requested day."
)
WEATHER_SCHEMA = (
    b'{"type":"object","properties":{"city":{"type":"string","description":"City name, e.g. Paris"},'
    b'"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"],"additionalProperties":false}'
)
SEARCH_SCHEMA = (
    b'{"type":"object","properties":{"query":{"type":"string","description":"What to look for"},'
    b'"max_results":{"type":"integer","minimum":1,"maximum":10}},"required":["query"]}'
)
TOOL_ID = "call_W7x2LqP9"
TOOL_ARGS = b'{"city": "Paris", "unit": "celsius"}'
TOOL_OUTPUT = '{"city":"Paris","temperature":18,"conditions":"partly cloudy","wind_kmh":12,"humidity":0.61}'
ANSWER = (
    "It is 18 °C and partly cloudy in Paris right now, with a light wind of 12 km/h: good weather for a walk. "
    "The riverside between the Louvre and Notre-Dame is about 3 km and mostly flat; the Tuileries garden is open "
    "until 9 pm. Take a light jacket for the evening, when it usually drops to around 12 °C."
)
QUESTION = (
    "Great, thanks! And what about tomorrow morning? We would like to visit the Musée d'Orsay at 9:30 and then "
    "walk to the Luxembourg garden. Is that realistic with two children, and should we book tickets in advance?"
)


def canonical_request() -> Request:
    """A chat request as a coding or travel agent sends it mid-conversation: ~2 KB in openai_chat."""
    weather = Tool(name="get_weather", description="Current weather for a city.", input_schema=Raw(WEATHER_SCHEMA))
    search = Tool(
        name="search_docs",
        description="Search the operator's guides (opening hours, prices, access) and return the best passages.",
        input_schema=Raw(SEARCH_SCHEMA),
    )
    history: list[Message] = [
        Message(role="user", content=[Text(text="What is the weather in Paris now? Is it good for a walk?")]),
        Message(
            role="assistant",
            content=[
                Text(text="Let me check the current weather in Paris."),
                ToolUse(id=TOOL_ID, name="get_weather", input=Raw(TOOL_ARGS)),
            ],
        ),
        Message(role="user", content=[ToolResult(tool_use_id=TOOL_ID, content=[Text(text=TOOL_OUTPUT)])]),
        Message(role="assistant", content=[Text(text=ANSWER)]),
        Message(role="user", content=[Text(text=QUESTION)]),
    ]
    return Request(
        model=MODEL,
        messages=history,
        system=[Text(text=SYSTEM)],
        tools=[weather, search],
        tool_choice=ToolChoice(mode="auto"),
        max_tokens=1024,
        temperature=0.7,
    )


def canonical_response() -> Response:
    text = ANSWER + " " + QUESTION.replace("?", ".")  # ~0.9 KB of answer
    return Response(id="up_0a1b2c3d4e5f", model=MODEL, content=[Text(text=text)], usage=USAGE)


WORDS = (
    "Tomorrow morning looks dry and mild in Paris, around 14 °C at nine and 19 °C by noon. The Musée d'Orsay "
    "opens at 9:30; book a timed ticket online, since the queue without one is often an hour."
).split(" ")
TOOL_FRAGMENTS = ['{"city": "Pa', 'ris", "unit', '": "celsi', 'us"}']


def canonical_stream(deltas: int = 200) -> list[StreamEvent]:
    """A streamed answer: `deltas` text deltas (about one token each), then one function call."""
    events: list[StreamEvent] = [
        Start(id="up_9f8e7d6c5b4a", model=MODEL, usage=Usage(input=USAGE.input, cached=USAGE.cached)),
        BlockStart(index=0, block=Text(text="")),
    ]
    events += [TextDelta(index=0, text=(" " if i else "") + WORDS[i % len(WORDS)]) for i in range(deltas)]
    events += [BlockStop(index=0), BlockStart(index=1, block=ToolUse(id=TOOL_ID, name="get_weather", input=Raw(b"{}")))]
    events += [ToolInputDelta(index=1, partial_json=part) for part in TOOL_FRAGMENTS]
    events += [BlockStop(index=1), UsageUpdate(usage=USAGE), Finish(stop_reason="tool_use")]
    return events


# ----------------------------------------------------------------------------- wire bodies per dialect


def request_reader(d: Dialect) -> Callable[[bytes], Request]:
    """The client dialect's request.to_canonical, as its endpoint calls it (Gemini: model from the URL)."""
    to_canonical: Callable[..., Request] = d.request.to_canonical
    if d.name == "gemini":
        return lambda body: to_canonical(body, model=MODEL, stream=False)
    return to_canonical


def sse_blocks(stream: bytes) -> list[bytes]:
    """A stream cut after every blank line (LF or CRLF framing): one SSE event per chunk."""
    blocks = [b for b in re.split(rb"(?<=\r\n\r\n)|(?<=\n\n)", stream) if b]
    assert b"".join(blocks) == stream
    return blocks


class Wire:
    """One dialect's bodies: what its clients send, what it answers as an upstream."""

    def __init__(self, d: Dialect, request: Request, response: Response, events: list[StreamEvent]) -> None:
        self.request = d.request.from_canonical(request, Target(model=MODEL)).body
        self.response = d.response.from_canonical(response, Reply(model=MODEL))
        writer = d.writer(MODEL, True)  # openai_chat: the include_usage stream Weir asks its upstreams for
        self.stream = sse_blocks(b"".join(writer.feed(ev) for ev in events) + writer.finish(USAGE, None))


class Corpus:
    """The canonical objects and every dialect's wire bodies built from them."""

    def __init__(self, deltas: int) -> None:
        self.request = canonical_request()
        self.response = canonical_response()
        self.events = canonical_stream(deltas)
        self.wires = {name: Wire(DIALECTS[name], self.request, self.response, self.events) for name in NAMES}


# ----------------------------------------------------------------------------- the timed steps


def request_step(client: Dialect, upstream: Dialect) -> Callable[[bytes], bytes]:
    read = request_reader(client)
    write = upstream.request.from_canonical
    target = Target(model=MODEL, default_max_tokens=4096, stream=False)
    return lambda body: write(read(body), target).body


def response_step(client: Dialect, upstream: Dialect) -> Callable[[bytes], bytes]:
    read = upstream.response.to_canonical
    write = client.response.from_canonical
    reply = Reply(model=MODEL, cost_microcents=COST_MICROCENTS)
    return lambda body: write(read(body), reply)


def stream_step(client: Dialect, upstream: Dialect) -> Callable[[list[bytes]], list[bytes]]:
    """One whole stream, the way pipeline/translate.py's _convert runs it; returns what the client gets."""

    def run(chunks: list[bytes]) -> list[bytes]:
        framer = SseFramer(MAX_SSE_LINE)
        reader = upstream.reader()
        writer = client.writer(MODEL, True)

        def convert(frames: list[tuple[str | None, bytes]], events: list[StreamEvent] | None = None) -> bytes:
            buf = bytearray()
            canonical = [ev for event, data in frames for ev in reader.feed(event, data)]
            canonical.extend(events or ())
            for ev in canonical:
                buf += writer.feed(ev)
            return bytes(buf)

        out = [convert(framer.feed(chunk)) for chunk in chunks]
        tail = convert(framer.finish(), reader.finish())
        out.append(tail + writer.finish(USAGE, COST_MICROCENTS))
        return out

    return run


# ----------------------------------------------------------------------------- verification


def conversation(req: Request) -> tuple[Any, ...]:
    """What must survive any translation of the benchmark request."""

    def block(b: Content) -> tuple[Any, ...]:
        if isinstance(b, Text):
            return ("text", b.text)
        if isinstance(b, ToolUse):
            return ("tool_use", b.name, orjson.loads(bytes(b.input)))
        if isinstance(b, ToolResult):
            return ("tool_result", [c.text for c in b.content if isinstance(c, Text)])
        return (type(b).__name__,)

    return (
        [t.text for t in req.system],
        [(m.role, [block(b) for b in m.content]) for m in req.messages],
        [(t.name, orjson.loads(bytes(t.input_schema or b"{}"))["required"]) for t in req.tools],
        req.max_tokens,
        req.temperature,
    )


def stream_outcome(d: Dialect, chunks: list[bytes]) -> tuple[Any, ...]:
    """A client stream read back with its dialect's own reader: text, tool calls, usage, stop reason."""
    framer = SseFramer(MAX_SSE_LINE)
    reader = d.reader()
    events = [ev for chunk in chunks for event, data in framer.feed(chunk) for ev in reader.feed(event, data)]
    events += [ev for event, data in framer.finish() for ev in reader.feed(event, data)] + reader.finish()
    text: list[str] = []
    calls: dict[int, list[Any]] = {}
    usage: Usage | None = None
    stop = None
    for ev in events:
        if isinstance(ev, TextDelta):
            text.append(ev.text)
        elif isinstance(ev, BlockStart) and isinstance(ev.block, ToolUse):
            calls[ev.index] = [
                ev.block.name,
                bytes(ev.block.input) if bytes(ev.block.input) not in (b"", b"{}") else b"",
            ]
        elif isinstance(ev, ToolInputDelta):
            calls[ev.index][1] += ev.partial_json.encode()
        elif isinstance(ev, UsageUpdate) or (isinstance(ev, Start) and ev.usage is not None):
            usage = ev.usage
        elif isinstance(ev, Finish):
            stop = ev.stop_reason
    tools = [(name, orjson.loads(args)) for name, args in calls.values()]
    usage3 = None if usage is None else (usage.input, usage.cached, usage.output)
    return "".join(text), tools, usage3, stop


def verify(corpus: Corpus) -> None:
    """Every pair's output, read back by the client dialect, carries what the canonical objects hold."""
    wires = corpus.wires
    want_conversation = conversation(corpus.request)
    first = corpus.response.content[0]
    want_text = first.text if isinstance(first, Text) else None
    want_stream = (
        "".join(ev.text for ev in corpus.events if isinstance(ev, TextDelta)),
        [("get_weather", orjson.loads(TOOL_ARGS))],
        (USAGE.input, USAGE.cached, USAGE.output),
        "tool_use",
    )
    for c in NAMES:
        client = DIALECTS[c]
        for u in NAMES:
            upstream = DIALECTS[u]
            pair = f"{c} -> {u}"
            egress = request_step(client, upstream)(wires[c].request)
            got = conversation(request_reader(upstream)(egress))
            assert got == want_conversation, f"{pair} request: {got} != {want_conversation}"
            body = response_step(client, upstream)(wires[u].response)
            resp = client.response.to_canonical(body)
            text = "".join(b.text for b in resp.content if isinstance(b, Text))
            assert text == want_text, f"{pair} response text: {text!r}"
            assert resp.usage == USAGE, f"{pair} response usage: {resp.usage}"
            got_stream = stream_outcome(client, stream_step(client, upstream)(wires[u].stream))
            assert got_stream == want_stream, f"{pair} stream: {got_stream} != {want_stream}"
        written = stream_outcome(client, sse_blocks(stream_write(client)(corpus.events)))
        assert written == want_stream, f"{c} writer: {written} != {want_stream}"


# ----------------------------------------------------------------------------- timing


Cell = tuple[str, str, str]  # (client, upstream, kind) for a pair; (dialect, "", side) for one side's step
SIDES = ("request.read", "request.write", "response.read", "response.write", "stream.read", "stream.write")


def stream_read(d: Dialect) -> Callable[[list[bytes]], list[StreamEvent]]:
    """An upstream stream into canonical events: SseFramer + the dialect's reader."""

    def run(chunks: list[bytes]) -> list[StreamEvent]:
        framer = SseFramer(MAX_SSE_LINE)
        reader = d.reader()
        out = [ev for chunk in chunks for event, data in framer.feed(chunk) for ev in reader.feed(event, data)]
        out += [ev for event, data in framer.finish() for ev in reader.feed(event, data)]
        return out + reader.finish()

    return run


def stream_write(d: Dialect) -> Callable[[list[StreamEvent]], bytes]:
    """Canonical events into a client stream: the dialect's writer."""

    def run(events: list[StreamEvent]) -> bytes:
        writer = d.writer(MODEL, True)
        buf = bytearray()
        for ev in events:
            buf += writer.feed(ev)
        return bytes(buf + writer.finish(USAGE, COST_MICROCENTS))

    return run


def side_step(d: Dialect, side: str, corpus: Corpus) -> tuple[Callable[[Any], Any], Any]:
    wire = corpus.wires[d.name]
    if side == "request.read":
        return request_reader(d), wire.request
    if side == "request.write":
        target = Target(model=MODEL, default_max_tokens=4096, stream=False)
        return (lambda req: d.request.from_canonical(req, target)), corpus.request
    if side == "response.read":
        return d.response.to_canonical, wire.response
    if side == "response.write":
        reply = Reply(model=MODEL, cost_microcents=COST_MICROCENTS)
        return (lambda resp: d.response.from_canonical(resp, reply)), corpus.response
    if side == "stream.read":
        return stream_read(d), wire.stream
    return stream_write(d), corpus.events


def timer(cell: Cell, corpus: Corpus) -> Callable[[int], int]:
    """A function of a loop count that runs the cell's step that many times and returns elapsed ns."""
    a, b, kind = cell
    step: Callable[[Any], Any]
    if not b:
        step, arg = side_step(DIALECTS[a], kind, corpus)
    elif kind == "request":
        step, arg = request_step(DIALECTS[a], DIALECTS[b]), corpus.wires[a].request
    elif kind == "response":
        step, arg = response_step(DIALECTS[a], DIALECTS[b]), corpus.wires[b].response
    else:
        step, arg = stream_step(DIALECTS[a], DIALECTS[b]), corpus.wires[b].stream

    def run(loops: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(loops):
            step(arg)
        return time.perf_counter_ns() - start

    return run


def calibrate(run: Callable[[int], int], target_ns: int) -> int:
    """Loops per repeat so that one repeat takes about the target."""
    loops = 1
    while True:
        elapsed = run(loops)
        if elapsed >= target_ns // 10 or loops >= 1 << 20:
            return max(1, round(loops * target_ns / max(elapsed, 1)))
        loops *= 10


def measure(runs: dict[Cell, Callable[[int], int]], repeats: int, target_s: float) -> dict[Cell, dict[str, Any]]:
    target_ns = int(target_s * 1e9)
    loops = {cell: calibrate(run, target_ns) for cell, run in runs.items()}
    samples: dict[Cell, list[float]] = {cell: [] for cell in runs}
    cells = list(runs)
    gc_was_enabled = gc.isenabled()
    try:
        for r in range(repeats):
            gc.collect()
            gc.disable()
            shift = r * len(cells) // repeats  # rotate the order: drift and warm-up spread over every cell
            for cell in cells[shift:] + cells[:shift]:
                samples[cell].append(runs[cell](loops[cell]) / loops[cell])
            if gc_was_enabled:
                gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        cell: {
            "median_ns": statistics.median(s),
            "min_ns": min(s),
            "max_ns": max(s),
            "loops": loops[cell],
            "samples_ns": s,
        }
        for cell, s in samples.items()
    }


def profile(cell: Cell, corpus: Corpus, seconds: float, top: int) -> None:
    run = timer(cell, corpus)
    loops = calibrate(run, int(seconds * 1e9))
    prof = cProfile.Profile()
    prof.runcall(run, loops)
    what = f"{cell[0]} -> {cell[1]} {cell[2]}" if cell[1] else f"{cell[0]} {cell[2]}"
    print(f"cProfile of {what}, {loops} calls (totals over every call):")
    pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(top)


# ----------------------------------------------------------------------------- report


def versions() -> dict[str, str | None]:
    v: dict[str, str | None] = {}
    for pkg in ["weir-gateway", "msgspec", "orjson"]:
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    return v


def print_sizes(wires: dict[str, Wire]) -> None:
    print("bodies as each dialect frames them (built by its own converters from the same canonical objects):\n")
    print("| dialect | request B | response B | stream B | stream events |")
    print("|---|---:|---:|---:|---:|")
    for name, w in wires.items():
        stream = sum(map(len, w.stream))
        print(f"| {name} | {len(w.request):,} | {len(w.response):,} | {stream:,} | {len(w.stream)} |")
    print()


def print_table(results: dict[Cell, dict[str, Any]], wires: dict[str, Wire]) -> None:
    print("median µs per call; stream: µs per upstream SSE event and per whole stream (events in brackets)\n")
    print("| client -> upstream | request µs | response µs | stream µs/event | stream µs (events) |")
    print("|---|---:|---:|---:|---:|")
    for c in NAMES:
        for u in NAMES:
            req, resp, stream = (results[(c, u, kind)]["median_ns"] / 1000 for kind in KINDS)
            events = len(wires[u].stream)
            same = " (same)" if c == u else ""
            print(
                f"| {SHORT[c]} -> {SHORT[u]}{same} | {req:,.1f} | {resp:,.1f} | {stream / events:,.2f} "
                f"| {stream:,.0f} ({events}) |"
            )
    print()


def print_sides(results: dict[Cell, dict[str, Any]], corpus: Corpus) -> None:
    print("each dialect's side of the work, median µs per call (a pair costs about client read + upstream write")
    print("for a request, upstream read + client write for an answer; stream: whole stream, µs/event in brackets)\n")
    print("| dialect | request read | request write | response read | response write | stream read | stream write |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in NAMES:
        us = {side: results[(name, "", side)]["median_ns"] / 1000 for side in SIDES}
        read_events, write_events = len(corpus.wires[name].stream), len(corpus.events)
        print(
            f"| {name} | {us['request.read']:,.1f} | {us['request.write']:,.1f} | {us['response.read']:,.1f} "
            f"| {us['response.write']:,.1f} | {us['stream.read']:,.0f} ({us['stream.read'] / read_events:.2f}) "
            f"| {us['stream.write']:,.0f} ({us['stream.write'] / write_events:.2f}) |"
        )
    print()


def parse_cell(text: str) -> Cell:
    parts = text.split(":")
    if len(parts) == 3 and parts[0] in DIALECTS and parts[1] in DIALECTS and parts[2] in KINDS:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2 and parts[0] in DIALECTS and parts[1] in SIDES:
        return parts[0], "", parts[1]
    raise argparse.ArgumentTypeError(
        f"want CLIENT:UPSTREAM:KIND (kinds {', '.join(KINDS)}) or DIALECT:SIDE (sides {', '.join(SIDES)}); "
        f"dialects {', '.join(NAMES)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9, help="timed repeats per cell; the median is reported")
    ap.add_argument("--target", type=float, default=0.045, help="seconds per repeat of one cell (sets the loops)")
    ap.add_argument("--quick", action="store_true", help="3 repeats of 0.015 s: a ~6 s look, noisier")
    ap.add_argument("--deltas", type=int, default=200, help="text deltas in the streamed answer")
    ap.add_argument(
        "--profile",
        type=parse_cell,
        metavar="CELL",
        help="cProfile one cell (CLIENT:UPSTREAM:KIND or DIALECT:SIDE) for about 1 s instead of the tables",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.target = 3, 0.015

    wall = time.perf_counter()
    load_start = os.getloadavg()[0]
    corpus = Corpus(args.deltas)
    wires = corpus.wires
    verify(corpus)
    print(f"verified: all {len(NAMES) ** 2} pairs carry the conversation, answer, tool call and usage\n")
    if args.profile:
        profile(args.profile, corpus, 1.0, 25)
        return 0
    print_sizes(wires)

    cells: list[Cell] = [(c, u, kind) for c in NAMES for u in NAMES for kind in KINDS]
    cells += [(name, "", side) for name in NAMES for side in SIDES]
    results = measure({cell: timer(cell, corpus) for cell in cells}, args.repeats, args.target)
    print_table(results, wires)
    print_sides(results, corpus)

    wall_s = time.perf_counter() - wall
    load_end = os.getloadavg()[0]
    print(f"wall: {wall_s:.1f} s, load average (1 min) {load_start:.2f} at start, {load_end:.2f} at end")
    if args.no_save:
        return 0
    now = dt.datetime.now()
    result = {
        "benchmark": "micro-translate",
        "timestamp": now.isoformat(timespec="seconds"),
        "command": "python " + " ".join([str(Path(sys.argv[0])), *sys.argv[1:]]),
        "config": {
            "repeats": args.repeats,
            "target_s": args.target,
            "deltas": args.deltas,
            "statistic": "median of repeats; per repeat: ns / loops",
            "gc": "collected before each repeat, disabled while timing",
        },
        "host": {**host_info(), "loadavg_1m_start": load_start, "loadavg_1m_end": load_end},
        "versions": versions(),
        "sizes": {
            name: {
                "request": len(w.request),
                "response": len(w.response),
                "stream": sum(map(len, w.stream)),
                "events": len(w.stream),
            }
            for name, w in wires.items()
        },
        "cells": {(f"{a}->{b}:{kind}" if b else f"{a}:{kind}"): r for (a, b, kind), r in results.items()},
        "wall_s": round(wall_s, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"micro-translate-{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
