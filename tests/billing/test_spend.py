"""Per-key spend: the periods' bounds (UTC), the cached spend with this process's own calls added, on a real store."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.store.test_contract import account_with_key, usage
from weir.billing.spend import KeySpend, period_bounds
from weir.store.base import Store


def ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_periods_are_utc_days_iso_weeks_months_and_all_time() -> None:
    now = ms(2026, 12, 3, 15, 30)  # a Thursday
    assert period_bounds("day", now) == (ms(2026, 12, 3), ms(2026, 12, 4))
    assert period_bounds("week", now) == (ms(2026, 11, 30), ms(2026, 12, 7))  # Monday to Monday
    assert period_bounds("month", now) == (ms(2026, 12, 1), ms(2027, 1, 1))  # across the year's end
    assert period_bounds("month", ms(2027, 1, 31, 23, 59)) == (ms(2027, 1, 1), ms(2027, 2, 1))
    assert period_bounds("total", now) == (0, None)
    assert period_bounds("day", ms(2026, 12, 4)) == (ms(2026, 12, 4), ms(2026, 12, 5))  # midnight starts the next


async def test_the_spend_is_read_once_per_ttl_and_counts_this_processs_calls_at_once(store: Store) -> None:
    acme = await account_with_key(store, balance=10_000, key_id="k1")
    now = [ms(2026, 12, 3, 12) / 1000]
    await store.record_usage([usage("old", acme.id, 500, key_id="k1", created_at=ms(2026, 12, 2, 23))])
    await store.record_usage([usage("r1", acme.id, 70, key_id="k1", created_at=ms(2026, 12, 3, 1))])
    spend = KeySpend(store, ttl=10, clock=lambda: now[0])
    assert await spend.spent(acme.id, "k1", "day") == (70, ms(2026, 12, 4))  # yesterday's 500 is not today's
    assert (await spend.spent(acme.id, "k1", "total"))[0] == 570
    spend.add("k1", 30)
    assert (await spend.spent(acme.id, "k1", "total"))[0] == 600  # at once, before any commit
    await store.record_usage([usage("r2", acme.id, 30, key_id="k1", created_at=ms(2026, 12, 3, 2))])
    now[0] += 11  # the ttl ran out: read again, the committed call counted once
    assert (await spend.spent(acme.id, "k1", "total"))[0] == 600
