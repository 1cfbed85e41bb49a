"""Reservations: the most a call may cost is set aside when it is admitted, so that no account spends money it does
not have, however concurrent its calls and however many processes serve it.

Each process (a holder) keeps a slice of an account's balance as a hold in the store, and admits the account's
calls against it in memory: a call whose estimate the slice's free part covers is admitted with no store round
trip, and its estimate stays reserved until the call ends. When the free part does not cover it, one store
transaction grows the slice (`Store.take_hold`): by `slice_calls` estimates when the account could cover several
slices like that, by what this call lacks when it is nearly empty, by nothing when even that is not there (402).
So a rich account costs one round trip per `slice_calls` calls (made in the background once half of its slice is
spent, so that its calls seldom wait for it), a nearly empty one a round trip per call, and an account's last money
is never parked in one process while another's calls are refused.

The store grants a hold only while the balance covers every live hold of the account, and each settled call's
cost leaves the balance and its holder's hold in the same commit (`record_usage(holder=...)`), so the balance
covers the holds at all times and never goes below zero while the upstreams' usage stays within the estimates.
The slice here mirrors the store's hold, less the costs not committed yet: it never admits against money the store
does not hold for it.

Slices are renewed every third of `billing.hold_ttl_seconds`; a process that dies stops renewing, and its holds stop
counting once expired (the next process to take a hold on the account deletes them). A slice with no call in flight
for `slice_idle_seconds` goes back to the account, and a nearly empty account's slice as soon as this process has no
call of it in flight; on shutdown every slice does, after the last usage commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from weir.background import stop
from weir.store.base import Store
from weir.store.records import HoldGrant

log = logging.getLogger("weir.billing")


class Slice:
    __slots__ = ("hold", "idle_since", "in_flight", "lean", "lock", "refilling", "reserved")

    def __init__(self) -> None:
        self.hold = 0  # what the store holds for this process (less the costs not committed yet)
        self.reserved = 0  # the estimates of the calls in flight
        self.in_flight = 0
        self.idle_since = 0.0
        self.lean = False  # the last grant was only what a call needed: the account is nearly empty
        self.refilling = False  # a background grant is on its way
        self.lock = asyncio.Lock()  # one store round trip at a time per account


class Reservations:
    def __init__(
        self,
        store: Store,
        *,
        ttl_seconds: float = 60.0,
        slice_calls: int = 50,
        idle_seconds: float = 10.0,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._ttl_ms = int(ttl_seconds * 1000)
        self._slice_calls = slice_calls
        self._idle = idle_seconds
        self._clock = clock
        self._slices: dict[int, Slice] = {}
        self._task: asyncio.Task[None] | None = None
        self._refills: set[asyncio.Task[None]] = set()

    def try_reserve(self, account_id: int, amount: int) -> bool:
        """Set `amount` aside from this process's slice, with no store round trip; False when the slice cannot
        cover it (then `reserve`). Starts a background refill of a rich account's slice once half of it is spent."""
        found = self._slices.get(account_id)
        if found is None or found.hold - found.reserved < amount:
            return False
        found.reserved += amount
        found.in_flight += 1
        if not found.lean and found.hold - found.reserved < amount * self._slice_calls // 2:
            self._refill_soon(account_id, found, amount)
        return True

    async def reserve(self, account_id: int, amount: int) -> HoldGrant | None:
        """Set `amount` aside for one call of the account: None when it is, else the store's answer that could not
        cover it (for the refusal's message). StoreError when the store cannot be asked."""
        if self.try_reserve(account_id, amount):
            return None
        held = self._slices.setdefault(account_id, Slice())
        async with held.lock:
            free = held.hold - held.reserved
            if free < amount:
                grant = await self._grow(account_id, held, amount, amount - free)
                if held.hold - held.reserved < amount:
                    return grant
            held.reserved += amount
            held.in_flight += 1
            return None

    async def _grow(self, account_id: int, held: Slice, amount: int, need: int) -> HoldGrant:
        """One store round trip (under the slice's lock): a slice of `slice_calls` estimates, or `need`."""
        want = max(need, amount * self._slice_calls)
        grant = await self._store.take_hold(self.holder, account_id, want, need, self._ttl_ms)
        # the store's hold is ours plus the costs it has not committed yet: never count more than it says
        held.hold = min(held.hold + grant.granted, grant.mine)
        held.lean = grant.granted < want
        return grant

    def _refill_soon(self, account_id: int, held: Slice, amount: int) -> None:
        """A rich account's slice is half spent: grow it in the background, so that its calls seldom wait for the
        store (a refill asks for a whole slice or nothing: `need` 0)."""
        if held.refilling or held.lock.locked():
            return
        held.refilling = True

        async def refill() -> None:
            try:
                async with held.lock:
                    await self._grow(account_id, held, amount, 0)
            finally:
                held.refilling = False

        task = asyncio.get_running_loop().create_task(refill(), name="weir-reservations-refill")
        self._refills.add(task)
        task.add_done_callback(self._refilled)

    def _refilled(self, task: asyncio.Task[None]) -> None:
        self._refills.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:  # the next call asks again
            log.warning("growing a reservation slice failed: %s", exc)

    def end(self, account_id: int, amount: int, cost: int) -> int:
        """A call that reserved `amount` ended: the reservation goes, and `cost` (what its usage record charges; 0
        when it records none) leaves the slice, as the commit takes it off the store's hold. When the account is
        nearly empty and this process has no other call of it in flight, what is left of the slice goes too, for
        other processes' calls: the amount returned, to be given back to the store with the call's usage commit
        (`Settler.submit(release=...)`) or, when it has none, by `give_back`."""
        held = self._slices.get(account_id)
        if held is None:
            return 0
        held.reserved -= amount
        held.in_flight -= 1
        held.hold = held.hold - cost if held.hold > cost else 0
        if held.in_flight:
            return 0
        held.idle_since = self._clock()
        if not held.lean or not held.hold or held.lock.locked():
            return 0
        give, held.hold = held.hold, 0
        return give

    async def give_back(self, account_id: int, amount: int) -> None:
        """Return `amount` (what `end` took off the slice) to the store. Never raises."""
        try:
            await self._store.return_hold(self.holder, account_id, amount)
        except Exception:  # it stays held until it expires
            log.exception("returning what is left of the hold of account %d failed", account_id)

    async def finish(self, account_id: int, amount: int, cost: int) -> None:
        """`end`, then `give_back` what it returned."""
        if give := self.end(account_id, amount, cost):
            await self.give_back(account_id, give)

    def holding(self, account_id: int) -> tuple[int, int]:
        """(hold, reserved) of this process's slice of the account (tests, the refusal's message)."""
        held = self._slices.get(account_id)
        return (0, 0) if held is None else (held.hold, held.reserved)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._tend_forever(), name="weir-reservations")

    async def close(self) -> None:
        """Stop renewing and give every hold back, whole (call it once the last usage commit is done)."""
        task, self._task = self._task, None
        await stop(task)
        for refill in list(self._refills):
            await stop(refill)
        for account_id in list(self._slices):
            try:  # all of it: the store's hold may still count a cost whose record was a duplicate (not charged)
                await self._store.return_hold(self.holder, account_id)
            except Exception:  # it expires by itself within hold_ttl_seconds
                log.exception("returning the hold of account %d failed", account_id)
        self._slices.clear()

    async def tend(self) -> None:
        """One round of housekeeping: renew the slices, give back the idle ones."""
        live = set(await self._store.renew_holds(self.holder, self._ttl_ms))
        now = self._clock()
        for account_id, held in list(self._slices.items()):
            if account_id not in live:  # the store let it expire (renewals failed for a whole ttl): it holds nothing
                held.hold = 0
            if held.in_flight or held.lock.locked() or now - held.idle_since < self._idle:
                continue
            del self._slices[account_id]
            if held.hold:
                await self._store.return_hold(self.holder, account_id, held.hold)

    async def _tend_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self.tend()
            except Exception:  # the next round tries again; a hold not renewed in time expires by itself
                log.exception("renewing the reservations' holds failed")
