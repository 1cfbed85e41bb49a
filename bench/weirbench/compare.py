"""`bench/run.py compare`: Weir, the bare Starlette+granian+aiohttp passthrough and LiteLLM, side by side.

One nginx mock (canned JSON, canned 50-chunk SSE stream) and one load generator serve every target; each proxy
runs one worker pinned to --proxy-cpu, the mock, the load generator and this runner share --load-cpu. All
proxies start once and stay up; within each scenario the targets run one after another (interleaved), with the
order rotated from one scenario (and round) to the next. Non-stream cells use wrk (post.lua); stream cells use
the Go sseload, which reads streams line by line and reports the time to the first `data:` line (TTFB).

Per cell: a warm-up, then a measured run. CPU-s/1k is the user+system CPU of the proxy's whole process tree
during the measured run per 1000 completed requests; RSS is the tree's peak summed RSS (sampled every 100 ms).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from weirbench import RESULTS
from weirbench.loads import go_binaries, sseload, wrk_load
from weirbench.procs import (
    Sampler,
    children_cpu,
    cpu_busy,
    host_info,
    pin_self,
    tree_cpu,
    tree_hwm,
    tree_remote_addresses,
)
from weirbench.report import (
    Verdict,
    aggregate,
    fmt,
    paired_delta,
    paired_ratio,
    print_verdicts,
    stamp,
    table,
    verdict,
    versions,
    write_json,
)
from weirbench.targets import (
    Bare,
    Direct,
    LiteLLM,
    NginxMock,
    Target,
    Weir,
    WeirBase,
    WeirLimits,
    WeirRedis,
    bodies,
    check_nonstream,
    check_stream,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    stream: bool
    conns: int


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("nonstream-c1", False, 1),
        Scenario("nonstream-c16", False, 16),
        Scenario("nonstream-c64", False, 64),
        Scenario("stream-c16", True, 16),
        Scenario("stream-c64", True, 64),
    ]
}
# weir-base: another build (targets.WeirBase); weir-limits, weir-redis: this build with rate limits on
TARGETS = ["direct", "weir", "aiohttp", "litellm", "weir-base", "weir-limits", "weir-redis"]
COST_PER_CALL_MICROCENTS = 4380  # fixture usage 36 in / 64 out at 0.15 / 0.60 USD per 1M tokens


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole matrix; medians are reported")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma list of " + ",".join(TARGETS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list of " + ",".join(SCENARIOS))
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per cell")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up seconds per cell")
    ap.add_argument("--litellm-duration", type=int, default=None, help="measured seconds of LiteLLM cells")
    ap.add_argument("--timeout", type=int, default=30, help="per-request timeout of the load generators, s")
    ap.add_argument("--budget", type=float, default=1800, help="wall-clock budget, s; later cells are skipped")
    add_noise_args(ap)
    ap.add_argument("--proxy-cpu", default="0", help="CPU of every proxy")
    ap.add_argument("--load-cpu", default="1", help="CPU of the mock, the load generator and this runner")
    ap.add_argument("--out", type=Path, default=RESULTS)


def add_noise_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--foreign-limit",
        type=float,
        default=0.10,
        help="a cell is contaminated when processes outside the benchmark kept the measured core busy more than "
        "this fraction of the time (the proxy core; for direct, the load core)",
    )
    ap.add_argument("--retries", type=int, default=2, help="re-measure a contaminated cell up to this many times")


def contamination(r: dict, limit: float) -> str | None:
    key = "proxy_core_foreign_util" if r["target"] != "direct" else "load_core_foreign_util"
    core = "proxy" if r["target"] != "direct" else "load"
    v = r.get(key)
    return f"{core} core {v * 100:.0f}% busy with other processes" if v is not None and v > limit else None


def measure_clean(fn, args: argparse.Namespace, time_left) -> dict:
    """Run fn() (one cell) until it is not contaminated by foreign load, at most 1 + --retries times;
    keep the cleanest attempt."""
    best = None
    attempts = 0
    tries = 1 + max(0, args.retries)
    for _ in range(tries):
        r = fn()
        attempts += 1
        r["contaminated"] = contamination(r, args.foreign_limit)
        key = "proxy_core_foreign_util" if r["target"] != "direct" else "load_core_foreign_util"
        if best is None or (r[key] or 0) < (best[key] or 0):
            best = r
        if not r["contaminated"] or attempts == tries or not time_left():
            break
        print(f"        {r['scenario']} {r['target']}: {r['contaminated']}; measuring again", flush=True)
    assert best is not None
    best["attempts"] = attempts
    return best


def parse_list(value: str, allowed: list[str] | dict, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for v in items:
        if v not in allowed:
            raise SystemExit(f"unknown {what} {v!r}; choose from {', '.join(allowed)}")
    return items


def measure_cell(
    target: Target,
    scenario: str,
    stream: bool,
    conns: int,
    body: Path,
    duration: int,
    warmup: int,
    args: argparse.Namespace,
    mock_pid: int | None,
    others: list[Target],
) -> dict:
    """Warm up, then one measured load run against `target`; CPU and RSS of its process tree around it."""
    url, headers = target.chat_url(stream), target.headers

    def load(seconds: int) -> dict:
        if stream:
            stagger, rate = getattr(args, "stagger_ms", None), getattr(args, "rate", None)
            return sseload(
                url, [body], headers, conns, seconds, args.load_cpu, args.timeout, rate=rate, stagger_ms=stagger
            )
        return wrk_load(url, body, headers["Authorization"], conns, seconds, args.load_cpu, args.timeout)

    if warmup > 0:
        load(warmup)
    pid = target.pid
    sampler = Sampler(pid)
    cpu0 = tree_cpu(pid) if pid else 0.0
    mock0 = tree_cpu(mock_pid) if mock_pid else 0.0
    idle0 = sum(tree_cpu(o.pid) for o in others if o.pid)
    load0 = children_cpu()
    core0 = cpu_busy(args.proxy_cpu)
    lcore0 = cpu_busy(args.load_cpu)
    t0 = time.monotonic()
    sampler.start()
    res = load(duration)
    wall = time.monotonic() - t0
    core = cpu_busy(args.proxy_cpu) - core0
    lcore = cpu_busy(args.load_cpu) - lcore0
    peak = sampler.stop()
    cpu = tree_cpu(pid) - cpu0 if pid else None
    mock_cpu = tree_cpu(mock_pid) - mock0 if mock_pid else 0.0
    idle = sum(tree_cpu(o.pid) for o in others if o.pid) - idle0
    load_cpu = children_cpu() - load0
    n = res["requests"]
    return {
        "target": target.name,
        "scenario": scenario,
        "stream": stream,
        "connections": conns,
        **{k: v for k, v in res.items() if k != "raw"},
        "proxy_cpu_s": round(cpu, 3) if cpu is not None else None,
        "cpu_s_per_1k": round(cpu / n * 1000, 4) if cpu is not None and n else None,
        "proxy_cpu_util": round(cpu / wall, 3) if cpu is not None else None,
        "peak_rss_mb": round(peak / 2**20, 1) if pid else None,
        "mock_cpu_s": round(mock_cpu, 3),
        "load_cpu_s": round(load_cpu, 3),
        "load_core_util": round((mock_cpu + load_cpu) / wall, 3),
        "idle_proxies_cpu_s": round(idle, 3),
        # busy time of the proxy core not spent by the measured proxy: other proxies, other users of the machine
        "proxy_core_foreign_util": round(max(0.0, core - (cpu or 0.0)) / wall, 3) if pid else None,
        "load_core_foreign_util": round(max(0.0, lcore - mock_cpu - load_cpu) / wall, 3),
        "wall_s": round(wall, 2),
        "raw": res["raw"],
    }


def print_cell(i: int, total: int, r: dict) -> None:
    ttfb = f" ttfb {r['ttfb_p50_ms']:7.2f}" if r.get("ttfb_p50_ms") is not None else " " * 13
    util = fmt(r["proxy_cpu_util"] and r["proxy_cpu_util"] * 100, ".0f")
    print(
        f"[{i:>3}/{total}] {r['scenario']:<14} {r['target']:<8} {r['rps']:>8,.0f} req/s "
        f"p50 {fmt(r['p50_ms'], '7.2f')} p99 {fmt(r['p99_ms'], '8.2f')}{ttfb} "
        f"cpu/1k {fmt(r['cpu_s_per_1k'], '.3f'):>6} proxy {util:>3}% load-core {r['load_core_util'] * 100:.0f}% "
        f"err {r['errors']}"
        + (f" {r['error_detail']}" if r["errors"] else "")
        + (f"  (!) {r['contaminated']}" if r.get("contaminated") else ""),
        flush=True,
    )


def compare_verdicts(results: list[dict], scenarios: list[str]) -> list[Verdict]:
    out = []
    for kind, stream in (("non-streaming", False), ("streaming", True)):
        ratios = {
            s: paired_ratio(results, s, "weir", "aiohttp", "cpu_s_per_1k")
            for s in scenarios
            if SCENARIOS[s].stream is stream
        }
        got = {s: r for s, r in ratios.items() if r is not None}
        worst = max(got.values()) if got else None
        detail = ", ".join(f"{s} {r:.2f}x" for s, r in got.items()) or "no data"
        out.append(
            verdict(
                f"CPU/request <= 1.2x bare passthrough, {kind}",
                None if worst is None else worst <= 1.2,
                f"worst {fmt(worst, '.2f')}x ({detail})",
            )
        )
    ratios = {
        s: paired_ratio(results, s, "weir", "litellm", "rps") for s in scenarios if SCENARIOS[s].conns in (16, 64)
    }
    got = {s: r for s, r in ratios.items() if r is not None}
    low = min(got.values()) if got else None
    detail = ", ".join(f"{s} {r:.1f}x" for s, r in got.items()) or "no data"
    out.append(
        verdict(
            "throughput >= 20x LiteLLM at c16 and c64",
            None if low is None else low >= 20,
            f"min {fmt(low, '.1f')}x ({detail})",
        )
    )
    base = {s: paired_ratio(results, s, "weir", "weir-base", "cpu_s_per_1k") for s in scenarios}
    got = {s: r for s, r in base.items() if r is not None}
    if got:
        worst = max(got.values())
        detail = ", ".join(f"{s} {r:.3f}x" for s, r in got.items())
        out.append(verdict("CPU/request <= 1.05x weir-base", worst <= 1.05, f"worst {worst:.3f}x ({detail})"))
    for target, bound in (("weir-limits", 1.05), ("weir-redis", 1.15)):
        limited = {s: paired_ratio(results, s, target, "weir", "cpu_s_per_1k") for s in scenarios}
        got = {s: r for s, r in limited.items() if r is not None}
        if got:
            worst = max(got.values())
            detail = ", ".join(f"{s} {r:.3f}x" for s, r in got.items())
            out.append(
                verdict(f"CPU/request {target} <= {bound}x weir", worst <= bound, f"worst {worst:.3f}x ({detail})")
            )
    d = paired_delta(results, "nonstream-c1", "weir", "direct", "p50_ms") if "nonstream-c1" in scenarios else None
    out.append(
        verdict(
            "added p50 latency at c1 <= 1 ms over direct-to-mock",
            None if d is None else d <= 1.0,
            f"+{fmt(d, '.3f')} ms",
        )
    )
    return out


def weir_log_problems(log: Path | None) -> dict:
    if not log or not log.exists():
        return {}
    text = log.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if re.search(r"Traceback|ERROR|Error|exception", ln)]
    return {"problem_lines": len(lines), "first": lines[:10]}


def scrape(url: str) -> str:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url + "/metrics", timeout=10) as r:
        return r.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head != name and not head.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def run(args: argparse.Namespace) -> dict:
    targets = parse_list(args.targets, TARGETS, "target")
    scenarios = parse_list(args.scenarios, SCENARIOS, "scenario")
    start = time.monotonic()
    ts = stamp()
    pin_self(args.load_cpu)
    go_binaries()
    logdir = Path(tempfile.mkdtemp(prefix=f"weir-bench-compare-{ts}-"))
    workdir = logdir / "work"
    body = bodies(workdir / "bodies")
    mock = NginxMock(cpu=args.load_cpu)
    live: dict[str, Target] = {}
    results: list[dict] = []
    skipped: list[tuple[str, str]] = []
    meta: dict[str, dict] = {}
    hwm: dict[str, float] = {}
    checks: dict[str, object] = {}
    try:
        mock.start()
        mock.verify()
        print(f"mock: nginx {mock.url} (pid {mock.pid}, cpu {args.load_cpu}); logs in {logdir}", flush=True)
        for name in targets:
            t0 = time.monotonic()
            if name == "direct":
                t: Target = Direct(mock.url)
                live[name] = t
                check_nonstream(t, body["nonstream"], exact=True)
                check_stream(t, body["stream"], exact=True, cost=False)
            elif name == "weir":
                t = Weir(args.proxy_cpu, workdir / "weir", nginx_url=mock.url)
                live[name] = t
                t.start(logdir)
                check_nonstream(t, body["nonstream"], exact=True)
                check_stream(t, body["stream"], exact=False, cost=True)
            elif name in ("weir-base", "weir-limits", "weir-redis"):
                if name == "weir-base":
                    t = WeirBase(args.proxy_cpu, workdir / name, nginx_url=mock.url)
                elif name == "weir-limits":
                    t = WeirLimits(args.proxy_cpu, workdir / name, nginx_url=mock.url)
                else:
                    t = WeirRedis(args.proxy_cpu, workdir / name, nginx_url=mock.url, load_cpu=args.load_cpu)
                live[name] = t
                t.start(logdir)
                check_nonstream(t, body["nonstream"], exact=True)
                check_stream(t, body["stream"], exact=False, cost=True)
            elif name == "aiohttp":
                t = Bare(mock.url, args.proxy_cpu)
                live[name] = t
                t.start(logdir)
                check_nonstream(t, body["nonstream"], exact=True)
                check_stream(t, body["stream"], exact=True, cost=False)
            else:
                LiteLLM.ensure_installed()
                t = LiteLLM(args.proxy_cpu, workdir / "litellm", nginx_url=mock.url)
                live[name] = t
                t.start(logdir)
                check_nonstream(t, body["nonstream"], exact=False)
                check_stream(t, body["stream"], exact=False, cost=False)
            meta[name] = t.meta()
            print(
                f"target: {name:<8} {t.chat_url(False)} pid {t.pid} ready and checked in {time.monotonic() - t0:.1f} s"
            )

        per_cell = {n: (args.litellm_duration or args.duration) if n == "litellm" else args.duration for n in targets}
        total = args.rounds * len(scenarios) * len(targets)
        est = args.rounds * len(scenarios) * sum(d + args.warmup + 1 for d in per_cell.values())
        print(f"{total} cells, about {est / 60:.1f} min", flush=True)
        i = 0
        for rnd in range(args.rounds):
            for si, sname in enumerate(scenarios):
                scen = SCENARIOS[sname]
                k = (si + rnd) % len(targets)
                for name in targets[k:] + targets[:k]:
                    i += 1
                    if time.monotonic() - start + per_cell[name] + args.warmup > args.budget:
                        skipped.append((sname, name))
                        continue
                    others = [o for n, o in live.items() if n != name]
                    cell_s = per_cell[name] + args.warmup

                    def one(name=name, scen=scen, sname=sname, others=others):
                        return measure_cell(
                            live[name],
                            sname,
                            scen.stream,
                            scen.conns,
                            body["stream" if scen.stream else "nonstream"],
                            per_cell[name],
                            args.warmup,
                            args,
                            mock.pid,
                            others,
                        )

                    r = measure_clean(one, args, lambda cell_s=cell_s: time.monotonic() - start + cell_s < args.budget)
                    r["round"] = rnd
                    results.append(r)
                    print_cell(i, total, r)
        for name, t in live.items():
            if t.pid:
                hwm[name] = round(tree_hwm(t.pid) / 2**20, 1)
                checks[f"{name}_non_loopback_peers"] = tree_remote_addresses(t.pid)
        if "weir" in live:
            w = live["weir"]
            assert isinstance(w, Weir)
            ok_calls = metric_sum(scrape(w.url), "weir_requests_total", route="chat_completions", status_class="2xx")
            checks["weir_2xx_calls"] = ok_calls
    except KeyboardInterrupt:
        print("interrupted; writing partial results")
    finally:
        for t in live.values():
            t.stop()
        mock.stop()

    if "weir" in live:
        w = live["weir"]
        assert isinstance(w, Weir)
        checks["weir_exit_code"] = w.exit_code
        checks["weir_log"] = weir_log_problems(w.log)
        try:
            acct = w.account()
            debit = 1_000_000 * 100_000_000 - acct["balance_microcents"]
            checks["weir_debited_microcents"] = debit
            if checks.get("weir_2xx_calls"):
                checks["weir_debit_matches_calls"] = debit == int(checks["weir_2xx_calls"]) * COST_PER_CALL_MICROCENTS
        except Exception as e:  # the check is informative; never lose the results over it
            checks["weir_account_error"] = str(e)

    rows = aggregate(results, scenarios, TARGETS)
    print()
    print(table(rows))
    dirty = [f"{r['scenario']}/{r['target']} (round {r['round'] + 1})" for r in results if r.get("contaminated")]
    if dirty:
        print(f"\n* contaminated by other processes on the machine even after retries: {', '.join(dirty)}")
    if skipped:
        print(f"\nskipped (budget): {skipped}")
    if hwm:
        print("\nlifetime peak RSS (VmHWM of the process tree), MB: " + ", ".join(f"{k} {v}" for k, v in hwm.items()))
    print("checks: " + ", ".join(f"{k}={v}" for k, v in checks.items() if k != "weir_log"))
    if checks.get("weir_log"):
        print(f"weir log: {checks['weir_log']}")
    verdicts = compare_verdicts(results, scenarios)
    print_verdicts(verdicts)
    doc = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"},
        "host": host_info(),
        "versions": {**versions(), "targets": meta},
        "summary": rows,
        "verdicts": verdicts,
        "vmhwm_mb": hwm,
        "checks": checks,
        "skipped": skipped,
        "runs": results,
        "wall_s": round(time.monotonic() - start, 1),
        "logs": str(logdir),
    }
    write_json("compare", ts, doc, args.out)
    print(f"wall time {doc['wall_s']:.0f} s")
    return doc
