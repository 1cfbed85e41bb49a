"""Every window and every check, against both backends (tests/limits/conftest.py: `backend`)."""

from __future__ import annotations

import asyncio
import gc

from tests.limits.support import DAY, HOUR, T0, Backend
from weir.limits import Decision, Limits

SLACK_MS = 1500  # Redis's clock keeps running between the test's calls


async def admit_all(backend: Backend, limits: Limits, n: int, key: str = "k1", ip: str | None = None) -> list[Decision]:
    return [await backend.limiter.admit(key, limits, ip=ip) for _ in range(n)]


def close_to(backend: Backend, actual_ms: int, expected_ms: int) -> bool:
    return actual_ms == expected_ms if backend.exact else abs(actual_ms - expected_ms) <= SLACK_MS


async def test_no_limits_no_windows(backend: Backend) -> None:
    decision = await backend.limiter.admit("k1", Limits())
    assert decision.admitted
    assert (decision.requests, decision.daily, decision.tokens, decision.warning, decision.lease) == (None,) * 5


async def test_requests_per_minute_admits_n_and_refuses_the_next(backend: Backend) -> None:
    limits = Limits(requests_per_minute=5)
    decisions = await admit_all(backend, limits, 5)
    assert [d.admitted for d in decisions] == [True] * 5
    assert [d.requests.remaining for d in decisions if d.requests] == [4, 3, 2, 1, 0]
    refused = await backend.limiter.admit("k1", limits)
    assert not refused.admitted and refused.refused_by == "requests_per_minute"
    assert refused.requests is not None and refused.requests.used == 5  # the refused call counts nowhere
    assert close_to(backend, refused.retry_after_ms, 60_000)
    assert 59 <= refused.retry_after <= 60
    other = await backend.limiter.admit("k2", limits)  # another key has its own window
    assert other.admitted


async def test_the_minute_window_slides(backend: Backend) -> None:
    """N in any 60 seconds: calls leave the window one by one, 60 s after each was admitted."""
    limits = Limits(requests_per_minute=3)
    await admit_all(backend, limits, 2)  # t = 0
    backend.advance(30)
    assert (await backend.limiter.admit("k1", limits)).admitted  # t = 30
    backend.advance(20)
    refused = await backend.limiter.admit("k1", limits)  # t = 50: three in the last minute
    assert not refused.admitted
    assert close_to(backend, refused.retry_after_ms, 10_000)  # the two of t = 0 leave at t = 60
    backend.advance(10)  # t = 60: the calls of t = 0 have just left
    first, second, third = await admit_all(backend, limits, 3)
    assert first.admitted and second.admitted and not third.admitted  # the call of t = 30 still counts
    assert close_to(backend, third.retry_after_ms, 30_000)  # ... until t = 90
    assert first.requests is not None
    assert close_to(backend, first.requests.reset_ms, (T0 + 60 + 60) * 1000)  # whole again 60 s after the newest


