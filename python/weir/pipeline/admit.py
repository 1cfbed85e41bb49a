"""Admission: what is checked about a call once its key is known and before any upstream is tried."""

from __future__ import annotations

import time
from collections.abc import Callable

from weir.billing.wallets import Wallets
from weir.errors import InsufficientBalance, RateLimited
from weir.pipeline.authenticate import Principal

MAX_TRACKED_KEYS = 100_000


def admit(principal: Principal, wallets: Wallets) -> None:
    """Refuse before any upstream call when the account has nothing left to spend."""
    balance = wallets.balance(principal.account_id)
    if balance is not None and balance <= 0:
        raise InsufficientBalance(
            f"The account {principal.account_name!r} has insufficient balance; top it up to continue."
        )


class CountBound:
    """At most `per_minute` token counts per key per minute (fixed one-minute windows, per worker); 0: no bound.
    Counting is free, so it gets a bound of its own instead of the key's request limits."""

    __slots__ = ("_clock", "_per_minute", "_windows")

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}  # key id -> (minute, counts in it)

    def admit(self, key_id: str) -> None:
        if not self._per_minute:
            return
        now = self._clock()
        minute = int(now // 60)
        seen, count = self._windows.get(key_id, (minute, 0))
        if seen != minute:
            count = 0
        if count >= self._per_minute:
            wait = max(1, int((minute + 1) * 60 - now + 0.999))
            raise RateLimited(
                f"This key counted tokens {self._per_minute} times this minute, the most allowed "
                f"(server.count_tokens_per_minute); try again in {wait} s.",
                retry_after=wait,
            )
        if len(self._windows) > MAX_TRACKED_KEYS:
            self._windows.clear()
        self._windows[key_id] = (minute, count + 1)
