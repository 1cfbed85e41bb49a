#!/usr/bin/env python3
"""Microbenchmark: what admission costs in CPU per call (weir/limits/), and what its headers cost to render.

    in-process   InProcessLimiter.admit for a key without limits, with request windows (minute, hour, day), and with
                 every limit (the three, both token windows, max_concurrent, max_ips) plus the release that records
                 the call's tokens; 1,000 keys in turn, limits high enough that every call is admitted.
    headers      headers.render of a decision with request, daily and token windows and a warning, per family;
                 refusal() (the error with its headers) of a refused one.
    redis        RedisLimiter.admit (one EVALSHA per admission, the calls of one loop iteration in one pipeline) on
                 a loopback redis-server this script starts, at 1, 8 and 64 concurrent callers; "every limit + release"
                 is two round trips per call (admission, release; the releases of one key in one loop iteration
                 share one), on 1,000 keys in turn, and on one key (a busy key, as in bench/run compare). Beside this
                 process's CPU, the server's (INFO cpu).
    references   What the designs not chosen cost: the same admission script through redis-py's pooled client, one
                 EVALSHA per call and no batching (the obvious way to call Redis); and the simplest shared counter
                 one host's workers could use instead of Redis, one fixed window in SQLite (WAL, synchronous=OFF,
                 BEGIN IMMEDIATE), alone and with a second process taking the same lock.

CPU is getrusage(RUSAGE_SELF) user+sys per call, so a cell's figure includes the event loop's own work (syscalls,
wake-ups) for that call; medians of --repeats runs, cells interleaved within each run, GC off while timing, uvloop.

    .venv/bin/python bench/micro/limits.py            # ~40 s; table on stdout, JSON in bench/results/
    .venv/bin/python bench/micro/limits.py --quick    # ~10 s, noisier
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvloop
from redis.asyncio import Redis

from weir.limits import InProcessLimiter, Limits, RedisLimiter, refusal, render
from weir.limits.base import RPH
from weir.limits.decision import decide
from weir.limits.redis import ADMIT

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
KEYS = [f"key-{i}" for i in range(1000)]
BIG = 10**9
REQUESTS = Limits(requests_per_minute=BIG, requests_per_hour=BIG, requests_per_day=BIG)
EVERYTHING = Limits(
    requests_per_minute=BIG,
    requests_per_hour=BIG,
    requests_per_day=BIG,
    tokens_per_minute=BIG,
    tokens_per_day=BIG,
    max_concurrent=BIG,
    max_ips=BIG,
)

Cell = Callable[[int], Awaitable[None]]  # runs `n` calls


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def admissions(
    limiter: InProcessLimiter | RedisLimiter, limits: Limits, release: bool, concurrency: int, keys: int = 1000
) -> Cell:
    async def one(i: int) -> None:
        decision = await limiter.admit(KEYS[i % keys], limits, ip="192.0.2.7")
        assert decision.admitted and not decision.unchecked
        if release:
            await limiter.release(decision, 120)

    async def run(n: int) -> None:
        if concurrency == 1:
            for i in range(n):
                await one(i)
            return
        for start in range(0, n, concurrency):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + concurrency))))

    return run


def a_decision(fail: int = 0) -> Any:
    limits = Limits(requests_per_minute=60, requests_per_hour=500, requests_per_day=5000, tokens_per_minute=40_000)
    now = int(time.time() * 1000)
    return decide("key-1", limits, now, fail, None, 12, now - 30_000, now, 500 if fail else 400, 4100, 1500, now, 0, 0)


def headers_cell(family: str) -> Cell:
    decision = a_decision()

    async def run(n: int) -> None:
        for _ in range(n):
            render(decision, family)  # type: ignore[arg-type]

    return run


def refusal_cell() -> Cell:
    decision = a_decision(RPH)

    async def run(n: int) -> None:
        for _ in range(n):
            refusal(decision, "openai")

    return run


def pooled_evalsha(redis: Redis, concurrency: int) -> Cell:
    """The admission script through redis-py's client, one EVALSHA per call on a pooled connection."""
    args = (b"%d %d %d 0 0 0 0 30000" % (BIG, BIG, BIG), b"", b"", 0)

    async def one(i: int) -> None:
        base = f"weir:{{{KEYS[i % 1000]}}}:"
        keys = (base + "f", base + "rm", base + "tm", base + "c", base + "ip")
        await redis.evalsha(ADMIT.sha, 5, *keys, *args)

    async def run(n: int) -> None:
        for start in range(0, n, concurrency):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + concurrency))))

    return run


# --- SQLite: the simplest cross-process counter, for comparison ---------------------------------------------


