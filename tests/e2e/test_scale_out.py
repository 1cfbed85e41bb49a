"""The scale-out proof: two `weir serve` replicas (one of them with two workers) on one PostgreSQL and one Redis,
hammered concurrently through both with one key. A key with requests_per_minute = N gets exactly N calls through
in total, and one with max_concurrent = 3 never has more than 3 in flight; an account whose balance covers 5
calls' estimates gets 5 of 50 concurrent calls through, and its books balance afterwards; when Redis goes away the
replicas admit calls unchecked (limits.on_backend_error = "open") and /healthz says so."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir, postgres_database
from tests.support.postgres import PostgresServer
from tests.support.processes import free_port, start, stop, wait_http
from tests.support.redis import RedisServer, throwaway_redis

RPM = 30
HELD = "mock-hold-3000-scale"


@dataclass
class Replicas:
    urls: list[str]
    weir: Weir  # for the CLI (the same store) and the mock upstream
    redis: RedisServer

    def hammer(self, key: str, calls: int, model: str = "scale-test", threads: int = 24) -> Counter[str]:
        """`calls` calls at once, alternating between the replicas: how many got each outcome."""

        def one(i: int) -> str:
            answer = httpx.post(
                f"{self.urls[i % len(self.urls)]}/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": model, "messages": [{"role": "user", "content": f"call {i}"}]},
                timeout=30,
            )
            return "200" if answer.status_code == 200 else f"{answer.status_code} {answer.json()['error']['code']}"

        with ThreadPoolExecutor(threads) as pool:
            return Counter(pool.map(one, range(calls)))


def _config(path: Path, port: int, upstream: str, storage: str, redis: str, data: Path, workers: int) -> None:
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
workers = {workers}
data_dir = "{data}"
access_log = false

[storage]
url = "{storage}"
redis_url = "{redis}"

[limits]
on_backend_error = "open"

[auth]
pepper = "scale-out-pepper-0123456789abcdef"
key_cache_ttl_seconds = 1

[[tiers]]
name = "minute"
requests_per_minute = {RPM}

[[tiers]]
name = "three"
max_concurrent = 3

[[providers]]
name = "mock"
dialect = "openai"
base_url = "{upstream}/v1"
api_keys = ["{PROVIDER_KEY}"]

[[models]]
id = "scale-test"
routes = [{{ provider = "mock", model = "mock-model" }}]

[[models]]
id = "scale-held"
routes = [{{ provider = "mock", model = "{HELD}" }}]

[[models]]
id = "scale-priced"
price = {{ input = 1.0, output = 1.0 }}
routes = [{{ provider = "mock", model = "{HELD}" }}]
"""
    )


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: str, postgres_server: PostgresServer
) -> Iterator[Replicas]:
    storage = postgres_database(postgres_server, "weir_scale_out")
    procs, urls = [], []
    with throwaway_redis() as redis:
        for i, workers in enumerate((2, 1)):
            home = tmp_path_factory.mktemp(f"replica-{i}")
            port = free_port()
            config = home / "weir.toml"
            _config(config, port, mock_upstream, storage, redis.url, home / "data", workers)
            log = home / "weir.log"
            procs.append((start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log), log))
            urls.append(f"http://127.0.0.1:{port}")
            wait_http(f"{urls[-1]}/healthz", *procs[-1])
        yield Replicas(urls, Weir(urls[0], config, {}, mock_upstream), redis)
        for proc, log in procs:
            assert stop(proc) == 0, log.read_text()[-4000:]


def test_requests_per_minute_is_exact_across_replicas(replicas: Replicas) -> None:
    key = replicas.weir.new_key("scale-minute", "5", "--tier", "minute")
    outcomes = replicas.hammer(key, 3 * RPM)
    assert outcomes == Counter({"200": RPM, "429 rate_limit_exceeded": 2 * RPM}), outcomes


def test_max_concurrent_holds_across_replicas(replicas: Replicas) -> None:
    key = replicas.weir.new_key("scale-three", "5", "--tier", "three")
    outcomes = replicas.hammer(key, 12, model="scale-held", threads=12)  # each call holds its slot for 3 s
    assert outcomes == Counter({"200": 3, "429 too_many_concurrent": 9}), outcomes
    peak = httpx.get(f"{replicas.weir.upstream}/_mock/holds").json()[HELD]["peak"]
    assert peak == 3
    assert replicas.hammer(key, 3, model="scale-held") == Counter({"200": 3})  # every slot was released


PER_TOKEN = 100  # microcents: scale-priced costs $1 per 1M tokens, in and out
MAX_TOKENS = 3000  # more than the mock's usage (1234 in, 567 out), so that every call costs less than its estimate


def priced_body(i: int) -> bytes:
    """Every body of the same length (so every call the same estimate)."""
    content = f"call {i:02d}"
    return orjson.dumps(
        {"model": "scale-priced", "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": content}]}
    )


def test_an_account_admits_only_what_its_balance_covers_across_replicas(replicas: Replicas) -> None:
    estimate = (len(priced_body(0)) + MAX_TOKENS) * PER_TOKEN
    balance = 6 * estimate - 1  # five estimates, and not quite a sixth
    key = replicas.weir.new_key("scale-money", f"{balance / 100_000_000:.8f}")

    def one(i: int) -> tuple[int, str, int]:
        answer = httpx.post(
            f"{replicas.urls[i % 2]}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
            content=priced_body(i),
            timeout=30,
        )
        if answer.status_code == 200:
            return 200, "", int(answer.headers["x-weir-cost-microcents"])
        return answer.status_code, answer.json()["error"]["code"], 0

    with ThreadPoolExecutor(25) as pool:  # each admitted call is held for 3 s: all 50 overlap
        outcomes = list(pool.map(one, range(50)))
    assert Counter(o[:2] for o in outcomes) == Counter({(200, ""): 5, (402, "insufficient_balance"): 45}), outcomes
    spent = sum(o[2] for o in outcomes)
    assert 0 < spent <= 5 * estimate
    deadline = time.monotonic() + 10
    while True:  # the usage commits land within a moment of the answers
        account = orjson.loads(replicas.weir.cli("accounts", "show", "scale-money").stdout)
        if account["balance_microcents"] == balance - spent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert account["balance_microcents"] == balance - spent >= 0  # initial - debits = balance, exactly
    left = (balance - spent) // estimate  # no hold outlived its call: the rest of the money admits again
    with ThreadPoolExecutor(25) as pool:
        again = Counter(o[0] for o in pool.map(one, range(left + 5)))
    assert again == Counter({200: left, 402: 5}), again


def test_without_redis_calls_go_through_unchecked(replicas: Replicas) -> None:
    key = replicas.weir.new_key("scale-outage", "5", "--tier", "minute")
    assert httpx.get(f"{replicas.urls[1]}/healthz").json()["redis"] == "ok"
    replicas.redis.stop()
    try:
        health = httpx.get(f"{replicas.urls[1]}/healthz")
        assert health.status_code == 200 and health.json()["redis"] == "down"  # "open": calls still work
        outcomes = replicas.hammer(key, RPM + 5, threads=8)
        assert outcomes == Counter({"200": RPM + 5}), outcomes  # unchecked, not refused
        metrics = httpx.get(f"{replicas.urls[1]}/metrics").text
        assert 'weir_limits_backend_errors_total{operation="admit"}' in metrics
    finally:
        replicas.redis.start()
    deadline = time.monotonic() + 10
    while httpx.get(f"{replicas.urls[1]}/healthz").json()["redis"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert replicas.hammer(key, 2) == Counter({"200": 2})  # back on Redis, counting from zero
