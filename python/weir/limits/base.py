"""What a key may do (`Limits`), what one admission decided (`Decision`, its `Window`s), and the interface both
backends implement (`Limiter`). docs/limits.md explains the windows and their guarantees."""

from __future__ import annotations

from typing import Protocol

import msgspec

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Every limit a tier or a key can set; absent (None) means unlimited.
LIMIT_NAMES = (
    "requests_per_minute",  # any 60 seconds (a sliding window over the admitted calls)
    "requests_per_hour",  # the UTC clock hour
    "requests_per_day",  # the UTC day
    "tokens_per_minute",  # tokens recorded over any 60 seconds
    "tokens_per_day",  # tokens recorded in the UTC day
    "max_concurrent",  # calls in flight at once
    "max_ips",  # distinct client IPs in the UTC day
)

# Bits of the refusal mask both backends return: which checks failed.
RPM, RPH, RPD, TPM, TPD, CONCURRENT, IPS = 1, 2, 4, 8, 16, 32, 64


class Limits(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One key's limits: its tier's, with the key's own values over them. Every field is optional."""

    requests_per_minute: int | None = None
    requests_per_hour: int | None = None
    requests_per_day: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    max_concurrent: int | None = None
    max_ips: int | None = None

    def problems(self, where: str) -> list[str]:
        """`where.name: sentence` for each value that is not a whole number of at least 1 (config validation)."""
        return [
            f"{where}.{name}: must be a whole number of at least 1 (leave it out for no limit), got {value!r}"
            for name in LIMIT_NAMES
            if (value := getattr(self, name)) is not None and (isinstance(value, bool) or value < 1)
        ]

    @property
    def any(self) -> bool:
        return any(getattr(self, name) is not None for name in LIMIT_NAMES)


UNLIMITED = Limits()


class Window(msgspec.Struct, frozen=True, gc=False):
    """One limited window as the call left it: `used` counts this call when it was admitted."""

    name: str  # the limit: "requests_per_hour", "tokens_per_minute"...
    limit: int
    used: int
    reset_ms: int  # Unix time (ms) at which the window is whole again: nothing counted in it any more

    @property
    def remaining(self) -> int:
        return self.limit - self.used if self.used < self.limit else 0


class Decision(msgspec.Struct, weakref=True):
    """The outcome of one admission, and what the limit headers say about it.

    `requests` is the key's tightest request window (the one with the fewest calls left), `daily` its
    requests_per_day window, `tokens` its tightest token window; each None when the key has no such limit.
    """

    key: str
    limits: Limits
    now_ms: int  # the backend's clock when it decided (Redis: the server's)
    admitted: bool = True
    requests: Window | None = None
    daily: Window | None = None
    tokens: Window | None = None
    warning: Window | None = None  # the most used window, once one is at least 80% used
    refused_by: str | None = None  # the limit that refused: a window's name, "max_concurrent" or "max_ips"
    retry_after_ms: int = 0  # when refused: how long until that limit would let this call through
    lease: str | None = None  # the max_concurrent slot this call holds until it is released
    unchecked: bool = False  # the backend failed and limits.on_backend_error = "open" let the call through
    released: bool = False

    @property
    def retry_after(self) -> int:
        """Whole seconds, at least 1 (Retry-After): rounded up, so a client that waits this long is let through."""
        seconds = -(-self.retry_after_ms // 1000)
        return seconds if seconds > 1 else 1

    @property
    def reset_at(self) -> int:
        """Unix seconds at which the refusing limit lets a call through again."""
        return self.now_ms // 1000 + self.retry_after


class Limiter(Protocol):
    """The limits of every key, in this process (`InProcessLimiter`) or shared through Redis (`RedisLimiter`)."""

    async def admit(self, key: str, limits: Limits, ip: str | None = None, count: bool = True) -> Decision:
        """Check every window of `key` at once and, only if all pass, count the call in all of them.

        `ip` is the client's address (for max_ips). `count=False` checks without counting anything (a call that a
        later check refuses: its headers and its refusal are still the limits'). Never raises for a refusal: the
        decision says it. Raises `LimitsUnavailable` when the backend cannot answer and limits.on_backend_error is
        "closed".
        """
        ...

    async def release(self, decision: Decision, tokens: int = 0) -> None:
        """The admitted call is over: free its max_concurrent slot and record the `tokens` it used, in one backend
        call. Call it exactly once per admitted call (later calls do nothing); never raises."""
        ...

    async def record_tokens(self, key: str, limits: Limits, tokens: int) -> None:
        """Count `tokens` in the key's token windows outside an admission (usage known after release)."""
        ...

    async def health(self) -> str:
        """ "ok" or "down" for Redis; "disabled" in-process (there is nothing to check)."""
        ...

    def start(self) -> None:
        """Start the background task that renews the leases of calls in flight and forgets idle keys."""
        ...

    async def close(self) -> None: ...
