"""Medians across rounds, tables, verdict lines, least-squares slopes, versions and the JSON writer."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from weirbench import RESULTS, ROOT

NUMERIC = [
    "rps",
    "p50_ms",
    "p99_ms",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "cpu_s_per_1k",
    "proxy_cpu_util",
    "load_core_util",
    "idle_proxies_cpu_s",
    "proxy_core_foreign_util",
    "load_core_foreign_util",
]


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def median(vals: list[float | None]) -> float | None:
    vs = [v for v in vals if v is not None]
    return statistics.median(vs) if vs else None


def aggregate(results: list[dict], scenario_order: list[str], target_order: list[str]) -> list[dict]:
    """One row per (scenario, target): medians over rounds; errors summed; peak RSS is the max."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["scenario"], r["target"]), []).append(r)
    rows = []
    for (scen, target), rs in groups.items():
        row: dict = {"scenario": scen, "target": target, "rounds": len(rs), "requests": sum(r["requests"] for r in rs)}
        for k in NUMERIC:
            row[k] = median([r.get(k) for r in rs])
        row["peak_rss_mb"] = max((r["peak_rss_mb"] for r in rs if r["peak_rss_mb"] is not None), default=None)
        row["errors"] = sum(r["errors"] for r in rs)
        row["contaminated"] = sum(1 for r in rs if r.get("contaminated"))
        detail: dict[str, int] = {}
        for r in rs:
            for k, v in r["error_detail"].items():
                detail[k] = detail.get(k, 0) + v
        row["error_detail"] = detail
        rows.append(row)
    so = {n: i for i, n in enumerate(scenario_order)}
    to = {n: i for i, n in enumerate(target_order)}
    rows.sort(key=lambda r: (so.get(r["scenario"], 99), to.get(r["target"], 99)))
    return rows


def paired_ratio(results: list[dict], scenario: str, num: str, den: str, key: str) -> float | None:
    """Median over rounds of results[num][key] / results[den][key], each ratio from the same round."""
    by_round: dict[int, dict[str, dict]] = {}
    for r in results:
        if r["scenario"] == scenario:
            by_round.setdefault(r["round"], {})[r["target"]] = r
    ratios = []
    for cells in by_round.values():
        a, b = cells.get(num), cells.get(den)
        if a and b and a.get(key) is not None and b.get(key):
            ratios.append(a[key] / b[key])
    return statistics.median(ratios) if ratios else None


def paired_delta(results: list[dict], scenario: str, num: str, den: str, key: str) -> float | None:
    by_round: dict[int, dict[str, dict]] = {}
    for r in results:
        if r["scenario"] == scenario:
            by_round.setdefault(r["round"], {})[r["target"]] = r
    deltas = []
    for cells in by_round.values():
        a, b = cells.get(num), cells.get(den)
        if a and b and a.get(key) is not None and b.get(key) is not None:
            deltas.append(a[key] - b[key])
    return statistics.median(deltas) if deltas else None


def table(rows: list[dict], ref_target: str = "aiohttp") -> str:
    ref = {r["scenario"]: r for r in rows if r["target"] == ref_target}
    head = (
        f"{'scenario':<14} {'target':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'TTFB50':>7} {'TTFB99':>7} "
        f"{'CPU-s/1k':>8} {'proxyCPU':>8} {'RSS MB':>6} {'err':>5} {'rps/bare':>8} {'cpu/bare':>8}"
    )
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last and r["scenario"] != last:
            lines.append("")
        last = r["scenario"]
        a = ref.get(r["scenario"])
        rr = r["rps"] / a["rps"] if a and a["rps"] and r["target"] != "direct" else None
        cr = r["cpu_s_per_1k"] / a["cpu_s_per_1k"] if a and a["cpu_s_per_1k"] and r["cpu_s_per_1k"] else None
        util = "-" if r["proxy_cpu_util"] is None else f"{r['proxy_cpu_util'] * 100:.0f}%"
        name = r["target"] + ("*" if r.get("contaminated") else "")
        lines.append(
            f"{r['scenario']:<14} {name:<8} {fmt(r['rps'], ',.0f'):>8} {fmt(r['p50_ms'], '.2f'):>8} "
            f"{fmt(r['p99_ms'], '.2f'):>8} {fmt(r['ttfb_p50_ms'], '.2f'):>7} {fmt(r['ttfb_p99_ms'], '.2f'):>7} "
            f"{fmt(r['cpu_s_per_1k'], '.3f'):>8} {util:>8} {fmt(r['peak_rss_mb'], '.0f'):>6} {r['errors']:>5} "
            f"{fmt(rr, '.2f'):>8} {fmt(cr, '.2f'):>8}"
        )
    return "\n".join(lines)


@dataclass
class Verdict:
    target: str
    status: str  # PASS / FAIL / N/A
    measured: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.target:<58} {self.measured}"


def verdict(target: str, ok: bool | None, measured: str) -> Verdict:
    return Verdict(target, "N/A" if ok is None else ("PASS" if ok else "FAIL"), measured)


def print_verdicts(verdicts: list[Verdict]) -> None:
    print("\nverdicts:")
    for v in verdicts:
        print("  " + v.line())


def least_squares(xs: list[float], ys: list[float]) -> float | None:
    """Slope of the least-squares line through (xs, ys)."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def tool_version(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return ((p.stdout + p.stderr).strip().splitlines() or [None])[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def versions() -> dict:
    v: dict[str, str | None] = {}
    for pkg in ["starlette", "granian", "aiohttp", "uvloop", "orjson", "psutil", "locust"]:
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    v["nginx"] = tool_version(["nginx", "-v"])
    v["wrk"] = tool_version(["wrk", "-v"])
    v["go"] = tool_version(["go", "version"])
    return v


def stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def write_json(kind: str, ts: str, doc: dict, out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{kind}-{ts}.json"
    doc = {
        "benchmark": kind,
        "timestamp": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        **doc,
    }
    if "verdicts" in doc:
        doc["verdicts"] = [asdict(v) if isinstance(v, Verdict) else v for v in doc["verdicts"]]
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
