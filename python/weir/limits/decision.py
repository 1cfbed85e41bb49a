"""From what a backend counted to a `Decision`, and from a refusal to the error the caller's dialect renders.

Both backends do the atomic part (check every window, count the call only if all pass) and hand over the same
figures; everything derived from them (windows, the tightest one, the warning, which limit refused and for how
long) is computed here, once, for both.
"""

from __future__ import annotations

from weir.errors import GatewayError, IpLimitReached, RateLimitExceeded, TooManyConcurrent
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
    Decision,
    Limits,
    Window,
)
from weir.limits.headers import WORDS, Family, go_duration, render, rfc3339

CONCURRENT_RETRY_MS = 1000  # a slot frees when some call ends: nobody knows when, so ask for a retry in 1 s


def decide(
    key: str,
    limits: Limits,
    now: int,
    fail: int,
    lease: str | None,
    rm_n: int,
    rm_old: int,
    rm_new: int,
    hour_n: int,
    day_n: int,
    tm_sum: int,
    tm_new: int,
    tm_free: int,
    td_sum: int,
) -> Decision:
    """The decision for one admission.

    `now` is the backend's clock (ms); `fail` the mask of failed checks (base.RPM...); then, as the call left them:
    the requests in the last minute with the oldest and newest of their times, the hour's and the day's requests,
    the tokens of the last minute with the time of the newest record and the time at which they fall below the
    limit again, and the day's tokens. Nothing is counted when `fail` is not 0.

    On every call's path: each window is a tuple until it is chosen (the tightest request window, the daily one,
    the tightest token window, the warning), and only those become Windows.
    """
    day_end = (now // DAY_MS + 1) * DAY_MS
    # (name, limit, used, reset ms) of each limited window; the tightest: fewest left, then the later reset
    requests: tuple[str, int, int, int] | None = None
    best = (0, 0)
    daily: Window | None = None
    warning: tuple[str, int, int, int] | None = None
    windows: list[tuple[str, int, int, int]] = []
    if (limit := limits.requests_per_minute) is not None:
        windows.append(("requests_per_minute", limit, rm_n, rm_new + MINUTE_MS if rm_n else now))
    if (limit := limits.requests_per_hour) is not None:
        windows.append(("requests_per_hour", limit, hour_n, (now // HOUR_MS + 1) * HOUR_MS))
    if (limit := limits.requests_per_day) is not None:
        daily_window = ("requests_per_day", limit, day_n, day_end)
        windows.append(daily_window)
        daily = Window(*daily_window)
    for window in windows:
        left = window[1] - window[2]
        rank = (left if left > 0 else 0, -window[3])
        if requests is None or rank < best:
            requests, best = window, rank
    tokens: tuple[str, int, int, int] | None = None
    if (limit := limits.tokens_per_minute) is not None:
        tokens = ("tokens_per_minute", limit, tm_sum, tm_new + MINUTE_MS if tm_sum else now)
        windows.append(tokens)
    if (limit := limits.tokens_per_day) is not None:
        day_tokens = ("tokens_per_day", limit, td_sum, day_end)
        windows.append(day_tokens)
        if tokens is None or _rank(day_tokens) < _rank(tokens):
            tokens = day_tokens
    for window in windows:  # the most used, once at least 80% used
        used, limit = window[2], window[1]
        if used * 5 >= limit * 4 and (warning is None or used * warning[1] > warning[2] * limit):
            warning = window
    decision = Decision(
        key,
        limits,
        now,
        True,
        None if requests is None else (daily if requests[0] == "requests_per_day" else Window(*requests)),
        daily,
        None if tokens is None else Window(*tokens),
        None if warning is None else Window(*warning),
        lease=lease,
    )
    if fail:
        decision.admitted = False
        decision.lease = None
        if fail & IPS:
            decision.refused_by, decision.retry_after_ms = "max_ips", day_end - now
        else:
            waits = (
                (RPM, "requests_per_minute", rm_old + MINUTE_MS - now),
                (RPH, "requests_per_hour", (now // HOUR_MS + 1) * HOUR_MS - now),
                (RPD, "requests_per_day", day_end - now),
                (TPM, "tokens_per_minute", tm_free - now),
                (TPD, "tokens_per_day", day_end - now),
                (CONCURRENT, "max_concurrent", CONCURRENT_RETRY_MS),
            )
            # The call can pass only once every failed limit lets it: the longest wait is the one to tell.
            name, wait = max(((n, w) for bit, n, w in waits if fail & bit), key=lambda pair: pair[1])
            decision.refused_by, decision.retry_after_ms = name, wait if wait > 1 else 1
    return decision


def _rank(window: tuple[str, int, int, int]) -> tuple[int, int]:
    """Fewer calls left first; on a tie, the one that takes longer to come back."""
    left = window[1] - window[2]
    return (left if left > 0 else 0, -window[3])


def refusal(decision: Decision, family: Family) -> GatewayError:
    """The error for a refused decision, carrying every limit header for `family` (Retry-After included).

    The message names the limit and when it lets calls through again, and ends with the phrase the clients that
    read a delay out of the text look for: "Please retry in 12s." for Gemini CLI (packages/core/src/utils/
    googleQuotaErrors.ts: /Please retry in ([0-9.]+(?:ms|s))/), "Please try again in 12s." for OpenAI's clients
    (Codex, codex-rs/codex-api/src/sse/responses.rs: (?i)try again in\\s*(\\d+(?:\\.\\d+)?)\\s*(s|ms|seconds?)).
    """
    assert not decision.admitted and decision.refused_by is not None
    headers = render(decision, family)
    limits, name, seconds = decision.limits, decision.refused_by, decision.retry_after
    when = rfc3339(decision.reset_at).decode()
    if name == "max_ips":
        return IpLimitReached(
            f"This key has been used from {limits.max_ips} IP addresses today, its limit (max_ips); a new address "
            f"can use it from {when}.",
            retry_after=seconds,
            headers=headers,
        )
    again = "Please retry in" if family == "gemini" else "Please try again in"
    if name == "max_concurrent":
        return TooManyConcurrent(
            f"Too many concurrent requests: this key may have {limits.max_concurrent} in flight at once "
            f"(max_concurrent). {again} {seconds}s.",
            retry_after=seconds,
            headers=headers,
        )
    limit: int = getattr(limits, name)
    return RateLimitExceeded(
        f"Rate limit reached for this key on {WORDS[name]} ({name}): limit {limit}. It lets calls through again "
        f"at {when} (in {go_duration(decision.retry_after_ms).decode()}). {again} {seconds}s.",
        retry_after=seconds,
        headers=headers,
        limit=name,
    )
