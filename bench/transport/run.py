#!/usr/bin/env python3
"""Side-by-side upstream-transport benchmark for a Starlette + granian passthrough.

Targets (interleaved within each scenario, order rotated per scenario):
    direct               wrk -> nginx mock (the floor / mock capacity)
    httpx                httpx.AsyncClient, default transport (httpcore + anyio)
    httpx_aiohttp        httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport(...))
    httpx_aiohttp_tuned  same, with our own aiohttp session (auto_decompress=False,
                         read_bufsize 256 KiB, 256 KiB response read chunks)
    aiohttp              plain aiohttp.ClientSession

Scenarios: non-stream at c1/c16/c64, stream (50-chunk SSE) at c16/c64.

Pinning: proxy (granian + its worker) on CPU 0; nginx, wrk and this runner on CPU 1.
Per cell: a short wrk warm-up, then a measured wrk run; proxy-tree CPU seconds are
read (psutil, user+system of granian and its children) right before and after the
measured run, RSS of the tree is sampled every 100 ms.

    .venv/bin/python bench/transport/run.py                     # full run, ~6 min
    .venv/bin/python bench/transport/run.py --duration 3 --warmup 1 --variants httpx,aiohttp
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # bench/: the shared weirbench package

from mock_upstream import FIXTURES, UPSTREAM_KEY, NginxMock, free_port  # noqa: E402

from weirbench.compare import SCENARIOS, Scenario  # noqa: E402
from weirbench.loads import run_wrk  # noqa: E402
from weirbench.procs import Sampler, children_cpu, host_info, tree, tree_cpu, tree_hwm  # noqa: E402

PROXY_VARIANTS = ["httpx", "httpx_aiohttp", "httpx_aiohttp_tuned", "aiohttp"]
ALL_TARGETS = ["direct", *PROXY_VARIANTS]


# ----------------------------------------------------------------------------- proxy


@dataclass
class Proxy:
    variant: str
    upstream: str
    cpu: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logdir: Path, timeout: float = 20.0) -> None:
        granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or "granian"
        cmd = [
            "taskset", "-c", self.cpu,
            granian, "--interface", "asgi", "--workers", "1", "--loop", "uvloop",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--no-ws", "--log-level", "warning",
            "--working-dir", str(HERE), "proxy:app",
        ]  # fmt: skip
        env = dict(
            os.environ,
            WEIR_BENCH_VARIANT=self.variant,
            WEIR_BENCH_UPSTREAM=self.upstream,
            WEIR_BENCH_KEY=UPSTREAM_KEY,
        )
        self.log = logdir / f"granian-{self.variant}.log"
        with open(self.log, "wb") as log:
            # taskset execs granian, so proc.pid is granian's main process.
            self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"granian {self.variant} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.read().decode() == self.variant:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"granian {self.variant} did not become ready")

    def verify(self) -> None:
        for req_file, fixture in [
            ("request.json", "chat_completion.json"),
            ("request_stream.json", "chat_completion_stream.sse"),
        ]:
            req = urllib.request.Request(
                self.url + "/v1/chat/completions",
                data=(FIXTURES / req_file).read_bytes(),
                method="POST",
                headers={"Authorization": "Bearer sk-bench-client", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                assert r.status == 200, (self.variant, req_file, r.status)
            assert body == (FIXTURES / fixture).read_bytes(), f"{self.variant}: {req_file} body mismatch"

    def stop(self, timeout: float = 10.0) -> None:
        if not self.proc:
            return
        pids = [p.pid for p in tree(self.proc.pid)]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in reversed(pids):  # anything of ours still alive: kill by pid
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=timeout)
        self.proc = None


# ------------------------------------------------------------------------------- wrk


def measure(target: str, scen: Scenario, mock: NginxMock, proxies: dict[str, Proxy], args) -> dict:
    if target == "direct":
        path = "/stream/v1/chat/completions" if scen.stream else "/v1/chat/completions"
        url, auth, pid = mock.url + path, f"Bearer {UPSTREAM_KEY}", None
    else:
        proxy = proxies[target]
        url, auth, pid = proxy.url + "/v1/chat/completions", "Bearer sk-bench-client", proxy.proc.pid
    body = FIXTURES / ("request_stream.json" if scen.stream else "request.json")
    if args.warmup > 0:
        run_wrk(url, body, auth, scen.conns, args.warmup, args.load_cpu, args.wrk_timeout)
    sampler = Sampler(pid)
    cpu0 = tree_cpu(pid) if pid else 0.0
    ngx0 = tree_cpu(mock.pid)
    wrk0 = children_cpu()
    t0 = time.monotonic()
    sampler.start()
    res = run_wrk(url, body, auth, scen.conns, args.duration, args.load_cpu, args.wrk_timeout)
    wall = time.monotonic() - t0
    peak = sampler.stop()
    cpu = (tree_cpu(pid) - cpu0) if pid else None
    ngx = tree_cpu(mock.pid) - ngx0
    wrk_cpu = children_cpu() - wrk0
    secs = res["duration_us"] / 1e6
    n = res["requests"]
    errors = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_timeout"]
    return {
        "target": target,
        "scenario": scen.name,
        "stream": scen.stream,
        "connections": scen.conns,
        "requests": n,
        "seconds": round(secs, 3),
        "rps": round(n / secs, 1) if secs else 0.0,
        "p50_ms": res["p50_us"] / 1000,
        "p90_ms": res["p90_us"] / 1000,
        "p99_ms": res["p99_us"] / 1000,
        "p999_ms": res["p999_us"] / 1000,
        "max_ms": res["lat_max_us"] / 1000,
        "socket_errors": errors,
        "timeouts": res["err_timeout"],
        "non2xx": res["non2xx"],
        "bytes": res["bytes"],
        "proxy_cpu_s": round(cpu, 3) if cpu is not None else None,
        "cpu_s_per_1k": round(cpu / n * 1000, 4) if cpu is not None and n else None,
        "proxy_cpu_util": round(cpu / wall, 3) if cpu is not None else None,
        "peak_rss_mb": round(peak / 2**20, 1) if pid else None,
        "mock_cpu_s": round(ngx, 3),
        "wrk_cpu_s": round(wrk_cpu, 3),
        "load_core_util": round((ngx + wrk_cpu) / wall, 3),
        "wrk_stdout": res["stdout"],
    }


# --------------------------------------------------------------------------- report


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def aggregate(results: list[dict]) -> list[dict]:
    """Median over rounds per (scenario, target)."""
    keys = ["rps", "p50_ms", "p99_ms", "cpu_s_per_1k", "proxy_cpu_util", "peak_rss_mb", "load_core_util"]
    out = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["scenario"], r["target"]), []).append(r)
    for (scen, target), rs in groups.items():
        row = {"scenario": scen, "target": target, "rounds": len(rs)}
        for k in keys:
            vals = [r[k] for r in rs if r[k] is not None]
            row[k] = statistics.median(vals) if vals else None
        row["peak_rss_mb"] = max((r["peak_rss_mb"] for r in rs if r["peak_rss_mb"] is not None), default=None)
        row["errors"] = sum(r["socket_errors"] + r["non2xx"] for r in rs)
        out.append(row)
    order = {n: i for i, n in enumerate(SCENARIOS)}
    torder = {n: i for i, n in enumerate(ALL_TARGETS)}
    out.sort(key=lambda r: (order[r["scenario"]], torder[r["target"]]))
    return out


def table(rows: list[dict]) -> str:
    ref = {r["scenario"]: r for r in rows if r["target"] == "aiohttp"}
    head = (
        f"{'scenario':<14} {'target':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU-s/1k':>9} {'proxyCPU':>8} {'RSS MB':>7} {'err':>5} {'rps/aiohttp':>11} {'cpu/aiohttp':>11}"
    )
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last and r["scenario"] != last:
            lines.append("")
        last = r["scenario"]
        a = ref.get(r["scenario"])
        rr = r["rps"] / a["rps"] if a and a["rps"] and r["target"] != "direct" else None
        cr = (
            r["cpu_s_per_1k"] / a["cpu_s_per_1k"] if a and a["cpu_s_per_1k"] and r["cpu_s_per_1k"] is not None else None
        )
        util = "-" if r["proxy_cpu_util"] is None else f"{r['proxy_cpu_util'] * 100:.0f}%"
        lines.append(
            f"{r['scenario']:<14} {r['target']:<20} {fmt(r['rps'], ',.0f'):>9} {fmt(r['p50_ms'], '.2f'):>8} "
            f"{fmt(r['p99_ms'], '.2f'):>8} {fmt(r['cpu_s_per_1k'], '.3f'):>9} "
            f"{util:>8} "
            f"{fmt(r['peak_rss_mb'], '.0f'):>7} {r['errors']:>5} {fmt(rr, '.2f'):>11} {fmt(cr, '.2f'):>11}"
        )
    return "\n".join(lines)


def versions() -> dict:
    from importlib import metadata

    v = {}
    for pkg in ["starlette", "granian", "httpx", "httpcore", "anyio", "httpx-aiohttp", "aiohttp", "uvloop", "orjson"]:
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    for tool, flag in [("nginx", "-v"), ("wrk", "-v")]:
        try:
            p = subprocess.run([tool, flag], capture_output=True, text=True, timeout=5)
            v[tool] = (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            v[tool] = None
    return v


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per cell (wrk: whole seconds)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up seconds per cell (0 = none)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole matrix (medians reported)")
    ap.add_argument("--variants", default=",".join(ALL_TARGETS), help="comma list of " + ",".join(ALL_TARGETS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list of " + ",".join(SCENARIOS))
    ap.add_argument("--proxy-cpu", default="0")
    ap.add_argument("--load-cpu", default="1", help="CPU for nginx, wrk and this runner")
    ap.add_argument("--wrk-timeout", type=int, default=30, help="wrk per-request timeout, s")
    ap.add_argument("--budget", type=float, default=900.0, help="hard wall-clock budget, s; later cells skipped")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    targets = [t.strip() for t in args.variants.split(",") if t.strip()]
    scenarios = [SCENARIOS[s.strip()] for s in args.scenarios.split(",") if s.strip()]
    for t in targets:
        if t not in ALL_TARGETS:
            ap.error(f"unknown variant {t}")
    for tool in ["nginx", "wrk", "taskset"]:
        if not shutil.which(tool):
            ap.error(f"{tool} not found (apt-get install -y nginx wrk)")

    start = time.monotonic()
    try:
        os.sched_setaffinity(0, {int(c) for c in args.load_cpu.split(",")})
    except (OSError, ValueError):
        pass
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = Path(f"/tmp/weir-bench-transport-{stamp}")
    logdir.mkdir(parents=True, exist_ok=True)
    mock = NginxMock(cpu=args.load_cpu)
    proxies: dict[str, Proxy] = {}
    results: list[dict] = []
    skipped: list[tuple[str, str]] = []
    hwm: dict[str, float] = {}
    try:
        mock.start()
        mock.verify()
        print(f"mock: nginx {mock.url} (pid {mock.pid}, cpu {args.load_cpu})", flush=True)
        for v in targets:
            if v == "direct":
                continue
            p = Proxy(v, mock.url, args.proxy_cpu)
            proxies[v] = p
            p.start(logdir)
            p.verify()
            print(f"proxy: {v:<20} {p.url} (pid {p.proc.pid}, cpu {args.proxy_cpu}) verified", flush=True)
        total = args.rounds * len(scenarios) * len(targets)
        est = total * (args.duration + args.warmup + 0.5)
        print(f"{total} cells x ({args.warmup:g}s warm-up + {args.duration:g}s) ~ {est / 60:.1f} min", flush=True)
        i = 0
        for rnd in range(args.rounds):
            for si, scen in enumerate(scenarios):
                k = (si + rnd) % len(targets)
                order = targets[k:] + targets[:k]  # rotate so no target always runs first
                for target in order:
                    i += 1
                    if time.monotonic() - start + args.duration + args.warmup > args.budget:
                        skipped.append((scen.name, target))
                        continue
                    r = measure(target, scen, mock, proxies, args)
                    r["round"] = rnd
                    results.append(r)
                    print(
                        f"[{i:>3}/{total}] {scen.name:<14} {target:<20} {r['rps']:>9,.0f} req/s "
                        f"p50 {r['p50_ms']:7.2f} ms p99 {r['p99_ms']:8.2f} ms "
                        f"cpu/1k {fmt(r['cpu_s_per_1k'], '.3f'):>6} s  "
                        f"proxy {fmt(r['proxy_cpu_util'] and r['proxy_cpu_util'] * 100, '.0f'):>3}%  "
                        f"load-core {r['load_core_util'] * 100:.0f}%  "
                        f"err {r['socket_errors'] + r['non2xx']}",
                        flush=True,
                    )
        for v, p in proxies.items():
            if p.proc:
                hwm[v] = round(tree_hwm(p.proc.pid) / 2**20, 1)
    except KeyboardInterrupt:
        print("interrupted; writing partial results", file=sys.stderr)
    finally:
        for p in proxies.values():
            p.stop()
        mock.stop()

    rows = aggregate(results) if results else []
    print()
    print(table(rows))
    if skipped:
        print(f"\nskipped (budget): {skipped}")
    if hwm:
        print("\nlifetime peak RSS (VmHWM, granian tree), MB: " + ", ".join(f"{k} {v}" for k, v in hwm.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"transport-{stamp}.json"
    doc = {
        "benchmark": "transport",
        "timestamp": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "host": host_info(),
        "versions": versions(),
        "summary": rows,
        "vmhwm_mb": hwm,
        "skipped": skipped,
        "runs": results,
        "wall_s": round(time.monotonic() - start, 1),
        "granian_logs": str(logdir),
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({doc['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
