"""The limit headers of a decision, for each client family, in the formats those clients read (headers.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from weir.limits import Decision, Limits, render
from weir.limits.base import HOUR_MS, MINUTE_MS, RPH
from weir.limits.decision import decide
from weir.limits.headers import go_duration, rfc3339, warning_sentence

NOW = 1_804_688_400_250  # 2027-03-10T14:20:00.250Z
HOUR_END = (NOW // HOUR_MS + 1) * HOUR_MS  # 15:00:00Z
DAY_END = 1_804_723_200_000  # 2027-03-11T00:00:00Z


def a_decision(limits: Limits, *, fail: int = 0, **counts: int) -> Decision:
    figures = {"rm_n": 0, "rm_old": 0, "rm_new": 0, "hour_n": 0, "day_n": 0}
    figures |= {"tm_sum": 0, "tm_new": 0, "tm_free": 0, "td_sum": 0} | counts
    return decide("k1", limits, NOW, fail, None, **figures)


# Checked against Go 1.x's time.Duration(s * time.Second).String() and back through time.ParseDuration.
@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (-5, b"0s"),
        (0, b"0s"),
        (1, b"1s"),  # rounded up: a client that waits this long finds the window whole
        (999, b"1s"),
        (1000, b"1s"),
        (1001, b"2s"),
        (45_000, b"45s"),
        (59_000, b"59s"),
        (60_000, b"1m0s"),
        (61_000, b"1m1s"),
        (360_000, b"6m0s"),
        (3_599_000, b"59m59s"),
        (3_600_000, b"1h0m0s"),
        (3_661_000, b"1h1m1s"),
        (86_400_000, b"24h0m0s"),
        (90_061_000, b"25h1m1s"),
    ],
)
def test_go_duration(ms: int, text: bytes) -> None:
    assert go_duration(ms) == text


def test_rfc3339_is_what_datetime_parses() -> None:
    assert rfc3339(HOUR_END // 1000) == b"2027-03-10T15:00:00Z"
    assert datetime.fromisoformat(rfc3339(DAY_END // 1000).decode()) == datetime(2027, 3, 11, tzinfo=UTC)


def test_openai_family() -> None:
    limits = Limits(requests_per_minute=60, requests_per_hour=500, requests_per_day=5000, tokens_per_minute=40_000)
    decision = a_decision(
        limits, rm_n=12, rm_old=NOW - 30_000, rm_new=NOW, hour_n=400, day_n=4100, tm_sum=1500, tm_new=NOW - 5000
    )
    assert render(decision, "openai") == [
        (b"x-ratelimit-limit", b"60"),  # the minute's 48 left: tighter than the hour's 100 and the day's 900
        (b"x-ratelimit-remaining", b"48"),
        (b"x-ratelimit-reset", b"%d" % ((NOW + MINUTE_MS) // 1000 + 1)),  # whole again 60 s after the newest call
        (b"x-ratelimit-daily-limit", b"5000"),
        (b"x-ratelimit-daily-remaining", b"900"),
        (
            b"x-ratelimit-warning",
            b"This key has used 4100 of its 5000 requests per day (82%); the limit resets at 2027-03-11T00:00:00Z.",
        ),
        (b"x-ratelimit-limit-requests", b"60"),
        (b"x-ratelimit-remaining-requests", b"48"),
        (b"x-ratelimit-reset-requests", b"1m0s"),
        (b"x-ratelimit-limit-tokens", b"40000"),
        (b"x-ratelimit-remaining-tokens", b"38500"),
        (b"x-ratelimit-reset-tokens", b"55s"),
    ]


def test_anthropic_family() -> None:
    limits = Limits(requests_per_hour=500, tokens_per_day=1_000_000)
    decision = a_decision(limits, hour_n=10, td_sum=250_000)
    assert render(decision, "anthropic") == [
        (b"x-ratelimit-limit", b"500"),
        (b"x-ratelimit-remaining", b"490"),
        (b"x-ratelimit-reset", b"%d" % (HOUR_END // 1000)),
        (b"anthropic-ratelimit-requests-limit", b"500"),
        (b"anthropic-ratelimit-requests-remaining", b"490"),
        (b"anthropic-ratelimit-requests-reset", b"2027-03-10T15:00:00Z"),
        (b"anthropic-ratelimit-tokens-limit", b"1000000"),
        (b"anthropic-ratelimit-tokens-remaining", b"750000"),
        (b"anthropic-ratelimit-tokens-reset", b"2027-03-11T00:00:00Z"),
    ]


def test_gemini_family_has_weirs_own_headers_only() -> None:
    limits = Limits(requests_per_hour=500, tokens_per_minute=1000)
    decision = a_decision(limits, hour_n=10, tm_sum=10, tm_new=NOW)
    assert [name for name, _ in render(decision, "gemini")] == [
        b"x-ratelimit-limit",
        b"x-ratelimit-remaining",
        b"x-ratelimit-reset",
    ]


def test_a_refusal_adds_retry_after_in_whole_seconds_and_ms() -> None:
    decision = a_decision(Limits(requests_per_hour=5), fail=RPH, hour_n=5)
    assert not decision.admitted and decision.retry_after_ms == HOUR_END - NOW  # 39 min 59.75 s
    headers = dict(render(decision, "openai"))
    assert headers[b"retry-after"] == b"2400"  # rounded up
    assert headers[b"retry-after-ms"] == b"2400000"
    assert headers[b"x-ratelimit-remaining"] == b"0"
    assert headers[b"x-ratelimit-reset-requests"] == b"40m0s"


def test_no_limits_no_headers() -> None:
    assert render(Decision("k1", Limits(), NOW), "openai") == []
    assert render(Decision("k1", Limits(requests_per_minute=5), NOW, unchecked=True), "anthropic") == []


def test_tokens_overshoot_reads_as_none_left() -> None:
    decision = a_decision(Limits(tokens_per_minute=100), tm_sum=130, tm_new=NOW)
    assert dict(render(decision, "openai"))[b"x-ratelimit-remaining-tokens"] == b"0"
    assert decision.warning is not None and "130 of its 100 tokens per minute (130%)" in warning_sentence(
        decision.warning
    )


def test_every_header_is_lowercase_ascii() -> None:
    limits = Limits(requests_per_minute=6, requests_per_day=7, tokens_per_minute=8, tokens_per_day=9)
    decision = a_decision(limits, rm_n=6, rm_old=NOW, rm_new=NOW, day_n=6, tm_sum=8, tm_new=NOW, td_sum=8, fail=1)
    for family in ("openai", "anthropic", "gemini"):
        for name, value in render(decision, family):  # type: ignore[arg-type]
            assert name == name.lower() and name.isascii() and value.isascii()
