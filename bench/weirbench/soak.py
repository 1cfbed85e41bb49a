"""`bench/run.py soak`: a long steady mixed load against Weir alone, watching for leaks.

The Go sseload alternates non-stream and stream requests (50/50) at --concurrency workers, capped at --rate
requests/s in total, for --minutes, against the nginx mock through Weir (one worker, pinned). Every --sample-s
seconds this runner records the worker's RSS and open file descriptors (psutil), the asyncio task count
(`weir_event_loop_tasks` on GET /metrics) and the requests answered so far (`weir_requests_total`). At the end
it fits least-squares lines to the samples after --warmup-s: RSS MiB per 100,000 requests and per 10 minutes,
file descriptors and tasks per hour.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from weirbench import RESULTS
from weirbench.compare import COST_PER_CALL_MICROCENTS, metric_sum, scrape, weir_log_problems
from weirbench.loads import go_binaries, parse_sseload, sseload_cmd
from weirbench.procs import host_info, pin_self, stop_tree, tree_rss
from weirbench.report import fmt, least_squares, print_verdicts, stamp, verdict, versions, write_json
from weirbench.targets import NginxMock, Weir, bodies, check_nonstream, check_stream


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--minutes", type=float, default=30, help="load duration (at most 24 h)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rate", type=float, default=400, help="requests/s in total (0: closed loop, CPU-bound)")
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--warmup-s", type=float, default=60, help="samples before this are left out of the fits")
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--proxy-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--out", type=Path, default=RESULTS)


def sample(weir: Weir, worker: psutil.Process, t0: float) -> dict:
    metrics = scrape(weir.url)
    mem = worker.memory_info()
    return {
        "t_s": round(time.monotonic() - t0, 2),
        "requests": int(metric_sum(metrics, "weir_requests_total", route="chat_completions")),
        "requests_2xx": int(metric_sum(metrics, "weir_requests_total", route="chat_completions", status_class="2xx")),
        "rss_mib": round(mem.rss / 2**20, 3),
        "tree_rss_mib": round(tree_rss(weir.pid or 0) / 2**20, 3),
        "fds": worker.num_fds(),
        "tasks": int(metric_sum(metrics, "weir_event_loop_tasks")),
        "usage_queue": int(metric_sum(metrics, "weir_usage_queue_depth")),
        "cpu_s": round(sum(worker.cpu_times()[:2]), 2),
    }


def slopes(samples: list[dict]) -> dict:
    if len(samples) < 3:
        return {}
    t = [s["t_s"] for s in samples]
    n = [s["requests"] for s in samples]
    rss = [s["rss_mib"] for s in samples]
    per_req = least_squares(n, rss)
    per_s = least_squares(t, rss)
    fds = least_squares(t, [s["fds"] for s in samples])
    tasks = least_squares(t, [s["tasks"] for s in samples])
    return {
        "samples": len(samples),
        "from_t_s": t[0],
        "to_t_s": t[-1],
        "requests": n[-1] - n[0],
        "rss_mib_per_100k_requests": None if per_req is None else round(per_req * 100_000, 4),
        "rss_mib_per_10_min": None if per_s is None else round(per_s * 600, 4),
        "fds_per_hour": None if fds is None else round(fds * 3600, 3),
        "tasks_per_hour": None if tasks is None else round(tasks * 3600, 3),
        "rss_mib_first_last": [rss[0], rss[-1]],
    }


def run(args: argparse.Namespace) -> dict:
    if not 0 < args.minutes <= 24 * 60:
        raise SystemExit("--minutes must be in (0, 1440]")
    start = time.monotonic()
    ts = stamp()
    pin_self(args.load_cpu)
    go_binaries()
    logdir = Path(tempfile.mkdtemp(prefix=f"weir-bench-soak-{ts}-"))
    workdir = logdir / "work"
    body = bodies(workdir / "bodies")
    seconds = args.minutes * 60
    warmup = min(args.warmup_s, seconds * 0.2)
    mock = NginxMock(cpu=args.load_cpu)
    weir = Weir(args.proxy_cpu, workdir / "weir", nginx_url=mock.url)
    load: subprocess.Popen | None = None
    samples: list[dict] = []
    load_result: dict | None = None
    checks: dict[str, object] = {}
    try:
        mock.start()
        mock.verify()
        weir.start(logdir)
        check_nonstream(weir, body["nonstream"], exact=True)
        check_stream(weir, body["stream"], exact=False, cost=True)
        wpid = weir.worker_pid()
        if wpid is None:
            raise RuntimeError("no Weir worker process found")
        worker = psutil.Process(wpid)
        print(
            f"soak: Weir {weir.url} (worker pid {wpid}, cpu {args.proxy_cpu}), {args.minutes:g} min, "
            f"c{args.concurrency}, rate {args.rate or 'unlimited'} req/s, 50/50 stream/non-stream; "
            f"a sample every {args.sample_s:g} s; logs in {logdir}",
            flush=True,
        )
        cmd = sseload_cmd(
            weir.chat_url(False),
            [body["nonstream"], body["stream"]],
            weir.headers,
            args.concurrency,
            seconds,
            args.timeout,
            rate=args.rate or None,
            progress_s=60,
        )
        out_path, err_path = logdir / "sseload.json", logdir / "sseload.log"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            load = subprocess.Popen(["taskset", "-c", args.load_cpu, *cmd], stdout=out, stderr=err)
        t0 = time.monotonic()
        deadline = t0 + seconds + args.timeout + 30
        samples.append(sample(weir, worker, t0))
        next_at = t0 + args.sample_s
        while load.poll() is None and time.monotonic() < deadline:
            time.sleep(max(0.0, min(next_at - time.monotonic(), 1.0)))
            if time.monotonic() >= next_at:
                s = sample(weir, worker, t0)
                samples.append(s)
                next_at += args.sample_s
                if len(samples) % max(1, int(60 / args.sample_s)) == 0:
                    print(
                        f"  t {s['t_s']:7.0f} s  requests {s['requests']:>9,}  RSS {s['rss_mib']:7.1f} MiB  "
                        f"fds {s['fds']:>4}  tasks {s['tasks']:>4}  queue {s['usage_queue']}",
                        flush=True,
                    )
        if load.poll() is None:
            raise RuntimeError("sseload did not finish in time")
        samples.append(sample(weir, worker, t0))
        load_result = parse_sseload(out_path.read_text())
        checks["weir_2xx_calls"] = samples[-1]["requests_2xx"]
    except KeyboardInterrupt:
        print("interrupted; writing partial results")
    finally:
        if load is not None and load.poll() is None:
            stop_tree(load, timeout=5)
        weir.stop()
        mock.stop()

    checks["weir_exit_code"] = weir.exit_code
    checks["weir_log"] = weir_log_problems(weir.log)
    try:
        debit = 1_000_000 * 100_000_000 - weir.account()["balance_microcents"]
        checks["weir_debited_microcents"] = debit
        if checks.get("weir_2xx_calls"):
            checks["weir_debit_matches_calls"] = debit == int(checks["weir_2xx_calls"]) * COST_PER_CALL_MICROCENTS
    except Exception as e:
        checks["weir_account_error"] = str(e)

    steady = [s for s in samples if s["t_s"] >= warmup]
    fit = slopes(steady)
    fit_all = slopes(samples)
    total = samples[-1]["requests"] if samples else 0
    print()
    if load_result:
        print(
            f"load: {load_result['requests']:,} ok, {load_result['errors']} errors {load_result['error_detail']}, "
            f"{load_result['rps']:,.1f} req/s, total p50 {fmt(load_result['p50_ms'], '.2f')} ms, "
            f"p99 {fmt(load_result['p99_ms'], '.2f')} ms, TTFB p50 {fmt(load_result['ttfb_p50_ms'], '.2f')} ms"
        )
    print(f"requests answered by Weir: {total:,}; samples: {len(samples)} (fit on {len(steady)} after {warmup:g} s)")
    if samples:
        first, last = samples[0], samples[-1]
        print(
            f"worker RSS {first['rss_mib']:.1f} -> {last['rss_mib']:.1f} MiB "
            f"(peak {max(s['rss_mib'] for s in samples):.1f}), "
            f"fds {first['fds']} -> {last['fds']}, tasks {first['tasks']} -> {last['tasks']}"
        )
    for label, f in (("steady", fit), ("all samples", fit_all)):
        if f:
            print(
                f"slopes ({label}): RSS {f['rss_mib_per_100k_requests']:+.3f} MiB/100k requests, "
                f"{f['rss_mib_per_10_min']:+.3f} MiB/10 min; fds {f['fds_per_hour']:+.2f}/h; "
                f"tasks {f['tasks_per_hour']:+.2f}/h"
            )
    print("checks: " + ", ".join(f"{k}={v}" for k, v in checks.items() if k != "weir_log"))
    if checks.get("weir_log"):
        print(f"weir log: {checks['weir_log']}")
    per100k = fit.get("rss_mib_per_100k_requests") if fit else None
    verdicts = [
        verdict(
            "soak: RSS growth <= 2 MiB per 100,000 requests",
            None if per100k is None else per100k <= 2.0,
            (
                f"{fmt(per100k, '+.3f')} MiB/100k over {fit.get('requests', 0):,} requests"
                + (" (under 100,000 requests: too short to judge)" if fit.get("requests", 0) < 100_000 else "")
            )
            if fit
            else "no data",
        )
    ]
    print_verdicts(verdicts)
    doc = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"},
        "host": host_info(),
        "versions": {**versions(), "weir": weir.meta()},
        "total_requests": total,
        "slopes": fit,
        "slopes_all_samples": fit_all,
        "verdicts": verdicts,
        "load": {k: v for k, v in (load_result or {}).items() if k != "raw"},
        "load_raw": (load_result or {}).get("raw"),
        "checks": checks,
        "samples": samples,
        "wall_s": round(time.monotonic() - start, 1),
        "logs": str(logdir),
    }
    write_json("soak", ts, doc, args.out)
    return doc
