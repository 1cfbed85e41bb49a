"""Per-key spend limits: what a key's calls cost in its period (the UTC day, the ISO week from Monday, the UTC
month, or all time), and whether it has reached its limit.

Each process reads a key's spend from the store at most once per `ttl` seconds (auth.key_cache_ttl_seconds) and adds
the cost of its own calls of the key as they settle, so its view is exact for its own calls and at most `ttl` behind
for the others'. A key is refused once its spend has reached the limit: the call that crosses it is admitted and
billed whole (like a token window, one call may overshoot by its own cost), and with several processes the calls
of the last `ttl` seconds may each do so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from weir.store.base import Store
from weir.store.records import SpendPeriod

MAX_TRACKED_KEYS = 100_000


def period_bounds(period: SpendPeriod, now_ms: int) -> tuple[int, int | None]:
    """(start, end) of the period holding `now_ms`, in Unix ms; `end` is None for "total"."""
    if period == "total":
        return 0, None
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


class KeySpend:
    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        # key id -> (period start ms, spend read from the store plus this process's settled calls since, read at)
        self._seen: dict[str, tuple[int, int, float]] = {}

    async def spent(self, account_id: int, key_id: str, period: SpendPeriod) -> tuple[int, int | None]:
        """(what the key spent in its current period, when that period ends); StoreError when the store cannot
        say and nothing recent is known."""
        now = self._clock()
        start, end = period_bounds(period, int(now * 1000))
        seen = self._seen.get(key_id)
        if seen is not None and seen[0] == start and now - seen[2] < self._ttl:
            return seen[1], end
        spent = await self._store.key_spend(account_id, key_id, start)
        if len(self._seen) >= MAX_TRACKED_KEYS:
            self._seen.clear()
        self._seen[key_id] = (start, spent, now)
        return spent, end

    def add(self, key_id: str, cost: int) -> None:
        """A call of the key settled at `cost`: counted at once, before its record is committed."""
        seen = self._seen.get(key_id)
        if seen is not None and cost:
            self._seen[key_id] = (seen[0], seen[1] + cost, seen[2])
