"""A decision as the response headers clients read: pure functions that return ASGI header pairs.

Every family gets Weir's own `X-RateLimit-*` headers (the key's tightest request window, its daily window, a warning
sentence once a window is 80% used). On top of them each client family gets the headers its own tools read, in the
formats those tools expect; what each was checked against:

- OpenAI (`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`): the reset is a Go duration until the window is
  whole again ("1s", "6m0s", "1h0m0s"), as api.openai.com sends it (e.g. `x-ratelimit-reset-requests: 12ms`,
  `x-ratelimit-reset-tokens: 6m0s`) and as clients read it (sashabaranov/go-openai ratelimit.go:
  `time.ParseDuration(h.Get("x-ratelimit-reset-requests"))`). openai-python 3.57 and Codex do not read these headers
  (Codex reads only its own `x-codex-*` family, codex-rs/codex-api/src/rate_limits.rs); people and dashboards do.
- Anthropic (`anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`): the reset is an RFC 3339 timestamp,
  "the time when the rate limit will be fully replenished" (Anthropic's API docs, "Response headers").
  anthropic-sdk-python 2.16 reads none of them.
- Refusals add `retry-after` (whole seconds, at least 1) and `retry-after-ms`: openai-python 3.57 and
  anthropic-sdk-python 2.16 (`_base_client.py: _parse_retry_after_header`) read `retry-after-ms` first, as a float
  of milliseconds, then `retry-after`; openai-python waits only for values up to 120 s (`MAX_RETRY_AFTER_DELAY`),
  anthropic-sdk-python for any positive value. Both honour `x-should-retry`, which the dialect's error renderer sets
  from the refusal (errors.py: `should_retry`).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Literal

from weir.limits.base import Decision, Window

Family = Literal["openai", "anthropic", "gemini"]  # whose headers a response carries: the caller's dialect's
# The family of each inbound dialect (weir.dialects.registry names).
FAMILIES: dict[str, Family] = {
    "openai_chat": "openai",
    "openai_responses": "openai",
    "anthropic_messages": "anthropic",
    "gemini": "gemini",
}

WARN_AT_PERCENT = 80

# Words for a window in a sentence: "16 of its 20 requests per hour".
WORDS = {
    "requests_per_minute": "requests per minute",
    "requests_per_hour": "requests per hour",
    "requests_per_day": "requests per day",
    "tokens_per_minute": "tokens per minute",
    "tokens_per_day": "tokens per day",
}


def go_duration(ms: int) -> bytes:
    """A span as Go's time.Duration prints it, in whole seconds rounded up: 0s, 45s, 6m0s, 1h0m0s."""
    return _go_seconds(-(-ms // 1000) if ms > 0 else 0)


@lru_cache(maxsize=4096)
def _go_seconds(total: int) -> bytes:
    """Cached: every call of a window within the same second gets the same reset (an hour is 3600 of them)."""
    if total < 60:
        return b"%ds" % total
    minutes, seconds = divmod(total, 60)
    if minutes < 60:
        return b"%dm%ds" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return b"%dh%dm%ds" % (hours, minutes, seconds)


@lru_cache(maxsize=1024)
def rfc3339(unix_seconds: int) -> bytes:
    """2026-11-22T15:00:00Z"""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_seconds)).encode()


def reset_seconds(window: Window) -> int:
    """The window's reset in whole Unix seconds, rounded up."""
    return -(-window.reset_ms // 1000)


def warning_sentence(window: Window) -> str:
    percent = window.used * 100 // window.limit
    resets = rfc3339(reset_seconds(window)).decode()
    return (
        f"This key has used {window.used} of its {window.limit} {WORDS[window.name]} ({percent}%); "
        f"the limit resets at {resets}."
    )


def render(decision: Decision, family: Family) -> list[tuple[bytes, bytes]]:
    """Every limit header for this decision, for a response to a client of `family`; empty when the key has no
    rate limit (or the backend was down and the call went through unchecked). Each figure is formatted once, for
    Weir's header and the family's (this runs on every answer of a limited key)."""
    out: list[tuple[bytes, bytes]] = []
    requests, tokens = decision.requests, decision.tokens
    if requests is not None:
        reset = -(-requests.reset_ms // 1000)
        limit, used = requests.limit, requests.used
        limit_b, remaining_b = b"%d" % limit, b"%d" % (limit - used if used < limit else 0)
        out += (
            (b"x-ratelimit-limit", limit_b),
            (b"x-ratelimit-remaining", remaining_b),
            (b"x-ratelimit-reset", b"%d" % reset),
        )
    if (daily := decision.daily) is not None:
        limit, used = daily.limit, daily.used
        out += (
            (b"x-ratelimit-daily-limit", b"%d" % limit),
            (b"x-ratelimit-daily-remaining", b"%d" % (limit - used if used < limit else 0)),
        )
    if decision.warning is not None:
        out.append((b"x-ratelimit-warning", warning_sentence(decision.warning).encode()))
    if family == "openai":
        now = decision.now_ms
        if requests is not None:
            out += (
                (b"x-ratelimit-limit-requests", limit_b),
                (b"x-ratelimit-remaining-requests", remaining_b),
                (b"x-ratelimit-reset-requests", go_duration(requests.reset_ms - now)),
            )
        if tokens is not None:
            out += (
                (b"x-ratelimit-limit-tokens", b"%d" % tokens.limit),
                (b"x-ratelimit-remaining-tokens", b"%d" % tokens.remaining),
                (b"x-ratelimit-reset-tokens", go_duration(tokens.reset_ms - now)),
            )
    elif family == "anthropic":
        if requests is not None:
            out += (
                (b"anthropic-ratelimit-requests-limit", limit_b),
                (b"anthropic-ratelimit-requests-remaining", remaining_b),
                (b"anthropic-ratelimit-requests-reset", rfc3339(reset)),
            )
        if tokens is not None:
            out += (
                (b"anthropic-ratelimit-tokens-limit", b"%d" % tokens.limit),
                (b"anthropic-ratelimit-tokens-remaining", b"%d" % tokens.remaining),
                (b"anthropic-ratelimit-tokens-reset", rfc3339(reset_seconds(tokens))),
            )
    if not decision.admitted:
        seconds = decision.retry_after
        out += ((b"retry-after", b"%d" % seconds), (b"retry-after-ms", b"%d" % (seconds * 1000)))
    return out
