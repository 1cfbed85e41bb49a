"""Both limiter backends behind one test harness, each with a clock the test moves.

In-process, the clock is the limiter's own (`clock=`): time stands still until the test moves it. With Redis the
scripts read the server's clock, which keeps running; the test moves it with the limiter's `time_shift_ms`, so
figures that depend on time are checked to within a few milliseconds there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from weir.limits import InProcessLimiter, RedisLimiter
from weir.limits.base import DAY_MS, HOUR_MS

HOUR = HOUR_MS // 1000
DAY = DAY_MS // 1000
# A moment well inside an hour and a day (2027-03-10T14:20:00Z), so that nothing crosses a boundary by accident.
T0 = 1_804_688_400


class Clock:
    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms

    def __call__(self) -> float:
        return self.ms / 1000


@dataclass
class Backend:
    name: str
    limiter: InProcessLimiter | RedisLimiter
    clock: Clock | None = None  # in-process
    redis: Redis | None = None  # the server the Redis limiter uses

    async def move_to(self, unix_seconds: float) -> None:
        """From now on the limiter's time is `unix_seconds` (then it runs on with Redis, stands still in-process)."""
        if isinstance(self.limiter, InProcessLimiter):
            assert self.clock is not None
            self.clock.ms = int(unix_seconds * 1000)
        else:
            assert self.redis is not None
            seconds, micros = await self.redis.time()
            self.limiter.time_shift_ms = int(unix_seconds * 1000) - (seconds * 1000 + micros // 1000)

    def advance(self, seconds: float) -> None:
        if isinstance(self.limiter, InProcessLimiter):
            assert self.clock is not None
            self.clock.ms += int(seconds * 1000)
        else:
            self.limiter.time_shift_ms += int(seconds * 1000)

    @property
    def exact(self) -> bool:
        """Time stands still between calls (in-process), so waits can be compared exactly."""
        return isinstance(self.limiter, InProcessLimiter)


def in_process(lease_seconds: float = 30.0) -> Backend:
    clock = Clock(int(time.time() * 1000))
    return Backend("inprocess", InProcessLimiter(lease_seconds=lease_seconds, clock=clock), clock=clock)
