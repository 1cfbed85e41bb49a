"""Usage through the service, on both backends: filters from text, account scope, summaries, bounded exports."""

from __future__ import annotations

import msgspec
import pytest

from tests.store.test_contract import usage
from weir.service import Service
from weir.service.errors import Invalid
from weir.service.usage import Filters
from weir.store._common import now_ms
from weir.store.queries import DAY_MS
from weir.store.records import UsageRecord


async def two_accounts(service: Service, calls: int = 5) -> tuple[int, int, str, str]:
    """alice makes `calls` calls (every other one fails with 502) and bob one; returns their ids and key ids."""
    alice = await service.accounts.create("alice", 1_000_000)
    bob = await service.accounts.create("bob", 1_000_000)
    ka = (await service.keys.create(alice.id)).key.id
    kb = (await service.keys.create(bob.id)).key.id
    now = now_ms()
    records = [
        msgspec.structs.replace(
            usage(f"a{i}", alice.id, 10 * i, key_id=ka, created_at=now - i), status=502 if i % 2 else 200
        )
        for i in range(calls)
    ]
    await service.store.record_usage([*records, usage("b0", bob.id, 7, key_id=kb, created_at=now)])
    return alice.id, bob.id, ka, kb


async def ids(service: Service, account: int | None, **filters: str) -> list[str]:
    query = await service.usage.query(account, Filters(**filters))
    return [r.request_id for r in (await service.usage.page(query, 200)).items]


async def test_filters_and_scope(service: Service) -> None:
    alice, bob, ka, kb = await two_accounts(service)
    assert await ids(service, alice) == ["a0", "a1", "a2", "a3", "a4"]
    assert await ids(service, alice, status="error") == ["a1", "a3"]
    assert await ids(service, alice, status="200", model="gpt-x") == ["a0", "a2", "a4"]
    assert await ids(service, alice, key=kb) == []  # bob's key: none of bob's calls
    assert await ids(service, alice, key="no-such-key") == []
    assert await ids(service, None, key=kb) == ["b0"]  # across accounts, a key narrows to its account
    assert sorted(await ids(service, None)) == ["a0", "a1", "a2", "a3", "a4", "b0"]
    with pytest.raises(Invalid, match="until: must be after since"):
        await service.usage.query(alice, Filters(since="2000", until="1000"))
    with pytest.raises(Invalid, match="limit"):
        await service.usage.page(None, 0)


async def test_summary_defaults_to_the_last_30_days(service: Service) -> None:
    alice, _, ka, _ = await two_accounts(service)
    old = usage("old", alice, 1_000, key_id=ka, created_at=now_ms() - 40 * DAY_MS)
    await service.store.record_usage([old])
    summary = await service.usage.summary(await service.usage.query(alice, Filters()), "key")
    assert [(g.group, g.calls, g.cost_microcents) for g in summary.groups] == [(ka, 5, 100)]
    assert summary.since is not None and summary.until is None and not summary.truncated
    everything = await service.usage.summary(await service.usage.query(alice, Filters(since="0")), "model")
    assert [(g.group, g.calls) for g in everything.groups] == [("gpt-x", 6)]
    with pytest.raises(Invalid, match="group_by: expected one of day, model, key, account; got 'week'"):
        await service.usage.summary(None, "week")
    assert (await service.usage.summary(None, "day")).groups == []


async def test_a_bounded_export_says_where_the_next_one_starts(service: Service) -> None:
    alice, _, _, _ = await two_accounts(service, calls=7)
    query = await service.usage.query(alice, Filters())
    first = await service.usage.export(query, limit=3)
    assert [r.request_id async for r in first.records] == ["a0", "a1", "a2"]
    assert first.next_cursor is not None
    rest = await service.usage.export(query, limit=100, cursor=first.next_cursor)
    got: list[UsageRecord] = [r async for r in rest.records]
    assert [r.request_id for r in got] == ["a3", "a4", "a5", "a6"] and rest.next_cursor is None
    exact = await service.usage.export(query, limit=7)
    assert len([r async for r in exact.records]) == 7 and exact.next_cursor is None
    nothing = await service.usage.export(None)
    assert [r async for r in nothing.records] == [] and nothing.next_cursor is None
    with pytest.raises(Invalid, match="limit"):
        await service.usage.export(query, limit=100_001)
