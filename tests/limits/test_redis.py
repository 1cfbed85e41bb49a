"""What only the Redis backend has: several processes on one server, server time, TTLs, scripts, outages."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.support.processes import ROOT
from tests.support.redis import RedisServer
from weir.errors import LimitsUnavailable
from weir.limits import Limits, RedisLimiter

pytestmark = pytest.mark.redis

EVERYTHING = Limits(
    requests_per_minute=50,
    requests_per_hour=100,
    requests_per_day=1000,
    tokens_per_minute=10_000,
    tokens_per_day=100_000,
    max_concurrent=10,
    max_ips=5,
)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def backend_errors(operation: str) -> float:
    return REGISTRY.get_sample_value("weir_limits_backend_errors_total", {"operation": operation}) or 0.0


def test_several_processes_on_one_redis_admit_exactly_n(redis_url: str) -> None:
    """Three processes, 120 admissions each per key in waves of 5 (they interleave at Redis while each process has
    calls left): 150 admitted in all, never 151, for each limit."""
    limits = [
        Limits(requests_per_minute=150),
        Limits(requests_per_hour=150, requests_per_minute=1000),
        Limits(requests_per_day=150),
        Limits(max_concurrent=150),
    ]
    args = [
        sys.executable,
        "-m",
        "tests.limits.hammer",
        redis_url,
        "120",
        *(msgspec.json.encode(x).decode() for x in limits),
    ]
    procs = [
        subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    try:
        for proc in procs:  # all connected...
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        start_at = b"%.3f\n" % (time.time() + 0.2)
        for proc in procs:  # ... then all at once
            assert proc.stdin is not None
            proc.stdin.write(start_at)
            proc.stdin.flush()
        admitted = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
            admitted.append(msgspec.json.decode(out))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [sum(column) for column in zip(*admitted, strict=True)] == [150, 150, 150, 150], admitted


async def test_many_limiters_at_once_admit_exactly_n(redis_url: str) -> None:
    """Eight limiters (eight pools, like eight workers), 400 concurrent admissions, every window at once."""
    limiters = [RedisLimiter(redis_url, timeout=5.0) for _ in range(8)]
    limits = Limits(requests_per_minute=30, requests_per_hour=35, requests_per_day=40, max_concurrent=20)
    try:
        decisions = await asyncio.gather(*(limiters[i % 8].admit("k1", limits) for i in range(400)))
        admitted = [d for d in decisions if d.admitted]
        assert len(admitted) == 20
        assert {d.refused_by for d in decisions if not d.admitted} == {"max_concurrent"}
        for decision in admitted:
            await limiters[0].release(decision)  # any process may end a call: the lease is in Redis
        again = await asyncio.gather(*(limiters[i % 8].admit("k1", limits) for i in range(400)))
        assert sum(d.admitted for d in again) == 10  # the minute's 30
        assert {d.refused_by for d in again if not d.admitted} == {"requests_per_minute"}
    finally:
        for limiter in limiters:
            await limiter.close()


async def test_every_key_expires_by_itself(redis_url: str, redis: Redis) -> None:
    limiter = RedisLimiter(redis_url, prefix="ttl:")
    try:
        decisions = [await limiter.admit(f"k{i}", EVERYTHING, ip=f"192.0.2.{i}") for i in range(3)]
        for decision in decisions:
            await limiter.release(decision, 30)
        await limiter.admit("k0", EVERYTHING, ip="192.0.2.9")  # a lease left open
        await limiter.record_tokens("k9", EVERYTHING, 5)
        keys = [key async for key in redis.scan_iter("ttl:*")]
        kinds = {key.rsplit(b":", 1)[1] for key in keys}
        assert kinds == {b"f", b"rm", b"tm", b"c", b"ip"}, keys
        for key in keys:
            ttl = await redis.pttl(key)
            assert 0 < ttl <= 86_400_000 + 60_000, (key, ttl)
    finally:
        await limiter.close()


async def test_windows_follow_the_servers_clock_not_this_process(
    redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RedisLimiter(redis_url)
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)  # this replica's clock is years off
    try:
        decision = await limiter.admit("k1", Limits(requests_per_hour=5))
        seconds, micros = await redis.time()
        assert abs(decision.now_ms - (seconds * 1000 + micros // 1000)) < 2000
        assert decision.requests is not None and decision.requests.reset_ms // 3_600_000 == seconds // 3600 + 1
    finally:
        await limiter.close()


async def test_scripts_are_loaded_again_after_redis_forgets_them(redis_url: str, redis: Redis) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        assert (await limiter.admit("k1", Limits(requests_per_minute=2))).admitted
        await redis.script_flush()
        second, third = await asyncio.gather(*(limiter.admit("k1", Limits(requests_per_minute=2)) for _ in range(2)))
        assert second.admitted and not third.admitted and not second.unchecked and not third.unchecked
    finally:
        await limiter.close()


async def test_redis_down_open_admits_unchecked_counts_and_warns_once(
    redis_factory: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_factory()
    limiter = RedisLimiter(server.url, on_backend_error="open")
    try:
        held = await limiter.admit("k1", Limits(max_concurrent=1))
        assert held.admitted and not held.unchecked
        assert await limiter.health() == "ok"
        server.stop()
        before = backend_errors("admit")
        with caplog.at_level(logging.WARNING, logger="weir.limits"):
            decisions = [await limiter.admit("k1", Limits(max_concurrent=1)) for _ in range(3)]
        assert all(d.admitted and d.unchecked and d.lease is None for d in decisions)
        assert backend_errors("admit") == before + 3
        warnings = [r for r in caplog.records if "on_backend_error" in r.getMessage()]
        assert len(warnings) == 1 and "admits calls unchecked" in warnings[0].getMessage()
        await limiter.release(held, 10)  # never raises: the lease will expire by itself
        assert await limiter.health() == "down"
        server.start()  # back, empty: the scripts are loaded again
        again = await limiter.admit("k1", Limits(max_concurrent=1))
        assert again.admitted and not again.unchecked
        assert not (await limiter.admit("k1", Limits(max_concurrent=1))).admitted
        assert await limiter.health() == "ok"
    finally:
        await limiter.close()


async def test_redis_down_closed_refuses_with_503(redis_factory: Callable[[], RedisServer]) -> None:
    server = redis_factory()
    limiter = RedisLimiter(server.url, on_backend_error="closed")
    try:
        server.stop()
        with pytest.raises(LimitsUnavailable) as caught:
            await limiter.admit("k1", Limits(requests_per_minute=5))
        assert caught.value.status == 503 and caught.value.code == "service_unavailable"
        assert caught.value.extra_headers() == [(b"retry-after", b"1"), (b"retry-after-ms", b"1000")]
        assert (await limiter.admit("k1", Limits())).admitted  # a key without limits needs no Redis
    finally:
        await limiter.close()


async def test_a_stalled_redis_costs_at_most_the_timeout(redis_factory: Callable[[], RedisServer]) -> None:
    """SIGSTOP: connections are accepted and nothing answers (redis-py #3555). Every call ends after ~timeout."""
    server = redis_factory()
    limiter = RedisLimiter(server.url, timeout=0.25)
    try:
        assert (await limiter.admit("k1", Limits(requests_per_minute=5))).admitted  # a pooled connection
        server.pause()
        started = time.monotonic()
        decisions = await asyncio.gather(*(limiter.admit("k1", Limits(requests_per_minute=5)) for _ in range(20)))
        assert all(d.unchecked for d in decisions)
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        assert await limiter.health() == "down"
        assert time.monotonic() - started < 1.5
        server.resume()
        # A stalled call that reached Redis's socket buffer is run when it wakes, and counts (it was admitted,
        # unchecked); a call that waited for a new connection never left. Either way the next call is checked.
        later = await limiter.admit("k1", Limits(requests_per_minute=5))
        assert not later.unchecked and later.requests is not None and later.requests.used >= 2
        decision = await limiter.admit("k2", Limits(requests_per_minute=5))
        assert decision.admitted and not decision.unchecked
    finally:
        server.resume()
        await limiter.close()


async def test_the_releases_of_one_iteration_go_as_one_script_call_per_key(redis_url: str, redis: Redis) -> None:
    """1,500 calls of one key and 1 of another end at once: the first release goes alone (Redis is idle), then one
    script call per key frees every other lease (past the 1,000 a ZREM takes at a time) and records the tokens of
    all; each release returns once Redis has it."""
    limiter = RedisLimiter(redis_url, prefix="joined:")
    limits = Limits(max_concurrent=2000, tokens_per_minute=10**9, tokens_per_day=10**9)
    try:
        await limiter.release(await limiter.admit("k0", limits))  # the script loaded (a NOSCRIPT counts as a call)
        held = [await limiter.admit("k1", limits) for _ in range(1500)]
        other = await limiter.admit("k2", limits)
        assert all(d.admitted for d in held) and other.admitted
        before = (await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
        await asyncio.gather(*(limiter.release(d, 2) for d in held), limiter.release(other, 7))
        after = (await redis.info("commandstats"))["cmdstat_evalsha"]["calls"]
        assert after - before == 3  # the first alone (Redis was idle), then one per key for all the others
        assert await redis.zcard("joined:{k1}:c") == 0 and await redis.zcard("joined:{k2}:c") == 0
        assert int(await redis.hget("joined:{k1}:f", "tdn")) == 3000
        assert int(await redis.hget("joined:{k2}:f", "tms")) == 7
        decision = await limiter.admit("k1", limits)
        assert decision.tokens is not None and decision.tokens.used == 3000
    finally:
        await limiter.close()
