"""What the exchange loop knows about the health of upstreams: provider keys (in turn, cooling, retired), a
circuit breaker per route, and a retry budget per model. All in-process and per worker; pure logic over a clock
that the caller passes in, so the unit tests drive time themselves.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Literal

log = logging.getLogger("weir.upstreams")

KeyState = Literal["ok", "cooling", "retired"]


class Key:
    __slots__ = ("index", "retired", "until", "value")

    def __init__(self, index: int, value: str | None) -> None:
        self.index = index  # its position in the provider's api_keys: what logs and the CLI name (never the key)
        self.value = value  # None: the provider takes no key
        self.until = 0.0  # cooling until this monotonic time (a 429)
        self.retired = False  # answered 401/403: not used again until restart or an operator's command

    def state(self, now: float) -> KeyState:
        return "retired" if self.retired else "cooling" if self.until > now else "ok"


NO_KEY = Key(-1, None)  # for providers configured without api_keys (local servers): always usable, sends nothing
OWN_KEY_INDEX = -2  # an account's own key (BYOK): never one of the provider's, so never cooled or retired for it


class KeyRing:
    """A provider's API keys, used in turn. A key answered 429 cools down for the upstream's retry-after; a key
    answered 401 or 403 is retired. A provider whose keys are all cooling or retired is skipped."""

    __slots__ = ("_next", "calm", "keys", "provider")

    def __init__(self, provider: str, values: list[str]) -> None:
        self.provider = provider
        self.keys = [Key(i, v) for i, v in enumerate(values)]
        self._next = 0
        self.calm = True  # no key was cooled or retired since the last restore: any key will do

    def pick(self, now: float, prefer: int | None = None) -> Key | None:
        """The next usable key (round robin), `prefer` (a sticky session's key) when it is usable; None when
        every key is cooling or retired."""
        keys = self.keys
        if not keys:
            return NO_KEY
        if self.calm and prefer is None:
            key = keys[self._next]
            self._next = (self._next + 1) % len(keys)
            return key
        if prefer is not None and 0 <= prefer < len(keys):
            key = keys[prefer]
            if not key.retired and key.until <= now:
                return key
        n = len(keys)
        start = self._next
        for step in range(n):
            key = keys[(start + step) % n]
            if not key.retired and key.until <= now:
                self._next = (key.index + 1) % n
                return key
        return None

    def usable(self, now: float) -> bool:
        if self.calm:
            return True
        return not self.keys or any(not k.retired and k.until <= now for k in self.keys)

    def cool(self, key: Key, seconds: float, now: float) -> None:
        if key is NO_KEY:
            return
        key.until = max(key.until, now + seconds)
        self.calm = False
        log.warning("provider %s: key #%d rate-limited; cooling down for %.0f s", self.provider, key.index, seconds)

    def retire(self, key: Key) -> None:
        if key is NO_KEY or key.retired:
            return
        key.retired = True
        self.calm = False
        log.warning(
            "provider %s: key #%d was rejected by the upstream (401/403) and is retired until restart or "
            "`weir providers resume %s`",
            self.provider,
            key.index,
            self.provider,
        )

    def restore(self) -> None:
        """An operator's command: every key is usable again."""
        for key in self.keys:
            key.retired = False
            key.until = 0.0
        self.calm = True

    def seconds_until_usable(self, now: float) -> float | None:
        """How long until a cooling key can be used again; None when only retired keys are left."""
        waits = [k.until - now for k in self.keys if not k.retired]
        return max(0.0, min(waits)) if waits else None


BreakerState = Literal["closed", "half_open", "open"]
STATE_VALUES: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}


class Breaker:
    """A circuit breaker for one route: after `failures` consecutive failures it opens (the route is skipped)
    for `open_seconds`, then lets one trial call through (half-open); the trial's success closes it, its
    failure opens it again. A trial that never reports (its worker task vanished) is given up after
    `open_seconds`, so the route is never stuck half-open."""

    __slots__ = ("_failures", "_open_seconds", "_threshold", "_trial_since", "_until", "calm", "state")

    def __init__(self, failures: int, open_seconds: float) -> None:
        self._threshold = failures
        self._open_seconds = open_seconds
        self._failures = 0
        self._until = 0.0
        self._trial_since: float | None = None
        self.state: BreakerState = "closed"
        self.calm = True  # closed with no failure counted: the hot path needs no call to acquire or report

    def available(self, now: float) -> bool:
        """Whether a call may be tried on this route now (without taking the half-open trial)."""
        if self.state == "closed":
            return True
        if self.state == "open":
            return now >= self._until
        return self._trial_since is None or now - self._trial_since >= self._open_seconds

    def acquire(self, now: float) -> bool:
        """Take the right to try the route now: always when closed; the one trial when it is due."""
        if self.state == "closed":
            return True
        if not self.available(now):
            return False
        self.state = "half_open"
        self._trial_since = now
        return True

    def success(self) -> None:
        self._failures = 0
        self._trial_since = None
        self.state = "closed"
        self.calm = True

    def failure(self, now: float) -> None:
        self._failures += 1
        self._trial_since = None
        self.calm = False
        if self.state == "half_open" or self._failures >= self._threshold:
            self.state = "open"
            self._until = now + self._open_seconds

    def release(self) -> None:
        """The trial ended without a verdict (the client left): let another call try."""
        self._trial_since = None

    def seconds_until_trial(self, now: float) -> float:
        if self.state == "open":
            return max(0.0, self._until - now)
        return 0.0


class RetryBudget:
    """Retries (attempts after a call's first) allowed per model: at most `ratio` of the calls of the last
    `window` seconds, but always at least `minimum` per window (Envoy's retry budget). Counted in one-second
    buckets, so an outage cannot multiply the load on the upstreams that are left."""

    __slots__ = ("_buckets", "_calls", "_minimum", "_ratio", "_retries", "_window")

    def __init__(self, ratio: float = 0.2, minimum: int = 3, window: int = 10) -> None:
        self._ratio = ratio
        self._minimum = minimum
        self._window = window
        self._buckets: deque[list[int]] = deque()  # [second, calls, retries], oldest first
        self._calls = 0
        self._retries = 0

    def _bucket(self, now: float) -> list[int]:
        second = int(now)
        buckets = self._buckets
        while buckets and buckets[0][0] <= second - self._window:
            _, calls, retries = buckets.popleft()
            self._calls -= calls
            self._retries -= retries
        if not buckets or buckets[-1][0] != second:
            buckets.append([second, 0, 0])
        return buckets[-1]

    def call(self, now: float) -> None:
        self._bucket(now)[1] += 1
        self._calls += 1

    def try_retry(self, now: float) -> bool:
        """Take one retry from the budget; False when it is spent."""
        bucket = self._bucket(now)
        if self._retries >= max(self._minimum, self._ratio * self._calls):
            return False
        bucket[2] += 1
        self._retries += 1
        return True