def sqlite_open(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE IF NOT EXISTS w (k TEXT, win INTEGER, n INTEGER, PRIMARY KEY (k, win)) WITHOUT ROWID")
    return db


def sqlite_admit(db: sqlite3.Connection, key: str) -> bool:
    window = int(time.time() // 3600)
    db.execute("BEGIN IMMEDIATE")
    row = db.execute("SELECT n FROM w WHERE k = ? AND win = ?", (key, window)).fetchone()
    admitted = (row[0] if row else 0) < BIG
    if admitted:
        db.execute("INSERT INTO w VALUES (?, ?, 1) ON CONFLICT (k, win) DO UPDATE SET n = n + 1", (key, window))
    db.execute("COMMIT")
    return admitted


def sqlite_cell(path: str, contending: Any = None) -> Cell:
    """`contending`: an Event that keeps a second process admitting on the same file while this cell runs."""
    db = sqlite_open(path)

    async def run(n: int) -> None:
        if contending is not None:
            contending.set()
        try:
            for i in range(n):
                sqlite_admit(db, KEYS[i % 1000])
        finally:
            if contending is not None:
                contending.clear()

    return run


def sqlite_contender(path: str, contending: Any, stop: Any) -> None:
    """A second worker admitting on the same file while `contending` is set, until `stop`."""
    db = sqlite_open(path)
    i = 0
    while not stop.is_set():
        if not contending.wait(0.1):
            continue
        sqlite_admit(db, KEYS[i % 1000])
        i += 1


# --- a throwaway redis-server ---------------------------------------------------------------------------------


def start_redis(root: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


async def server_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# --- the run ------------------------------------------------------------------------------------------------


async def measure(cells: dict[str, tuple[Cell, int]], repeats: int, redis: Redis | None) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {name: {"cpu": [], "wall": [], "server": []} for name in cells}
    for cell, n in cells.values():  # warm up: connections, scripts loaded, key states made
        await cell(min(n, 2000))
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        for name, (cell, n) in cells.items():
            server = await server_cpu(redis) if redis is not None and name.startswith("redis") else None
            c0, w0 = cpu(), time.perf_counter()
            await cell(n)
            c1, w1 = cpu(), time.perf_counter()
            samples[name]["cpu"].append((c1 - c0) / n * 1e6)
            samples[name]["wall"].append((w1 - w0) / n * 1e6)
            if server is not None and redis is not None:
                samples[name]["server"].append((await server_cpu(redis) - server) / n * 1e6)
        gc.enable()
    return {
        name: {kind: statistics.median(values) for kind, values in figures.items() if values} | {"samples": figures}
        for name, figures in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per cell and run (Redis cells: a quarter)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.repeats = 5_000, 3
    n, n_redis = args.calls, max(1000, args.calls // 4)
    root = Path(tempfile.mkdtemp(prefix="weir-bench-limits-"))
    started = start_redis(root)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    ctx = multiprocessing.get_context("spawn")
    stop, contending = ctx.Event(), ctx.Event()
    sqlite_open(str(root / "shared.db")).close()
    contender = ctx.Process(target=sqlite_contender, args=(str(root / "shared.db"), contending, stop), daemon=True)
    contender.start()
    try:
        memory = InProcessLimiter()
        cells: dict[str, tuple[Cell, int]] = {
            "in-process, no limits": (admissions(memory, Limits(), False, 1), n),
            "in-process, minute+hour+day": (admissions(memory, REQUESTS, False, 1), n),
            "in-process, every limit + release": (admissions(memory, EVERYTHING, True, 1), n),
            "headers, openai": (headers_cell("openai"), n),
            "headers, anthropic": (headers_cell("anthropic"), n),
            "headers, gemini": (headers_cell("gemini"), n),
            "refusal (error + headers)": (refusal_cell(), n),
            "sqlite fixed window, 1 process": (sqlite_cell(str(root / "alone.db")), n),
            "sqlite fixed window, 2 processes": (sqlite_cell(str(root / "shared.db"), contending), n),
        }
        client: Redis | None = None
        shared: RedisLimiter | None = None
        if started is not None:
            url = f"redis://127.0.0.1:{started[1]}/0"
            shared = RedisLimiter(url, timeout=5.0)
            client = Redis.from_url(url)
            for conc in (1, 8, 64):
                cells[f"redis, minute+hour+day, {conc} at once"] = (admissions(shared, REQUESTS, False, conc), n_redis)
            for conc in (1, 64):
                every = admissions(shared, EVERYTHING, True, conc)
                cells[f"redis, every limit + release, {conc} at once"] = (every, n_redis)
            hot = admissions(shared, EVERYTHING, True, 64, keys=1)
            cells["redis, every limit + release, 64 at once, one key"] = (hot, n_redis)
            for conc in (1, 8, 64):
                cells[f"redis reference: pooled EVALSHA, {conc} at once"] = (pooled_evalsha(client, conc), n_redis)
            loop.run_until_complete(client.script_load(ADMIT.body))
        results = loop.run_until_complete(measure(cells, args.repeats, client))
        if shared is not None:
            loop.run_until_complete(shared.close())
        if client is not None:
            loop.run_until_complete(client.aclose())
    finally:
        stop.set()
        contender.join(5)
        if contender.is_alive():
            contender.kill()
        if started is not None:
            started[0].kill()
            started[0].wait()
        loop.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'cell':52s} {'cpu us':>8s} {'wall us':>8s} {'redis us':>9s}")
    for name, figures in results.items():
        server = f"{figures['server']:9.1f}" if "server" in figures else f"{'':9s}"
        print(f"{name:52s} {figures['cpu']:8.2f} {figures['wall']:8.2f} {server}")
    if started is None:
        print("(redis-server not found on PATH: the Redis cells were not run)")
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = RESULTS / f"micro-limits-{stamp}.json"
        load = os.getloadavg()
        meta = {"calls": n, "redis_calls": n_redis, "repeats": args.repeats, "loadavg": load}
        out.write_bytes(orjson.dumps({"meta": meta, "results": results}, option=orjson.OPT_INDENT_2))
        print(f"\nsaved {out.relative_to(ROOT)} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")


if __name__ == "__main__":
    main()
