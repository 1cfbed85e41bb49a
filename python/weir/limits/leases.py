"""What both backends share: the exactly-once release of a call, and the background task that renews the
max_concurrent leases of the calls still in flight.

A lease lives `lease_seconds` unless renewed; the task renews the leases of this process's calls every third of
that. A worker that dies stops renewing, so its slots free by themselves; a decision the caller dropped without
releasing it (a bug) is only weakly referenced from `_live`, so the next renewal finds it gone, forgets it and lets
its slot expire the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import weakref

from weir.background import stop
from weir.limits.base import Decision, Limits

log = logging.getLogger("weir.limits")


class LeaseKeeper:
    def __init__(self, lease_seconds: float) -> None:
        self.lease_ms = int(lease_seconds * 1000)
        # lease -> the decision holding it; a plain dict of weak references (a WeakValueDictionary's callbacks cost
        # twice as much on every call, and the renewal drops dead entries anyway)
        self._live: dict[str, weakref.ref[Decision]] = {}
        self._lease_prefix = f"{os.getpid():x}.{os.urandom(4).hex()}."
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None

    def new_lease(self) -> str:
        """An id no other call of any process uses."""
        return f"{self._lease_prefix}{next(self._ids)}"

    def track(self, decision: Decision) -> None:
        if decision.lease is not None:
            self._live[decision.lease] = weakref.ref(decision)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._renew_forever(), name="weir-limits-leases")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop(task)

    async def release(self, decision: Decision, tokens: int = 0) -> None:
        ended = self.ended(decision, tokens)
        if ended is not None:
            await self._release(decision.key, decision.limits, *ended)

    def ended(self, decision: Decision, tokens: int) -> tuple[str | None, int] | None:
        """Marks the call released (once: None the second time, or for a refused call) and returns what the backend
        has left to do, its lease and the tokens to count (0 when the key has no token limit); None for nothing."""
        if decision.released or not decision.admitted:
            return None
        decision.released = True
        lease = decision.lease
        if lease is not None:
            self._live.pop(lease, None)
        counted = tokens if tokens > 0 and has_token_limits(decision.limits) else 0
        return (lease, counted) if lease is not None or counted else None

    async def _release(self, key: str, limits: Limits, lease: str | None, tokens: int) -> None:
        raise NotImplementedError

    async def _renew(self, leases: list[tuple[str, str]]) -> None:
        """Extend the (key, lease) pairs of the calls in flight by lease_seconds from now."""
        raise NotImplementedError

    async def _tick(self) -> None:
        """Once per renewal period, after the renewal: housekeeping of the backend."""

    async def renew(self) -> None:
        """One renewal: extend the lease of every call of this process still in flight, then housekeeping."""
        live, dead = [], []
        for lease, ref in list(self._live.items()):
            decision = ref()
            if decision is None or decision.released:
                dead.append(lease)
            else:
                live.append((decision.key, lease))
        for lease in dead:
            self._live.pop(lease, None)
        if live:
            await self._renew(live)
        await self._tick()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self.renew()
            except Exception:  # never let the renewal task die: the next period tries again
                log.exception("renewing max_concurrent leases failed")


def has_token_limits(limits: Limits) -> bool:
    return limits.tokens_per_minute is not None or limits.tokens_per_day is not None
