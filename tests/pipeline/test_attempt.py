"""The exchange loop over in-memory upstreams: what fails over and what does not, bounds, breakers, keys."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from tests.pipeline.exchange_support import World, chat_answer, chat_stream
from tests.support.transport import Answer, Sent
from weir.observability.metrics import FAILURE_CAUSES

TWO = [{"provider": "a"}, {"provider": "b"}]
ORDERED = [{"provider": "a", "priority": 0}, {"provider": "b", "priority": 1}]


def fail(status: int, body: bytes = b'{"error": {"message": "nope", "type": "server_error"}}', **headers: str) -> Any:
    return lambda req: Answer(status, body, {"Content-Type": "application/json", **headers})


def refuse(req: Sent) -> Answer:
    raise aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("a.test", 80, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )


def reset(req: Sent) -> Answer:
    raise aiohttp.ServerDisconnectedError()


async def hang(req: Sent) -> Answer:
    await asyncio.sleep(30)
    return chat_answer()


def ok(req: Sent) -> Answer:
    return chat_answer("from b")


FAILOVER_CAUSES = {
    "refused": refuse,
    "reset": reset,
    "429": fail(429),
    "500": fail(500),
    "502": fail(502),
    "503": fail(503),
    "504": fail(504),
    "529": fail(529),
    "401": fail(401),
    "403": fail(403),
    "not json": lambda req: Answer(200, b"<html>oops</html>", {"Content-Type": "text/html"}),
}


@pytest.mark.parametrize("cause", sorted(FAILOVER_CAUSES))
async def test_each_failover_cause_moves_to_the_next_route(cause: str) -> None:
    world = World({"a": FAILOVER_CAUSES[cause], "b": ok}, ORDERED)
    out = await world.call()
    assert out.error is None, out.error
    assert out.status == 200 and out.json["choices"][0]["message"]["content"] == "from b"
    assert (world.calls("a"), world.calls("b")) == (1, 1)
    [record] = world.settler.records
    assert record.provider == "b" and record.status == 200 and record.cost_microcents > 0


@pytest.mark.parametrize("status", [400, 404, 408, 413, 422])
async def test_the_request_s_own_fault_is_the_answer(status: int) -> None:
    world = World(
        {"a": fail(status, b'{"error": {"message": "bad field", "type": "invalid_request_error"}}'), "b": ok}, ORDERED
    )
    out = await world.call()
    assert out.error is not None and out.error.status == status and "bad field" in out.error.message
    assert world.calls("b") == 0
    [record] = world.settler.records
    assert record.provider == "a" and record.status == status and record.cost_microcents == 0


async def test_timeouts_before_the_first_byte_fail_over() -> None:
    world = World({"a": hang, "b": ok}, ORDERED, providers="first_byte_timeout_seconds = 0.05")
    out = await world.call()
    assert out.status == 200 and world.calls("b") == 1


async def test_a_stream_that_breaks_before_its_first_byte_fails_over() -> None:
    world = World({"a": lambda req: Answer(200, [ConnectionResetError()]), "b": lambda req: chat_stream("b")}, ORDERED)
    out = await world.call(stream=True)
    assert out.status == 200 and b"[DONE]" in out.body and world.calls("b") == 1


async def test_no_failover_after_the_first_byte() -> None:
    world = World({"a": lambda req: chat_stream("a", cut_after_first=True), "b": lambda req: chat_stream("b")}, ORDERED)
    out = await world.call(stream=True)
    assert out.status == 200
    assert b'"content":"a"' in out.body.replace(b" ", b"")
    assert b'"error"' in out.body and b"[DONE]" not in out.body  # the dialect's error event ends it
    assert world.calls("b") == 0
    [record] = world.settler.records
    assert record.provider == "a" and record.status == 502


async def test_every_attempt_failed_gives_the_last_failure() -> None:
    world = World({"a": fail(500), "b": fail(503)}, ORDERED)
    out = await world.call()
    assert out.error is not None and out.error.status == 503
    [record] = world.settler.records  # one record per call, however many attempts
    assert record.provider == "b" and record.cost_microcents == 0


async def test_a_rejected_provider_key_is_502_upstream_auth_failed_never_the_client_s_401() -> None:
    world = World(
        {"a": fail(401, b'{"error": {"message": "Incorrect API key provided: sk-live-abcdefgh1234"}}')},
        [{"provider": "a"}],
    )
    out = await world.call()
    assert out.error is not None and out.error.status == 502 and out.error.code == "upstream_auth_failed"
    assert "sk-live" not in out.error.message


async def test_at_most_max_attempts() -> None:
    handlers = {name: fail(500) for name in "abcde"}
    world = World(handlers, [{"provider": n, "priority": i} for i, n in enumerate("abcde")], routing="max_attempts = 3")
    out = await world.call()
    assert out.error is not None
    assert [world.calls(n) for n in "abcde"] == [1, 1, 1, 0, 0]


async def test_the_retry_budget_bounds_failovers() -> None:
    # 20% of calls, at least 3 per 10 s: 10 calls whose first route fails get 3 retries (20% of 10 is 2)
    world = World({"a": fail(500), "b": ok}, ORDERED, routing="breaker_failures = 1000")
    outcomes = [await world.call() for _ in range(10)]
    assert sum(o.status == 200 for o in outcomes) == 3
    assert world.calls("b") == 3 and world.calls("a") == 10
    world.clock.now += 11  # the window has passed
    assert (await world.call()).status == 200


async def test_the_retry_budget_grows_with_traffic() -> None:
    world = World({"a": fail(500), "b": ok}, ORDERED, routing="breaker_failures = 100000")
    # 100 calls within one window; the first route fails one call in ten
    flaky = iter([i % 10 == 0 for i in range(100)])
    world.transports["a"].handler = lambda req: fail(500)(req) if next(flaky) else chat_answer("from a")
    outcomes = [await world.call() for _ in range(100)]
    assert all(o.status == 200 for o in outcomes)  # 10 retries, within 20% of 100


async def test_breaker_opens_skips_then_one_half_open_trial_closes_it() -> None:
    state = {"a_up": False}

    def a(req: Sent) -> Answer:
        return chat_answer("from a") if state["a_up"] else fail(500)(req)

    world = World({"a": a, "b": ok}, ORDERED, routing="breaker_failures = 3\nbreaker_open_seconds = 30")
    route_a = world.model.routes[0]
    for _ in range(3):
        assert (await world.call()).status == 200  # served by b
    assert route_a.breaker.state == "open"
    before = world.calls("a")
    for _ in range(5):
        await world.call()
    assert world.calls("a") == before  # skipped while open
    world.clock.now += 31
    state["a_up"] = True
    out = await world.call()
    assert out.json["choices"][0]["message"]["content"] == "from a"  # the trial
    assert route_a.breaker.state == "closed"


async def test_a_failed_half_open_trial_opens_the_breaker_again() -> None:
    world = World({"a": fail(500), "b": ok}, ORDERED, routing="breaker_failures = 2\nbreaker_open_seconds = 10")
    for _ in range(2):
        await world.call()
    world.clock.now += 11
    await world.call()  # the trial fails, b serves
    assert world.model.routes[0].breaker.state == "open"
    before = world.calls("a")
    await world.call()
    assert world.calls("a") == before


async def test_no_usable_route_is_503_with_retry_after_until_the_soonest_trial() -> None:
    world = World({"a": fail(500)}, [{"provider": "a"}], routing="breaker_failures = 1\nbreaker_open_seconds = 30")
    await world.call()
    world.clock.now += 10
    out = await world.call()
    assert out.error is not None and out.error.status == 503 and out.error.code == "no_channel_available"
    assert out.error.message == "no available channel for model m"
    assert out.error.retry_after == 20
    assert (b"retry-after", b"20") in out.error.extra_headers()


async def test_every_candidate_paused_is_429_provider_paused() -> None:
    world = World({"a": ok, "b": ok}, TWO)
    for upstream in world.upstreams.values():
        upstream.paused = "maintenance"
    out = await world.call()
    assert out.error is not None and out.error.status == 429 and out.error.code == "provider_paused"
    assert world.calls("a") == world.calls("b") == 0


async def test_a_paused_provider_is_skipped() -> None:
    world = World({"a": ok, "b": ok}, ORDERED)
    world.upstreams["a"].paused = "maintenance"
    await world.call()
    assert (world.calls("a"), world.calls("b")) == (0, 1)


async def test_priority_order() -> None:
    world = World({"a": ok, "b": ok}, [{"provider": "a", "priority": 5}, {"provider": "b", "priority": -1}])
    for _ in range(20):
        await world.call()
    assert (world.calls("a"), world.calls("b")) == (0, 20)


async def test_weights_spread_traffic_in_proportion() -> None:
    world = World(
        {"a": ok, "b": ok, "c": ok},
        [{"provider": "a", "weight": 1}, {"provider": "b", "weight": 3}, {"provider": "c", "weight": 6}],
    )
    n = 2000
    picks = {"a": 0, "b": 0, "c": 0}
    for _ in range(n):
        routes, _ = world.router.candidates(world.model)
        picks[routes[0].upstream.name] += 1
    for name, share in (("a", 0.1), ("b", 0.3), ("c", 0.6)):
        # a binomial's standard deviation is sqrt(n p (1 - p)) <= 22 here; 5 of them is a loose, reliable bound
        assert abs(picks[name] - n * share) < 5 * (n * share * (1 - share)) ** 0.5, picks


async def test_the_others_of_a_priority_are_the_next_candidates() -> None:
    world = World({"a": ok, "b": ok, "c": ok}, [{"provider": "a"}, {"provider": "b"}, {"provider": "c", "priority": 1}])
    for _ in range(50):
        routes, _ = world.router.candidates(world.model)
        assert {r.upstream.name for r in routes[:2]} == {"a", "b"} and routes[2].upstream.name == "c"


async def test_keys_are_used_in_turn() -> None:
    world = World({"a": ok}, [{"provider": "a"}], keys={"a": ["k0", "k1", "k2"]})
    for _ in range(6):
        await world.call()
    used = [s.headers["Authorization"] for s in world.transports["a"].sent]
    assert used == ["Bearer k0", "Bearer k1", "Bearer k2"] * 2


async def test_a_429_key_cools_down_for_its_retry_after() -> None:
    calls: list[str] = []

    def handler(req: Sent) -> Answer:
        calls.append(req.headers["Authorization"])
        if req.headers["Authorization"] == "Bearer k0" and len(calls) == 1:
            return fail(429, **{"retry-after": "20"})(req)
        return chat_answer()

    world = World({"a": handler, "b": ok}, ORDERED, keys={"a": ["k0", "k1"]})
    assert (await world.call()).status == 200  # k0 got 429: the call failed over to b
    for _ in range(4):
        await world.call()
    assert calls[1:] == ["Bearer k1"] * 4  # k0 is cooling
    world.clock.now += 21
    await world.call()
    await world.call()
    assert "Bearer k0" in calls[5:]
    assert world.upstreams["a"].keys.keys[0].state(world.clock.now) == "ok"


async def test_a_rejected_key_is_retired_and_the_provider_skipped_once_all_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World({"a": fail(401), "b": ok}, ORDERED, keys={"a": ["k0-secret-value", "k1-secret-value"]})
    with caplog.at_level("WARNING", logger="weir.upstreams"):
        await world.call()
        await world.call()
    ring = world.upstreams["a"].keys
    assert [k.state(world.clock.now) for k in ring.keys] == ["retired", "retired"]
    assert "key #0" in caplog.text and "key #1" in caplog.text and "secret" not in caplog.text
    before = world.calls("a")
    for _ in range(3):
        assert (await world.call()).status == 200
    assert world.calls("a") == before  # no usable key: skipped
    ring.restore()
    await world.call()
    assert world.calls("a") == before + 1


async def test_a_sticky_session_stays_on_its_route_and_key() -> None:
    world = World({"a": ok, "b": ok}, TWO, keys={"a": ["ka0", "ka1"], "b": ["kb0", "kb1"]})
    first = await world.call(session="s1")
    assert first.status == 200
    served = [s for s in ("a", "b") if world.calls(s)][0]
    key = world.transports[served].sent[0].headers["Authorization"]
    for _ in range(10):
        await world.call(session="s1")
        await world.call()  # other traffic moves the round robin on
    session_calls = [s.headers["Authorization"] for s in world.transports[served].sent]
    assert session_calls.count(key) >= 11
    world.clock.now += 601  # the session expired: no longer sticky
    assert world.router.sticky.get("m", "s1", world.clock.now) is None


async def test_a_sticky_session_leaves_a_route_that_fails() -> None:
    state = {"down": ""}

    def make(name: str) -> Any:
        return lambda req: fail(500)(req) if state["down"] == name else chat_answer(name)

    world = World({"a": make("a"), "b": make("b")}, TWO)
    first = await world.call(session="s")
    served = first.json["choices"][0]["message"]["content"]
    state["down"] = served
    second = await world.call(session="s")
    assert second.status == 200 and second.json["choices"][0]["message"]["content"] != served


async def test_mixed_dialect_routes_translate_per_attempt() -> None:
    anthropic = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "up",
        "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "from anthropic"}],
        "usage": {"input_tokens": 4, "output_tokens": 3},
    }
    world = World(
        {"a": fail(503), "b": lambda req: Answer(200, orjson.dumps(anthropic), {"Content-Type": "application/json"})},
        ORDERED,
        dialects={"b": "anthropic"},
    )
    out = await world.call()
    assert out.status == 200 and out.json["choices"][0]["message"]["content"] == "from anthropic"
    sent = world.transports["b"].sent[0]
    assert sent.url == "http://b.test/v1/messages" and b'"max_tokens"' in sent.body
    [record] = world.settler.records
    assert record.provider == "b" and record.input_tokens == 4 and record.output_tokens == 3


async def test_metrics_count_attempts_failures_and_failovers() -> None:
    world = World({"a": fail(500), "b": ok}, ORDERED, routing="breaker_failures = 100")
    await world.call()
    a, b = world.model.routes
    assert (a.metrics.attempts, b.metrics.attempts) == (1, 1)
    assert a.metrics.failovers == 1 and b.metrics.failovers == 0
    assert a.metrics.failures[FAILURE_CAUSES.index("status_5xx")] == 1 and sum(b.metrics.failures) == 0