async def test_requests_per_hour_is_the_utc_clock_hour(backend: Backend) -> None:
    limits = Limits(requests_per_hour=3)
    hour_end = (T0 // HOUR + 1) * HOUR
    await backend.move_to(hour_end - 10)
    decisions = await admit_all(backend, limits, 4)
    assert [d.admitted for d in decisions] == [True, True, True, False]
    refused = decisions[-1]
    assert refused.refused_by == "requests_per_hour"
    assert close_to(backend, refused.retry_after_ms, 10_000)
    assert decisions[0].requests is not None and decisions[0].requests.reset_ms == hour_end * 1000
    backend.advance(11)  # the next hour
    again = await admit_all(backend, limits, 4)
    assert [d.admitted for d in again] == [True, True, True, False]
    assert again[0].requests is not None and again[0].requests.reset_ms == (hour_end + HOUR) * 1000


async def test_requests_per_day_is_the_utc_day(backend: Backend) -> None:
    limits = Limits(requests_per_day=2, requests_per_hour=100)
    day_end = (T0 // DAY + 1) * DAY
    await backend.move_to(day_end - 5)
    decisions = await admit_all(backend, limits, 3)
    assert [d.admitted for d in decisions] == [True, True, False]
    assert decisions[-1].refused_by == "requests_per_day"
    assert close_to(backend, decisions[-1].retry_after_ms, 5_000)
    daily = decisions[1].daily
    assert daily is not None and (daily.limit, daily.remaining, daily.reset_ms) == (2, 0, day_end * 1000)
    # The tightest request window is the daily one (none left), not the hour's 98.
    assert decisions[1].requests == daily
    backend.advance(6)
    assert (await backend.limiter.admit("k1", limits)).admitted


async def test_only_admitted_calls_count(backend: Backend) -> None:
    """A call refused by one window is counted in none: not in the windows that had room either."""
    limits = Limits(requests_per_minute=100, requests_per_hour=2, requests_per_day=100)
    await admit_all(backend, limits, 2)
    refused = await admit_all(backend, limits, 5)
    assert not any(d.admitted for d in refused)
    last = refused[-1]
    assert last.daily is not None and last.daily.used == 2
    minute = await backend.limiter.admit("k1", Limits(requests_per_minute=100))
    assert minute.requests is not None and minute.requests.used == 3  # the two admitted, and this one


async def test_tokens_per_minute_refuses_once_spent_and_one_call_may_overshoot(backend: Backend) -> None:
    limits = Limits(tokens_per_minute=100)
    first = await backend.limiter.admit("k1", limits)
    await backend.limiter.release(first, 60)
    backend.advance(10)
    second = await backend.limiter.admit("k1", limits)
    assert second.admitted and second.tokens is not None and second.tokens.remaining == 40
    await backend.limiter.release(second, 50)  # 110: the call that crossed the limit is counted whole
    backend.advance(10)
    refused = await backend.limiter.admit("k1", limits)
    assert not refused.admitted and refused.refused_by == "tokens_per_minute"
    assert refused.tokens is not None and (refused.tokens.used, refused.tokens.remaining) == (110, 0)
    assert close_to(backend, refused.retry_after_ms, 40_000)  # the 60 leave at t = 60, and 50 < 100
    backend.advance(41)
    assert (await backend.limiter.admit("k1", limits)).admitted


async def test_tokens_per_day_and_record_tokens(backend: Backend) -> None:
    limits = Limits(tokens_per_day=1000, tokens_per_minute=10_000)
    day_end = (T0 // DAY + 1) * DAY
    await backend.move_to(day_end - 100)
    await backend.limiter.record_tokens("k1", limits, 999)
    ok = await backend.limiter.admit("k1", limits)
    assert ok.admitted and ok.tokens is not None and (ok.tokens.name, ok.tokens.remaining) == ("tokens_per_day", 1)
    await backend.limiter.record_tokens("k1", limits, 1)
    refused = await backend.limiter.admit("k1", limits)
    assert refused.refused_by == "tokens_per_day"
    assert close_to(backend, refused.retry_after_ms, 100_000)
    backend.advance(101)
    assert (await backend.limiter.admit("k1", limits)).admitted


async def test_tokens_are_not_recorded_for_keys_without_token_limits(backend: Backend) -> None:
    await backend.limiter.record_tokens("k1", Limits(requests_per_minute=5), 10**9)
    decision = await backend.limiter.admit("k1", Limits(tokens_per_minute=10))
    assert decision.admitted and decision.tokens is not None and decision.tokens.used == 0


async def test_max_concurrent_is_acquire_and_release(backend: Backend) -> None:
    limits = Limits(max_concurrent=2)
    first, second, third = await admit_all(backend, limits, 3)
    assert first.admitted and second.admitted and first.lease and second.lease and first.lease != second.lease
    assert not third.admitted and third.refused_by == "max_concurrent" and third.lease is None
    assert third.retry_after == 1
    await backend.limiter.release(first)
    await backend.limiter.release(first)  # exactly once: the second release frees nothing
    await backend.limiter.release(third)  # a refused call holds nothing
    fourth, fifth = await admit_all(backend, limits, 2)
    assert fourth.admitted and not fifth.admitted
    await backend.limiter.release(second)
    await backend.limiter.release(fourth)
    assert all(d.admitted for d in await admit_all(backend, limits, 2))


async def test_a_refused_call_takes_no_slot(backend: Backend) -> None:
    limits = Limits(max_concurrent=5, requests_per_minute=1)
    await admit_all(backend, limits, 6)
    slots = await admit_all(backend, Limits(max_concurrent=5), 5)
    assert [d.admitted for d in slots] == [True, True, True, True, False]  # one slot taken, by the admitted call


async def test_a_crashed_callers_slots_expire_and_live_calls_keep_theirs(backend: Backend) -> None:
    """Leases last lease_seconds (30) unless renewed; the renewal covers the decisions still referenced."""
    limits = Limits(max_concurrent=2)
    held = await backend.limiter.admit("k1", limits)
    dropped = await backend.limiter.admit("k1", limits)
    assert held.admitted and dropped.admitted
    del dropped  # its caller died without releasing it
    gc.collect()
    for _ in range(3):  # 60 s in all, renewing every 20 s
        backend.advance(20)
        await backend.limiter.renew()
    again, refused = await admit_all(backend, limits, 2)
    assert again.admitted  # the dropped call's slot expired
    assert not refused.admitted  # the held one is still in flight
    await backend.limiter.release(held)
    assert (await backend.limiter.admit("k1", limits)).admitted


async def test_max_ips_counts_distinct_ips_per_utc_day(backend: Backend) -> None:
    limits = Limits(max_ips=2)
    day_end = (T0 // DAY + 1) * DAY
    await backend.move_to(day_end - 30)
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.1")).admitted
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.2")).admitted
    refused = await backend.limiter.admit("k1", limits, ip="192.0.2.3")
    assert not refused.admitted and refused.refused_by == "max_ips"
    assert close_to(backend, refused.retry_after_ms, 30_000)
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.1")).admitted  # a known address still may
    assert (await backend.limiter.admit("k1", limits)).admitted  # no address known: max_ips cannot apply
    backend.advance(31)
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.3")).admitted  # a new day


async def test_a_call_refused_elsewhere_does_not_spend_an_ip(backend: Backend) -> None:
    limits = Limits(max_ips=1, requests_per_minute=1)
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.1")).admitted
    assert not (await backend.limiter.admit("k1", limits, ip="192.0.2.2")).admitted  # refused: minute, then IPs
    backend.advance(61)
    assert not (await backend.limiter.admit("k1", limits, ip="192.0.2.2")).admitted  # 192.0.2.2 never counted...
    assert (await backend.limiter.admit("k1", limits, ip="192.0.2.1")).admitted  # ... and .1 still may


async def test_the_longest_wait_is_the_one_told(backend: Backend) -> None:
    """Spent minute and day windows: the call cannot pass before the day's reset, so that is what it is told."""
    limits = Limits(requests_per_minute=1, requests_per_day=1)
    await backend.limiter.admit("k1", limits)
    refused = await backend.limiter.admit("k1", limits)
    assert refused.refused_by == "requests_per_day"
    assert close_to(backend, refused.retry_after_ms, ((T0 // DAY + 1) * DAY - T0) * 1000)


async def test_warning_from_80_percent(backend: Backend) -> None:
    limits = Limits(requests_per_hour=10, requests_per_day=100)
    decisions = await admit_all(backend, limits, 9)
    assert [d.warning is not None for d in decisions] == [False] * 7 + [True, True]
    warning = decisions[7].warning
    assert warning is not None and (warning.name, warning.used, warning.limit) == ("requests_per_hour", 8, 10)


async def test_the_tightest_request_window_is_reported(backend: Backend) -> None:
    limits = Limits(requests_per_minute=10, requests_per_hour=3)
    decision = await backend.limiter.admit("k1", limits)
    assert decision.requests is not None and decision.requests.name == "requests_per_hour"
    assert decision.requests.remaining == 2


async def test_concurrent_admissions_admit_exactly_n(backend: Backend) -> None:
    limits = Limits(requests_per_minute=40, requests_per_hour=200)
    decisions = await asyncio.gather(*(backend.limiter.admit("k1", limits) for _ in range(300)))
    assert sum(d.admitted for d in decisions) == 40
    assert sorted(d.requests.remaining for d in decisions if d.admitted and d.requests) == list(range(40))


async def test_concurrent_slots_admit_exactly_max(backend: Backend) -> None:
    limits = Limits(max_concurrent=7)
    decisions = await asyncio.gather(*(backend.limiter.admit("k1", limits) for _ in range(100)))
    admitted = [d for d in decisions if d.admitted]
    assert len(admitted) == 7
    await asyncio.gather(*(backend.limiter.release(d) for d in admitted[:3]))
    again = await asyncio.gather(*(backend.limiter.admit("k1", limits) for _ in range(100)))
    assert sum(d.admitted for d in again) == 3


async def test_a_late_renewal_does_not_revive_an_expired_slot(backend: Backend) -> None:
    limits = Limits(max_concurrent=1)
    held = await backend.limiter.admit("k1", limits)
    backend.advance(31)  # past lease_seconds without a renewal: a stalled or crashed worker
    await backend.limiter.renew()
    other = await backend.limiter.admit("k1", limits)
    assert held.admitted and other.admitted
    backend.advance(20)
    await backend.limiter.renew()  # renews the live ones, the second call's among them
    assert not (await backend.limiter.admit("k1", limits)).admitted
