"""`bench/run.py paced`: latency shape through a proxy against a paced upstream.

The Go paced mock (bench/loadgen/pacedmock) sends the first content chunk --ttft-ms after a request arrives and
the next ones --gap-ms apart (--chunks of them, then the usage chunk and [DONE]). The Go sseload holds
--concurrency streams open for --duration seconds, directly against the mock and through each proxy,
interleaved, and reports the time to the first `data:` line (TTFB, here the time to first token) and the total
stream time. What a proxy adds is the difference to `direct` in the same round.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from weirbench import RESULTS
from weirbench.compare import add_noise_args, measure_cell, measure_clean, parse_list, print_cell
from weirbench.loads import go_binaries
from weirbench.procs import host_info, pin_self
from weirbench.report import (
    aggregate,
    fmt,
    paired_delta,
    print_verdicts,
    stamp,
    table,
    verdict,
    versions,
    write_json,
)
from weirbench.targets import Bare, Direct, LiteLLM, PacedMock, Target, Weir, bodies, check_stream

TARGETS = ["direct", "weir", "aiohttp", "litellm"]


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--targets", default="direct,weir,aiohttp", help="comma list of " + ",".join(TARGETS))
    ap.add_argument("--duration", type=int, default=15, help="measured seconds per cell")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--ttft-ms", type=float, default=100)
    ap.add_argument("--gap-ms", type=float, default=5)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument(
        "--stagger-ms",
        type=float,
        default=None,
        help="load generator worker i starts i*this late, so streams are not in lockstep "
        "(default: one stream's length / concurrency; 0: all start together)",
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=0,
        help="open loop: start this many streams per second in total, evenly spaced, with up to --concurrency "
        "in flight (0: closed loop, --concurrency streams back to back)",
    )
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--budget", type=float, default=900)
    add_noise_args(ap)
    ap.add_argument("--proxy-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--out", type=Path, default=RESULTS)


def run(args: argparse.Namespace) -> dict:
    targets = parse_list(args.targets, TARGETS, "target")
    if args.stagger_ms is None:
        args.stagger_ms = (args.ttft_ms + (args.chunks - 1) * args.gap_ms) / args.concurrency
    start = time.monotonic()
    ts = stamp()
    pin_self(args.load_cpu)
    go_binaries()
    logdir = Path(tempfile.mkdtemp(prefix=f"weir-bench-paced-{ts}-"))
    workdir = logdir / "work"
    body = bodies(workdir / "bodies")["paced"]
    scen = f"paced-c{args.concurrency}" + (f"-r{args.rate:g}" if args.rate else "")
    expected_text = "".join(f" tok{i}" for i in range(args.chunks))
    mock = PacedMock(args.load_cpu, args.ttft_ms, args.gap_ms, args.chunks, lifetime_s=args.budget + 600)
    live: dict[str, Target] = {}
    meta: dict[str, dict] = {}
    results: list[dict] = []
    skipped: list[str] = []
    try:
        mock.start(logdir)
        print(
            f"paced mock {mock.url} (pid {mock.pid}, cpu {args.load_cpu}): first token {args.ttft_ms:g} ms, "
            f"{args.chunks} chunks {args.gap_ms:g} ms apart; logs in {logdir}",
            flush=True,
        )
        for name in targets:
            if name == "direct":
                t: Target = Direct(mock.url, by_location=False)
            elif name == "weir":
                t = Weir(args.proxy_cpu, workdir / "weir", paced_url=mock.url)
            elif name == "aiohttp":
                t = Bare(mock.url, args.proxy_cpu)
            else:
                LiteLLM.ensure_installed()
                t = LiteLLM(args.proxy_cpu, workdir / "litellm", paced_url=mock.url)
            live[name] = t
            t.start(logdir)
            check_stream(t, body, exact=False, cost=name == "weir", text=expected_text)
            meta[name] = t.meta()
            print(f"target: {name:<8} {t.chat_url(True)} pid {t.pid} ready and checked", flush=True)
        total = args.rounds * len(targets)
        print(f"{total} cells, about {total * (args.duration + args.warmup + 1) / 60:.1f} min", flush=True)
        i = 0
        for rnd in range(args.rounds):
            k = rnd % len(targets)
            for name in targets[k:] + targets[:k]:
                i += 1
                if time.monotonic() - start + args.duration + args.warmup > args.budget:
                    skipped.append(name)
                    continue
                others = [o for n, o in live.items() if n != name]

                def one(name=name, others=others):
                    return measure_cell(
                        live[name],
                        scen,
                        True,
                        args.concurrency,
                        body,
                        args.duration,
                        args.warmup,
                        args,
                        mock.pid,
                        others,
                    )

                cell_s = args.duration + args.warmup
                r = measure_clean(one, args, lambda cell_s=cell_s: time.monotonic() - start + cell_s < args.budget)
                r["round"] = rnd
                results.append(r)
                print_cell(i, total, r)
    except KeyboardInterrupt:
        print("interrupted; writing partial results")
    finally:
        for t in live.values():
            t.stop()
        mock.stop()

    rows = aggregate(results, [scen], TARGETS)
    print()
    print(table(rows))
    dirty = [r["target"] for r in results if r.get("contaminated")]
    if dirty:
        print(f"\n* contaminated by other processes on the machine even after retries: {', '.join(dirty)}")
    ideal_total = args.ttft_ms + (args.chunks - 1) * args.gap_ms
    print(f"\nideal: first token {args.ttft_ms:g} ms, last chunk {ideal_total:g} ms after the request")
    deltas = {}
    for name in targets:
        if name == "direct":
            continue
        deltas[name] = {
            k: paired_delta(results, scen, name, "direct", k)
            for k in ("ttfb_p50_ms", "ttfb_p99_ms", "p50_ms", "p99_ms")
        }
        d = deltas[name]
        print(
            f"{name:<8} over direct: TTFB p50 +{fmt(d['ttfb_p50_ms'], '.2f')} ms, "
            f"p99 +{fmt(d['ttfb_p99_ms'], '.2f')} ms;"
            f" total p50 +{fmt(d['p50_ms'], '.2f')} ms, p99 +{fmt(d['p99_ms'], '.2f')} ms"
        )
    wd = deltas.get("weir", {}).get("ttfb_p50_ms")
    verdicts = [
        verdict(
            f"paced ({args.ttft_ms:g} ms TTFT, {args.chunks}x{args.gap_ms:g} ms, c{args.concurrency}): "
            "TTFT within 5 ms of direct",
            None if wd is None else wd <= 5.0,
            f"p50 +{fmt(wd, '.2f')} ms, p99 +{fmt(deltas.get('weir', {}).get('ttfb_p99_ms'), '.2f')} ms",
        )
    ]
    print_verdicts(verdicts)
    doc = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"},
        "host": host_info(),
        "versions": {**versions(), "targets": meta},
        "summary": rows,
        "deltas_vs_direct_ms": deltas,
        "verdicts": verdicts,
        "skipped": skipped,
        "runs": results,
        "wall_s": round(time.monotonic() - start, 1),
        "logs": str(logdir),
    }
    write_json("paced", ts, doc, args.out)
    return doc
