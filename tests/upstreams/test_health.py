"""Keys, breakers and the retry budget, as pure logic over a clock the test sets."""

from __future__ import annotations

from weir.upstreams.health import NO_KEY, Breaker, KeyRing, RetryBudget


def test_keys_in_turn_skipping_cooling_and_retired() -> None:
    ring = KeyRing("p", ["a", "b", "c"])
    assert [ring.pick(0.0).value for _ in range(4)] == ["a", "b", "c", "a"]  # type: ignore[union-attr]
    ring.cool(ring.keys[1], 10, now=0.0)
    ring.retire(ring.keys[2])
    assert {ring.pick(5.0).value for _ in range(5)} == {"a"}  # type: ignore[union-attr]
    assert ring.seconds_until_usable(5.0) == 0.0
    ring.retire(ring.keys[0])
    assert ring.pick(5.0) is None and not ring.usable(5.0)
    assert ring.seconds_until_usable(5.0) == 5.0  # b cools until 10
    assert ring.pick(10.0).value == "b"  # type: ignore[union-attr]
    ring.restore()
    assert ring.usable(0.0) and [k.state(0.0) for k in ring.keys] == ["ok", "ok", "ok"]


def test_a_preferred_key_is_used_while_usable() -> None:
    ring = KeyRing("p", ["a", "b"])
    assert ring.pick(0.0, prefer=1).value == "b"  # type: ignore[union-attr]
    assert ring.pick(0.0, prefer=1).value == "b"  # type: ignore[union-attr]
    ring.cool(ring.keys[1], 60, now=0.0)
    assert ring.pick(1.0, prefer=1).value == "a"  # type: ignore[union-attr]


def test_a_provider_without_keys_is_always_usable() -> None:
    ring = KeyRing("local", [])
    assert ring.pick(0.0) is NO_KEY and ring.usable(0.0)
    ring.cool(NO_KEY, 60, 0.0)
    ring.retire(NO_KEY)
    assert ring.pick(0.0) is NO_KEY


def test_breaker_closed_open_half_open_closed() -> None:
    b = Breaker(failures=3, open_seconds=30)
    for _ in range(2):
        b.failure(0.0)
    assert b.state == "closed" and b.acquire(0.0)
    b.success()  # success resets the count
    for _ in range(2):
        b.failure(1.0)
    assert b.state == "closed"
    b.failure(1.0)
    assert b.state == "open" and not b.available(30.9) and not b.acquire(30.9)
    assert b.seconds_until_trial(11.0) == 20.0
    assert b.acquire(31.0) and b.state == "half_open"
    assert not b.acquire(31.0) and not b.available(31.0)  # one trial at a time
    b.success()
    assert b.state == "closed" and b.acquire(31.0)


def test_a_failed_trial_reopens_and_a_lost_trial_is_given_up() -> None:
    b = Breaker(failures=1, open_seconds=10)
    b.failure(0.0)
    assert b.acquire(10.0)
    b.failure(10.0)
    assert b.state == "open" and not b.available(19.0) and b.available(20.0)
    assert b.acquire(20.0)
    assert not b.available(25.0)
    assert b.available(30.0)  # the trial never reported: another may try
    b.release()
    assert b.available(20.0)


def test_retry_budget_ratio_minimum_and_window() -> None:
    budget = RetryBudget(ratio=0.2, minimum=3, window=10)
    for _ in range(10):
        budget.call(0.0)
    assert [budget.try_retry(0.5) for _ in range(4)] == [True, True, True, False]  # max(3, 2)
    for _ in range(40):
        budget.call(1.0)
    assert sum(budget.try_retry(1.5) for _ in range(20)) == 7  # 20% of 50 = 10, 3 taken already
    assert not budget.try_retry(9.9)
    assert budget.try_retry(11.0)  # the second-0 bucket left the window
