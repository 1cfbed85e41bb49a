"""Sign-in attempts per client address: a sliding window kept in the worker's memory (each worker counts its own;
a bound on guessing, not an accounting)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_ADDRESSES = 10_000  # addresses remembered at most; past it the oldest are forgotten


class SlidingWindow:
    def __init__(self, limit: int = 10, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        """Count an attempt from `address`; False (not counted) when it already made `limit` in the window."""
        now = self._clock()
        hits = self._hits.get(address)
        if hits is None:
            if len(self._hits) >= MAX_ADDRESSES:
                self._forget(now)
            hits = self._hits[address] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again (at least 1)."""
        hits = self._hits.get(address)
        if not hits:
            return 1
        return max(1, int(hits[0] + self.window - self._clock()) + 1)

    def _forget(self, now: float) -> None:
        for address in [a for a, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[address]
        while len(self._hits) >= MAX_ADDRESSES:
            del self._hits[next(iter(self._hits))]
