"""The scale-out proof: two `weir serve` replicas (one of them with two workers) on one PostgreSQL and one Redis,
hammered concurrently through both with one key. A key with requests_per_minute = N gets exactly N calls through
in total, and one with max_concurrent = 3 never has more than 3 in flight; an account whose balance covers 5
calls' estimates gets 5 of 50 concurrent calls through, and its books balance afterwards; when Redis goes away the
replicas admit calls unchecked (limits.on_backend_error = "open") and /healthz says so. A change made through one
replica's management API reaches every worker of both within auth.key_cache_ttl_seconds."""

from __future__ import annotations

import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import HASHED_ADMIN_TOKEN, PROVIDER_KEY, Weir, postgres_database
from tests.support.postgres import PostgresServer
from tests.support.processes import free_port, start, stop, wait_http
from tests.support.redis import RedisServer, throwaway_redis
from weir.admin.tokens import digest

RPM = 30
TTL = 1.0  # auth.key_cache_ttl_seconds of both replicas
WORKERS = 3  # the first replica runs two, the second one
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

[admin]
tokens = ["{digest(HASHED_ADMIN_TOKEN)}"]

[[tiers]]
name = "movable"
requests_per_minute = 1000

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
id = "scale-repriced"
price = {{ input = 1.0, output = 1.0 }}
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


SLACK = 1.5  # seconds past key_cache_ttl_seconds for one refresh of the store on a busy machine


def on_every_worker(
    replicas: Replicas,
    call: Callable[[str], httpx.Response],
    applied: Callable[[httpx.Response], bool],
    what: str,
    since: float | None = None,
    within: float = TTL,
) -> None:
    """Calls `call` (each on a new connection, alternating between the replicas) until each of the WORKERS
    workers, told apart by their request ids' prefixes, has answered as `applied` says. With `since` (when the
    change was made), every worker must do so `within` seconds (and SLACK), and none goes back."""
    done: set[str] = set()
    start = time.monotonic()
    for i in itertools.count():
        answer = call(replicas.urls[i % len(replicas.urls)])
        worker = answer.headers["x-weir-request-id"][:16]  # req_ and 12 hex digits: one per process
        late = time.monotonic() - (since if since is not None else start)
        if applied(answer):
            done.add(worker)
            if len(done) == WORKERS:
                return
        else:
            assert worker not in done, f"{what}: worker {worker} answered without it again: {answer.text[:300]}"
            assert since is None or late <= within + SLACK, (
                f"{what}: worker {worker} still without it after {late:.1f}s"
            )
        assert time.monotonic() - start < 20, f"{what}: {len(done)} of {WORKERS} workers answered ({done})"


def test_a_change_made_on_one_replica_reaches_every_worker_of_both_within_the_key_cache_ttl(
    replicas: Replicas,
) -> None:
    """Through one replica's management API, the other's and every worker's (three, on two replicas) within
    auth.key_cache_ttl_seconds: a key revoked by its owner, an account disabled and enabled, a model disabled and
    enabled, a provider paused and resumed, a model's prices changed, a tier's limit."""
    first, second = replicas.urls
    admin = httpx.Client(base_url=f"{first}/admin/v1", headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"})
    other = httpx.Client(base_url=f"{second}/admin/v1", headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"})
    with admin, other:
        account = admin.post("/accounts", json={"name": "scale-changes", "balance_usd": "50"}).json()
        path = f"/accounts/{account['id']}"
        manager = admin.post(f"{path}/keys", json={"kind": "management"}).json()["key"]
        owner = {"authorization": f"Bearer {manager}"}
        made = httpx.post(f"{second}/v1/account/keys", headers=owner, json={"name": "doomed"}).json()
        keeper = admin.post(f"{path}/keys", json={"tier": "movable"}).json()["key"]

        def chat(key: str, model: str = "scale-test") -> Callable[[str], httpx.Response]:
            def one(url: str) -> httpx.Response:
                body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
                return httpx.post(
                    f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, json=body, timeout=30
                )

            return one

        def code(answer: httpx.Response) -> str:
            return "200" if answer.status_code == 200 else f"{answer.status_code} {answer.json()['error']['code']}"

        def answers(expected: str) -> Callable[[httpx.Response], bool]:
            return lambda answer: code(answer) == expected

        # A key its owner revokes (every worker has it cached first)
        on_every_worker(replicas, chat(made["key"]), answers("200"), "the new key")
        revoked = httpx.delete(f"{first}/v1/account/keys/{made['id']}", headers=owner)
        assert revoked.status_code == 200, revoked.text
        on_every_worker(replicas, chat(made["key"]), answers("401 invalid_api_key"), "the revocation", time.monotonic())

        # An account the operator disables, then enables
        on_every_worker(replicas, chat(keeper), answers("200"), "the account's key")
        assert other.patch(path, json={"disabled": True}).json()["disabled"] is True
        on_every_worker(replicas, chat(keeper), answers("403 account_disabled"), "the disable", time.monotonic())
        assert admin.patch(path, json={"disabled": False}).json()["disabled"] is False
        on_every_worker(replicas, chat(keeper), answers("200"), "the enable", time.monotonic())

        # A model disabled, then enabled; a provider paused, then resumed
        try:
            assert admin.post("/models/scale-test/disable", json={"reason": "scale"}).json()["disabled"] is True
            on_every_worker(replicas, chat(keeper), answers("403 model_disabled"), "the model off", time.monotonic())
        finally:
            assert other.post("/models/scale-test/enable").json()["disabled"] is False
        on_every_worker(replicas, chat(keeper), answers("200"), "the model on", time.monotonic())
        try:
            assert other.post("/providers/mock/pause", json={"reason": "scale"}).json()["paused"] is True
            on_every_worker(replicas, chat(keeper), answers("429 provider_paused"), "the pause", time.monotonic())
        finally:
            assert admin.post("/providers/mock/resume").json()["paused"] is False
        on_every_worker(replicas, chat(keeper), answers("200"), "the resume", time.monotonic())

        # New prices: $2 per 1M tokens, in and out, twice the configured $1 (200 microcents a token: exact)
        priced = chat(keeper, "scale-repriced")
        configured = int(priced(first).headers["x-weir-cost-microcents"])
        try:
            changed = admin.patch("/models/scale-repriced", json={"price": {"input": 2.0, "output": 2.0}})
            assert changed.status_code == 200, changed.text
            doubled = str(2 * configured)
            on_every_worker(
                replicas,
                priced,
                lambda answer: answer.headers.get("x-weir-cost-microcents") == doubled,
                "the new prices",
                time.monotonic(),
            )
        finally:
            assert other.patch("/models/scale-repriced", json={"price": None}).json()["prices_set"] is False

        # A tier's limit: within two intervals, not one. A worker reads the tiers' settings once an interval, and a
        # key's cached access (authentication's) keeps the settings it was made with until it expires, one
        # interval more. (Dropping the cached access when the tiers change would make it one.)
        limit = "x-ratelimit-limit-requests"
        on_every_worker(replicas, chat(keeper), lambda answer: answer.headers.get(limit) == "1000", "the tier")
        try:
            changed = other.patch("/tiers/movable", json={"requests_per_minute": 999})
            assert changed.status_code == 200, changed.text
            on_every_worker(
                replicas,
                chat(keeper),
                lambda answer: answer.headers.get(limit) == "999",
                "the tier's limit",
                time.monotonic(),
            )
        finally:
            assert admin.post("/tiers/movable/reset").json()["settings_set"] is False


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
