"""Load generators: wrk with bench/transport/post.lua (non-stream JSON) and the Go `sseload` (streams).

Both return a dict with the same core keys: requests, seconds, rps, p50_ms, p99_ms, errors (total) and
error_detail; sseload adds ttfb_p50_ms / ttfb_p99_ms (time to the first `data:` line).
The Go programs (bench/loadgen) are built on first use into bench/.bin and rebuilt when a source is newer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from weirbench import BENCH, BIN, TRANSPORT

LOADGEN = BENCH / "loadgen"
GO_PROGRAMS = ("sseload", "pacedmock")


def go_binaries(force: bool = False) -> dict[str, Path]:
    """Build bench/loadgen's commands into bench/.bin (only when missing or older than a source file)."""
    out = {name: BIN / name for name in GO_PROGRAMS}
    sources = [p for p in LOADGEN.rglob("*") if p.suffix == ".go" or p.name in ("go.mod", "go.sum")]
    newest = max(p.stat().st_mtime for p in sources)
    if not force and all(b.exists() and b.stat().st_mtime >= newest for b in out.values()):
        return out
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain (`go`) is needed to build bench/loadgen")
    BIN.mkdir(parents=True, exist_ok=True)
    # No external modules: GOPROXY=off makes sure nothing is fetched; GOTOOLCHAIN=local uses the installed go.
    env = dict(os.environ, GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="0")
    subprocess.run(
        [go, "build", "-trimpath", "-o", str(BIN) + "/", "./..."], cwd=LOADGEN, env=env, check=True, timeout=300
    )
    for b in out.values():
        b.touch()
    return out


def run_wrk(
    url: str,
    body: Path,
    auth: str,
    conns: int,
    seconds: int,
    cpu: str | None,
    timeout_s: int = 30,
    script: Path = TRANSPORT / "post.lua",
) -> dict:
    """One wrk run (-t1, --latency). `auth` is the whole Authorization header value."""
    cmd = [
        "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
        f"--timeout={timeout_s}s", "-s", str(script), url,
    ]  # fmt: skip
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    env = dict(os.environ, WRK_BODY=str(body), WRK_AUTH=auth)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            res = json.loads(line[len("WRKJSON ") :])
            break
    else:
        raise RuntimeError(f"wrk produced no summary (rc={out.returncode}): {out.stdout}\n{out.stderr}")
    non2xx = 0
    for line in out.stdout.splitlines():
        if "Non-2xx or 3xx responses:" in line:
            non2xx = int(line.split(":")[1])
    res["non2xx"] = non2xx
    res["stdout"] = out.stdout
    return res


def wrk_load(url: str, body: Path, auth: str, conns: int, seconds: int, cpu: str | None, timeout_s: int) -> dict:
    """run_wrk, normalised to the suite's result keys."""
    r = run_wrk(url, body, auth, conns, seconds, cpu, timeout_s)
    secs = r["duration_us"] / 1e6
    detail = {
        "connect": r["err_connect"],
        "read": r["err_read"],
        "write": r["err_write"],
        "timeout": r["err_timeout"],
        "non2xx": r["non2xx"],
    }
    return {
        "tool": "wrk",
        "requests": r["requests"] - r["non2xx"],
        "seconds": round(secs, 3),
        "rps": round((r["requests"] - r["non2xx"]) / secs, 1) if secs else 0.0,
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["lat_max_us"] / 1000,
        "ttfb_p50_ms": None,
        "ttfb_p99_ms": None,
        "errors": sum(detail.values()),
        "error_detail": detail,
        "raw": r["stdout"],
    }


def sseload_cmd(
    url: str,
    bodies: list[Path],
    headers: dict[str, str],
    conns: int,
    seconds: float,
    timeout_s: float = 30,
    rate: float | None = None,
    progress_s: float | None = None,
    max_requests: int | None = None,
    stagger_ms: float | None = None,
) -> list[str]:
    cmd = [
        str(go_binaries()["sseload"]),
        "-url",
        url,
        "-c",
        str(conns),
        "-d",
        f"{seconds}s",
        "-timeout",
        f"{timeout_s}s",
    ]
    for b in bodies:
        cmd += ["-body", str(b)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if rate:
        cmd += ["-rate", str(rate)]
    if progress_s:
        cmd += ["-progress", f"{progress_s}s"]
    if max_requests:
        cmd += ["-n", str(max_requests)]
    if stagger_ms:
        cmd += ["-stagger", f"{stagger_ms:.3f}ms"]
    return cmd


def parse_sseload(stdout: str) -> dict:
    r = json.loads(stdout.strip().splitlines()[-1])
    ttfb, total = r["ttfb_ms"] or {}, r["total_ms"] or {}
    return {
        "tool": "sseload",
        "requests": r["requests"],
        "seconds": r["duration_s"],
        "rps": r["rps"],
        "p50_ms": total.get("p50"),
        "p90_ms": total.get("p90"),
        "p99_ms": total.get("p99"),
        "max_ms": total.get("max"),
        "ttfb_p50_ms": ttfb.get("p50"),
        "ttfb_p90_ms": ttfb.get("p90"),
        "ttfb_p99_ms": ttfb.get("p99"),
        "errors": r["error_total"],
        "error_detail": {k: v for k, v in r["errors"].items() if v},
        "status_codes": r["status_codes"],
        "events_per_response": r["events_per_response"],
        "sample_errors": r["sample_errors"],
        "raw": r,
    }


def sseload(
    url: str,
    bodies: list[Path],
    headers: dict[str, str],
    conns: int,
    seconds: float,
    cpu: str | None,
    timeout_s: float = 30,
    rate: float | None = None,
    stagger_ms: float | None = None,
) -> dict:
    cmd = sseload_cmd(url, bodies, headers, conns, seconds, timeout_s, rate, stagger_ms=stagger_ms)
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"sseload failed (rc={out.returncode}): {out.stderr[-2000:]}")
    return parse_sseload(out.stdout)
