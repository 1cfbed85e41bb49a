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

    On every call's path, so written out window by window: no list of windows, and a Window only for each limited
    one. The tightest has the fewest calls left; on a tie, the one that takes longer to come back. The warning is
    the most used window, once one is at least 80% used.
    """
    day_end = (now // DAY_MS + 1) * DAY_MS
    requests: Window | None = None
    daily: Window | None = None
    warned: list[Window] = []
    best_left = best_reset = 0
    if (limit := limits.requests_per_minute) is not None:
        requests = Window("requests_per_minute", limit, rm_n, rm_new + MINUTE_MS if rm_n else now)
        best_left, best_reset = (limit - rm_n if rm_n < limit else 0), requests.reset_ms
        if rm_n * 5 >= limit * 4:
            warned.append(requests)
    if (limit := limits.requests_per_hour) is not None:
        hour = Window("requests_per_hour", limit, hour_n, (now // HOUR_MS + 1) * HOUR_MS)
        left = limit - hour_n if hour_n < limit else 0
        if requests is None or left < best_left or (left == best_left and hour.reset_ms > best_reset):
            requests, best_left, best_reset = hour, left, hour.reset_ms
        if hour_n * 5 >= limit * 4:
            warned.append(hour)
    if (limit := limits.requests_per_day) is not None:
        daily = Window("requests_per_day", limit, day_n, day_end)
        left = limit - day_n if day_n < limit else 0
        if requests is None or left < best_left or (left == best_left and day_end > best_reset):
            requests = daily
        if day_n * 5 >= limit * 4:
            warned.append(daily)
    tokens: Window | None = None
    if (limit := limits.tokens_per_minute) is not None:
        tokens = Window("tokens_per_minute", limit, tm_sum, tm_new + MINUTE_MS if tm_sum else now)
        if tm_sum * 5 >= limit * 4:
            warned.append(tokens)
    if (limit := limits.tokens_per_day) is not None:
        day_tokens = Window("tokens_per_day", limit, td_sum, day_end)
        if tokens is None or _rank(day_tokens) < _rank(tokens):
            tokens = day_tokens
        if td_sum * 5 >= limit * 4:
            warned.append(day_tokens)
    warning: Window | None = None
    for window in warned:  # the first of the most used
        if warning is None or window.used * warning.limit > warning.used * window.limit:
            warning = window
    decision = Decision(key, limits, now, True, requests, daily, tokens, warning, lease=lease)
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


def _rank(window: Window) -> tuple[int, int]:
    """Fewer calls left first; on a tie, the one that takes longer to come back."""
    return (window.remaining, -window.reset_ms)


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
