"""What only the in-process backend has: its memory is bounded by the keys with something counted."""

from __future__ import annotations

import asyncio

from tests.limits.support import T0, Clock
from weir.limits import InProcessLimiter, Limits


def limiter_at_t0() -> tuple[InProcessLimiter, Clock]:
    clock = Clock(T0 * 1000)
    return InProcessLimiter(clock=clock), clock


async def test_idle_keys_are_forgotten() -> None:
    limiter, clock = limiter_at_t0()
    for i in range(50):
        await limiter.admit(f"k{i}", Limits(requests_per_minute=5))
    held = await limiter.admit("held", Limits(max_concurrent=1))
    await limiter.admit("daily", Limits(requests_per_day=5))
    assert limiter.keys == 52
    for _ in range(3):
        clock.ms += 20_000
        await limiter.renew()  # the call in flight keeps its slot
    limiter.sweep(clock.ms)
    assert limiter.keys == 2  # the day's count and the call in flight remain
    await limiter.release(held)
    clock.ms += 24 * 3600 * 1000
    limiter.sweep(clock.ms)
    assert limiter.keys == 0


async def test_a_forgotten_key_starts_afresh() -> None:
    limiter, clock = limiter_at_t0()
    limits = Limits(requests_per_minute=2)
    await limiter.admit("k1", limits)
    await limiter.admit("k1", limits)
    clock.ms += 60_000
    limiter.sweep(clock.ms)
    assert limiter.keys == 0
    decision = await limiter.admit("k1", limits)
    assert decision.admitted and decision.requests is not None and decision.requests.remaining == 1


async def test_the_renewal_task_keeps_a_live_calls_slot() -> None:
    limiter = InProcessLimiter(lease_seconds=0.3)  # renews every 0.1 s
    limiter.start()
    try:
        held = await limiter.admit("k1", Limits(max_concurrent=1))
        await asyncio.sleep(0.7)  # past lease_seconds: only the renewals keep the slot
        assert not (await limiter.admit("k1", Limits(max_concurrent=1))).admitted
        await limiter.release(held)
        assert (await limiter.admit("k1", Limits(max_concurrent=1))).admitted
    finally:
        await limiter.close()


async def test_a_dropped_decisions_slot_is_not_renewed_and_expires() -> None:
    """A caller that loses its decision without releasing it (a bug) must not hold its slot forever."""
    limiter, clock = limiter_at_t0()
    limits = Limits(max_concurrent=2)
    kept = await limiter.admit("k1", limits)
    dropped = await limiter.admit("k1", limits)
    assert kept.admitted and dropped.admitted
    del dropped  # its last reference (no cycle): freed at once, with no gc.collect() to run other tests' finalizers
    for _ in range(3):  # past lease_seconds (30 s): only a renewed lease is still held
        clock.ms += 20_000
        await limiter.renew()
    assert (await limiter.admit("k1", limits)).admitted  # the dropped call's slot has expired
    assert not (await limiter.admit("k1", limits)).admitted  # the kept call's slot was renewed
    await limiter.release(kept)
