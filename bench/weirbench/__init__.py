"""Shared pieces of Weir's benchmark suite (bench/run.py) and of bench/transport.

procs    process trees: CPU seconds, RSS, peak RSS, sampling, stopping; free ports, readiness waits
loads    wrk (post.lua) and the Go load generator (sseload), the Go build (cached in bench/.bin)
targets  what is measured: the mocks (nginx, paced Go mock) and the proxies (Weir, bare passthrough, LiteLLM)
report   medians, tables, verdicts, least-squares slopes
compare, paced, soak   the sub-commands of bench/run.py
"""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
TRANSPORT = BENCH / "transport"
FIXTURES = TRANSPORT / "fixtures"
RESULTS = BENCH / "results"
BIN = BENCH / ".bin"
