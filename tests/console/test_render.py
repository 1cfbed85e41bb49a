"""The filters the console's templates use: exact money, times the browser rewrites in the viewer's zone."""

from __future__ import annotations

from weir.console.render import price, usd, when


def test_money_is_exact() -> None:
    assert usd(12_345) == "$0.00012345"
    assert usd(500_000_000) == "$5"
    assert usd(-250) == "-$0.0000025"
    assert usd(None) == ""


def test_prices_have_no_float_noise() -> None:
    assert price(0.123) == "$0.123"
    assert price(1.007) == "$1.007"
    assert price(0.0) == "$0"
    assert price(None) == ""


def test_times_are_time_elements_in_utc() -> None:
    assert str(when(0)) == '<time datetime="1970-01-01T00:00:00.000Z">1970-01-01 00:00:00 UTC</time>'
    assert str(when(None)) == ""
