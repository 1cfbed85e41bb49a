"""Limits in this process's memory: the embedded default.

Exact within one process (one event loop: an admission runs from its first check to its last count without
yielding). With several granian workers each would hold its own counts, so Weir refuses that combination unless
storage.redis_url is set (`weir.limits.open_limiter`); docs/limits.md has the measurements behind that choice.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from weir.limits.base import (
    CONCURRENT,
    DAY_MS,
    HOUR_MS,
    IPS,
    MINUTE_MS,
    RPD,
    RPH,
    RPM,
    TPD,
    TPM,
    UNLIMITED,
    Decision,
    Limits,
)
from weir.limits.decision import decide
from weir.limits.leases import LeaseKeeper
from weir.observability.metrics import LIMIT_REFUSALS

SWEEP_EVERY_MS = 60_000


class _KeyState:
    """One key's counts. Fixed windows hold their index (hour or day since the epoch) beside their count, and a
    count from a past window reads as 0."""

    __slots__ = ("day", "day_n", "hour", "hour_n", "ips", "leases", "requests", "tokens", "tokens_day", "tokens_sum")

    def __init__(self) -> None:
        self.requests: deque[int] = deque()  # admission times (ms) of the last minute, oldest first
        self.hour = self.hour_n = 0
        self.day = self.day_n = 0
        self.tokens: deque[tuple[int, int]] = deque()  # (time ms, tokens) recorded in the last minute
        self.tokens_sum = 0
        self.tokens_day = 0
        self.ips: set[str] = set()
        self.leases: dict[str, int] = {}  # lease id -> deadline (ms)

    def roll(self, now: int) -> None:
        """Forget what belongs to past windows."""
        cutoff = now - MINUTE_MS
        requests = self.requests
        while requests and requests[0] <= cutoff:
            requests.popleft()
        tokens = self.tokens
        while tokens and tokens[0][0] <= cutoff:
            self.tokens_sum -= tokens.popleft()[1]
        if not tokens:
            self.tokens_sum = 0
        hour = now // HOUR_MS
        if self.hour != hour:
            self.hour, self.hour_n = hour, 0
        day = now // DAY_MS
        if self.day != day:
            self.day, self.day_n, self.tokens_day = day, 0, 0
            self.ips = set()

    def idle(self, now: int) -> bool:
        """Nothing counted any more: the same as no state at all."""
        self.roll(now)
        if self.leases:
            self.leases = {lease: deadline for lease, deadline in self.leases.items() if deadline > now}
        return not (
            self.requests or self.tokens or self.hour_n or self.day_n or self.tokens_day or self.ips or self.leases
        )


class InProcessLimiter(LeaseKeeper):
    def __init__(self, *, lease_seconds: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        """`clock`: Unix time in seconds (tests pass their own)."""
        super().__init__(lease_seconds)
        self._clock = clock
        self._states: dict[str, _KeyState] = {}
        self._swept = 0

    async def admit(self, key: str, limits: Limits, ip: str | None = None, count: bool = True) -> Decision:
        now = int(self._clock() * 1000)
        if limits == UNLIMITED:
            return Decision(key, limits, now)
        rpm, rph, rpd = limits.requests_per_minute, limits.requests_per_hour, limits.requests_per_day
        tpm, tpd = limits.tokens_per_minute, limits.tokens_per_day
        maxc, maxips = limits.max_concurrent, limits.max_ips
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _KeyState()
        state.roll(now)
        fail = 0
        requests = state.requests
        if rpm is not None and len(requests) >= rpm:
            fail |= RPM
        if rph is not None and state.hour_n >= rph:
            fail |= RPH
        if rpd is not None and state.day_n >= rpd:
            fail |= RPD
        tm_free = 0
        if tpm is not None and state.tokens_sum >= tpm:
            fail |= TPM
            left = state.tokens_sum
            for at, tokens_at in state.tokens:  # the first time the minute's tokens fall below the limit
                left -= tokens_at
                if left < tpm:
                    tm_free = at + MINUTE_MS
                    break
        if tpd is not None and state.tokens_day >= tpd:
            fail |= TPD
        new_ip = maxips is not None and ip is not None and ip not in state.ips
        if new_ip and len(state.ips) >= maxips:  # type: ignore[operator]
            fail |= IPS
        leases = state.leases
        if maxc is not None and len(leases) >= maxc:
            for lease_id, deadline in list(leases.items()):  # a crashed call's slot frees at its deadline
                if deadline <= now:
                    del leases[lease_id]
            if len(leases) >= maxc:
                fail |= CONCURRENT
        lease = None
        if not fail and count:
            if rpm is not None:
                requests.append(now)
            if rph is not None:  # a window counts from when its limit is set
                state.hour_n += 1
            if rpd is not None:
                state.day_n += 1
            if new_ip:
                state.ips.add(ip)  # type: ignore[arg-type]
            if maxc is not None:
                lease = self.new_lease()
                leases[lease] = now + self.lease_ms
        tokens = state.tokens
        decision = decide(
            key,
            limits,
            now,
            fail,
            lease,
            len(requests),
            requests[0] if requests else 0,
            requests[-1] if requests else 0,
            state.hour_n,
            state.day_n,
            state.tokens_sum,
            tokens[-1][0] if tokens else 0,
            tm_free,
            state.tokens_day,
        )
        if lease is not None:
            self.track(decision)
        elif fail:
            LIMIT_REFUSALS.labels(decision.refused_by).inc()
        return decision

    async def record_tokens(self, key: str, limits: Limits, tokens: int) -> None:
        if tokens > 0 and (limits.tokens_per_minute is not None or limits.tokens_per_day is not None):
            self._count_tokens(key, tokens)

    def _count_tokens(self, key: str, tokens: int) -> None:
        now = int(self._clock() * 1000)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _KeyState()
        if state.day != now // DAY_MS:  # a new day: its token count starts at 0 (the minute rolls at admission)
            state.roll(now)
        state.tokens.append((now, tokens))
        state.tokens_sum += tokens
        state.tokens_day += tokens

    async def release(self, decision: Decision, tokens: int = 0) -> None:
        """As LeaseKeeper.release, without a second coroutine: there is no backend to wait for."""
        ended = self.ended(decision, tokens)
        if ended is None:
            return
        lease, counted = ended
        if lease is not None and (state := self._states.get(decision.key)) is not None:
            state.leases.pop(lease, None)
        if counted:
            self._count_tokens(decision.key, counted)

    async def _renew(self, leases: list[tuple[str, str]]) -> None:
        now = int(self._clock() * 1000)
        for key, lease in leases:
            state = self._states.get(key)
            if state is not None and state.leases.get(lease, 0) > now:  # an expired lease stays expired
                state.leases[lease] = now + self.lease_ms

    async def _tick(self) -> None:
        now = int(self._clock() * 1000)
        if now - self._swept >= SWEEP_EVERY_MS:
            self._swept = now
            self.sweep(now)

    def sweep(self, now: int) -> None:
        """Forget the keys that have nothing counted any more."""
        for key in [key for key, state in self._states.items() if state.idle(now)]:
            del self._states[key]

    @property
    def keys(self) -> int:
        """How many keys have state (tests, metrics)."""
        return len(self._states)

    async def health(self) -> str:
        return "disabled"
