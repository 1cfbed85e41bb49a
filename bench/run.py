#!/usr/bin/env python3
"""Weir's performance benchmark suite (see bench/README.md).

    .venv/bin/python bench/run.py compare   Weir vs bare Starlette+granian+aiohttp vs LiteLLM (~6 min a round)
    .venv/bin/python bench/run.py paced     time to first token through Weir vs direct, paced Go mock (~1.5 min)
    .venv/bin/python bench/run.py soak      30 min mixed load on Weir alone, RSS/fd/task slopes (--minutes)
    .venv/bin/python bench/run.py all       compare, paced, then soak; every verdict line at the end
    .venv/bin/python bench/run.py locust    bench/locust/chat_stream.py headless against a fresh Weir (~20 s)
    .venv/bin/python bench/run.py serve     the nginx mock and a configured Weir, for manual runs (bounded)

Each proxy runs one worker pinned to --proxy-cpu (0); the mocks, the load generators and this runner share
--load-cpu (1). Results: bench/results/<kind>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from weirbench import BENCH, RESULTS, compare, paced, soak
from weirbench.procs import pin_self
from weirbench.report import print_verdicts
from weirbench.targets import NginxMock, Weir, bodies, check_nonstream, check_stream


def preflight() -> None:
    missing = [t for t in ("nginx", "wrk", "taskset", "go") if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (apt-get install -y nginx wrk; Go from go.dev)")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 CPUs: one for the proxy, one for the mock and the load generator")


def run_all(args: argparse.Namespace) -> int:
    docs = {}
    ca = sub_args(compare.add_args, ["--rounds", str(args.rounds), "--duration", str(args.duration)])
    if args.targets:
        ca.targets = args.targets
    docs["compare"] = compare.run(ca)
    docs["paced"] = paced.run(sub_args(paced.add_args, ["--rounds", str(args.rounds)]))
    docs["soak"] = soak.run(sub_args(soak.add_args, ["--minutes", str(args.minutes)]))
    print("\n================ all verdicts")
    print_verdicts([v for d in docs.values() for v in d["verdicts"]])
    return 0


def sub_args(add, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add(p)
    return p.parse_args(argv)


def with_weir(args: argparse.Namespace, body_fn) -> int:
    """Start the nginx mock and a configured Weir, check both, run body_fn(weir, bodies), stop both."""
    pin_self(args.load_cpu)
    logdir = Path(tempfile.mkdtemp(prefix="weir-bench-serve-"))
    mock = NginxMock(cpu=args.load_cpu)
    weir = Weir(args.proxy_cpu, logdir / "work" / "weir")
    try:
        mock.start()
        weir.nginx_url = mock.url
        weir.start(logdir)
        b = bodies(logdir / "work" / "bodies")
        check_nonstream(weir, b["nonstream"], exact=True)
        check_stream(weir, b["stream"], exact=False, cost=True)
        return body_fn(weir, b, logdir)
    finally:
        weir.stop()
        mock.stop()


def run_locust(args: argparse.Namespace) -> int:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust")
    if not locust:
        raise SystemExit("locust is not installed: scripts/bootstrap --dev --bench")

    def go(weir: Weir, b: dict, logdir: Path) -> int:
        cmd = [
            "taskset", "-c", args.load_cpu, locust, "-f", str(BENCH / "locust" / "chat_stream.py"),
            "--headless", "-u", str(args.users), "-r", str(args.users), "-t", f"{int(args.seconds)}s",
            "--host", weir.url, "--only-summary", "--stop-timeout", "5",
            "--csv", str(logdir / "locust"),
        ]  # fmt: skip
        print(f"Weir {weir.url}; running: {' '.join(cmd[3:])}", flush=True)
        env = dict(os.environ, WEIR_BENCH_KEY=weir.key, WEIR_BENCH_MODEL="bench-stream")
        p = subprocess.run(cmd, env=env, timeout=args.seconds + 60)
        print(f"locust exit code {p.returncode}; CSV in {logdir}")
        return p.returncode

    return with_weir(args, go)


def run_serve(args: argparse.Namespace) -> int:
    def go(weir: Weir, b: dict, logdir: Path) -> int:
        print(f"Weir {weir.url}  key {weir.key}\nmodels: gpt-4o-mini (JSON), bench-stream (SSE)")
        print(f"bodies: {b['nonstream']} {b['stream']}\nstopping after {args.seconds:g} s (Ctrl-C stops earlier)")
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass
        return 0

    return with_weir(args, go)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name, mod in (("compare", compare), ("paced", paced), ("soak", soak)):
        p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0])
        mod.add_args(p)
        p.set_defaults(func=mod.run)
    p = sub.add_parser("all", help="compare, paced and soak in one go")
    p.add_argument("--rounds", type=int, default=1, help="rounds of compare and paced")
    p.add_argument("--duration", type=int, default=10, help="measured seconds per compare cell")
    p.add_argument("--targets", default=None, help="compare targets (default: all)")
    p.add_argument("--minutes", type=float, default=30, help="soak minutes")
    p.set_defaults(func=run_all)
    for name, fn, secs in (("locust", run_locust, 10), ("serve", run_serve, 600)):
        p = sub.add_parser(name)
        p.add_argument("--seconds", type=float, default=secs)
        p.add_argument("--proxy-cpu", default="0")
        p.add_argument("--load-cpu", default="1")
        if name == "locust":
            p.add_argument("--users", type=int, default=8)
        p.set_defaults(func=fn)
    args = ap.parse_args()
    preflight()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = args.func(args)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
