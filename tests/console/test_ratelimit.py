"""Sign-in attempts per address: a sliding window."""

from __future__ import annotations

import pytest

from weir.console import ratelimit
from weir.console.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_admits_its_limit_then_refuses() -> None:
    clock = Clock()
    window = SlidingWindow(limit=3, window_seconds=60, clock=clock)
    assert [window.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert window.allow("10.0.0.2")  # each address has its own
    assert window.retry_after("10.0.0.1") == 61


def test_attempts_leave_the_window_as_it_slides() -> None:
    clock = Clock()
    window = SlidingWindow(limit=2, window_seconds=60, clock=clock)
    assert window.allow("a")
    clock.now += 30
    assert window.allow("a") and not window.allow("a")
    clock.now += 30  # the first attempt is 60 s old: out of the window
    assert window.allow("a") and not window.allow("a")
    clock.now += 61
    assert window.allow("a") and window.allow("a")


def test_refused_attempts_do_not_extend_the_wait() -> None:
    clock = Clock()
    window = SlidingWindow(limit=1, window_seconds=10, clock=clock)
    assert window.allow("a")
    for _ in range(5):
        clock.now += 1
        assert not window.allow("a")
    clock.now += 5
    assert window.allow("a")


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_ADDRESSES", 5)
    clock = Clock()
    window = SlidingWindow(limit=1, window_seconds=10, clock=clock)
    for i in range(20):
        assert window.allow(f"10.0.0.{i}")
    assert len(window._hits) <= 5
