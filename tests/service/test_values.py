"""The inputs the service checks once for every front end."""

from __future__ import annotations

import pytest

from weir.service import values
from weir.service.errors import Invalid


def test_usd_amounts_are_exact_microcents() -> None:
    assert values.usd("25", "amount") == 2_500_000_000
    assert values.usd("0.00000001", "amount") == 1
    assert values.usd(1.5, "amount") == 150_000_000
    assert values.usd(3, "amount") == 300_000_000
    for bad, reason in (("ten", "'ten' is not a number"), ("nan", "'nan' is not a number"), ("inf", "is not")):
        with pytest.raises(Invalid) as caught:
            values.usd(bad, "amount")
        assert caught.value.param == "amount" and reason in caught.value.reason
        assert str(caught.value) == f"amount: {caught.value.reason}"
    with pytest.raises(Invalid, match="more than 8 decimal places") as caught:
        values.usd("0.000000001", "amount")
    assert caught.value.reason.startswith("1E-9 has more")  # the param is not repeated in the reason


def test_times_are_epoch_ms_or_iso_8601() -> None:
    assert values.time_ms("1700000000000", "since") == 1_700_000_000_000
    assert values.time_ms("2024-01-01T00:00:00Z", "since") == 1_704_067_200_000
    assert values.time_ms("2024-01-01", "since") == 1_704_067_200_000  # UTC when no offset is given
    assert values.time_ms("2024-01-01T02:00:00+02:00", "since") == 1_704_067_200_000
    with pytest.raises(Invalid, match="until: 'yesterday' is neither"):
        values.time_ms("yesterday", "until")


def test_status_filters() -> None:
    assert values.status_range("200") == (200, 200)
    assert values.status_range("4xx") == (400, 499)
    assert values.status_range("OK") == (100, 399)
    assert values.status_range("error") == (400, 599)
    for bad in ("6xx", "99", "600", "fail", ""):
        with pytest.raises(Invalid, match="status: expected a status"):
            values.status_range(bad)


def test_names() -> None:
    assert values.name("alice", "name") == "alice"
    for bad, reason in (("", "must not be empty"), ("a\nb", "control characters"), ("x" * 201, "at most 200")):
        with pytest.raises(Invalid, match=reason):
            values.name(bad, "name")


def test_multipliers_are_parts_per_million_with_three_decimals_at_most() -> None:
    assert values.multiplier("1", "m") == 1_000_000
    assert values.multiplier("0.8", "m") == 800_000
    assert values.multiplier(1.25, "m") == 1_250_000
    assert values.multiplier("0.001", "m") == 1_000
    for bad, reason in (("0", "greater than 0"), ("1001", "at most 1000"), ("1.2345", "3 decimal"), ("x", "not a")):
        with pytest.raises(Invalid) as caught:
            values.multiplier(bad, "m")
        assert reason in caught.value.reason, caught.value.reason
