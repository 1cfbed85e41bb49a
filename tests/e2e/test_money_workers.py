"""Reservations across the workers of one host on the embedded store: one `weir serve` with two workers on one
SQLite file. An account whose balance covers 5 calls' estimates gets 5 of 50 concurrent calls through, and its
balance is exactly what it was less what they cost. (Two replicas on PostgreSQL: tests/e2e/test_scale_out.py.)"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir
from tests.support.processes import free_port, start, stop, wait_http

PER_TOKEN = 100  # microcents: $1 per 1M tokens, in and out
MAX_TOKENS = 3000  # more than the mock's usage, so that every call costs less than its estimate


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str) -> Iterator[Weir]:
    home = tmp_path_factory.mktemp("money-workers")
    port = free_port()
    config = home / "weir.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
workers = 2
data_dir = "{home / "data"}"
access_log = false

[auth]
pepper = "money-workers-pepper-0123456789abcdef"
key_cache_ttl_seconds = 1

[[providers]]
name = "mock"
dialect = "openai"
base_url = "{mock_upstream}/v1"
api_keys = ["{PROVIDER_KEY}"]

[[models]]
id = "held-priced"
price = {{ input = 1.0, output = 1.0 }}
routes = [{{ provider = "mock", model = "mock-hold-3000-workers" }}]
"""
    )
    log = home / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc, log)
    yield Weir(url, config, {}, mock_upstream)
    assert stop(proc) == 0, Path(log).read_text()[-4000:]


def body(i: int) -> bytes:
    message = {"role": "user", "content": f"call {i:02d}"}  # every body the same length: the same estimate
    return orjson.dumps({"model": "held-priced", "max_tokens": MAX_TOKENS, "messages": [message]})


def test_two_workers_on_one_sqlite_file_admit_only_what_the_balance_covers(two_workers: Weir) -> None:
    estimate = (len(body(0)) + MAX_TOKENS) * PER_TOKEN
    balance = 6 * estimate - 1
    key = two_workers.new_key("workers-money", f"{balance / 100_000_000:.8f}")

    def one(i: int) -> tuple[int, int]:
        answer = httpx.post(
            f"{two_workers.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
            content=body(i),
            timeout=30,
        )
        return answer.status_code, int(answer.headers.get("x-weir-cost-microcents", 0))

    with ThreadPoolExecutor(25) as pool:  # each admitted call is held 3 s: all 50 overlap
        outcomes = list(pool.map(one, range(50)))
    assert Counter(status for status, _ in outcomes) == Counter({200: 5, 402: 45}), outcomes
    spent = sum(cost for _, cost in outcomes)
    deadline = time.monotonic() + 10
    while True:
        account = orjson.loads(two_workers.cli("accounts", "show", "workers-money").stdout)
        if account["balance_microcents"] == balance - spent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert account["balance_microcents"] == balance - spent >= 0
