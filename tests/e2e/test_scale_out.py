"""The scale-out proof: two `weir serve` replicas (one of them with two workers) on one PostgreSQL and one Redis,
hammered concurrently through both with one key. A key with requests_per_minute = N gets exactly N calls through
in total, and one with max_concurrent = 3 never has more than 3 in flight; when Redis goes away the replicas admit
calls unchecked (limits.on_backend_error = "open") and /healthz says so."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
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
