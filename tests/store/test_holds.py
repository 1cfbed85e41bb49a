"""Holds: the slices of an account's balance that processes reserve calls against. Each test runs against SQLite
and PostgreSQL (fixture ``store``)."""

from __future__ import annotations

import asyncio

import pytest

from tests.store.test_contract import account_with_key, usage
from weir.store import _common as c
from weir.store.base import NotFound, Store

TTL = 60_000


def test_grant_rule() -> None:
    assert c.hold_grant(available=1000, want=100, need=10) == 100  # rich: the whole slice
    assert c.hold_grant(available=399, want=100, need=10) == 10  # not rich: only what the call needs
    assert c.hold_grant(available=10, want=100, need=10) == 10
    assert c.hold_grant(available=9, want=100, need=10) == 0  # not even that
    assert c.hold_grant(available=-5, want=100, need=0) == 0


async def test_a_hold_is_granted_only_while_the_balance_covers_every_live_hold(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    first = await store.take_hold("w1", acme.id, want=100, need=50, ttl_ms=TTL)
    assert (first.granted, first.mine, first.balance, first.held) == (100, 100, 1_000, 100)
    second = await store.take_hold("w2", acme.id, want=800, need=800, ttl_ms=TTL)
    assert (second.granted, second.mine, second.held) == (800, 800, 900)  # 900 left, not rich: the need
    refused = await store.take_hold("w1", acme.id, want=400, need=101, ttl_ms=TTL)
    assert (refused.granted, refused.mine, refused.held) == (0, 100, 900)  # 100 left
    last = await store.take_hold("w1", acme.id, want=400, need=100, ttl_ms=TTL)
    assert (last.granted, last.mine, last.held) == (100, 200, 1_000)
    assert await store.held_microcents(acme.id) == 1_000
    with pytest.raises(NotFound):
        await store.take_hold("w1", 999_999, want=1, need=1, ttl_ms=TTL)


async def test_a_settled_cost_leaves_the_balance_and_the_holders_hold_together(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    await store.take_hold("w1", acme.id, want=300, need=300, ttl_ms=TTL)
    await store.record_usage([usage("r1", acme.id, 120), usage("r2", acme.id, 80)], holder="w1")
    account = await store.get_account_by_id(acme.id)
    assert account is not None and account.balance_microcents == 800
    assert await store.held_microcents(acme.id) == 100
    await store.record_usage([usage("r1", acme.id, 120)], holder="w1")  # a duplicate: charged once, held once
    assert await store.held_microcents(acme.id) == 100
    await store.record_usage([usage("r3", acme.id, 500)], holder="w1")  # more than its hold: down to 0, not below
    assert await store.held_microcents(acme.id) == 0


async def test_return_and_renew(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    await store.take_hold("w1", acme.id, want=100, need=100, ttl_ms=TTL)
    await store.return_hold("w1", acme.id, 30)
    assert await store.held_microcents(acme.id) == 70
    assert await store.renew_holds("w1", TTL) == [acme.id]
    await store.return_hold("w1", acme.id, 1_000)  # all of it: the hold goes
    assert await store.held_microcents(acme.id) == 0
    assert await store.renew_holds("w1", TTL) == []


async def test_an_expired_hold_stops_counting_and_is_not_revived(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    await store.take_hold("dead", acme.id, want=1_000, need=1_000, ttl_ms=50)
    assert (await store.take_hold("w1", acme.id, want=10, need=10, ttl_ms=TTL)).granted == 0
    await asyncio.sleep(0.1)
    assert await store.renew_holds("dead", TTL) == []  # its holder missed the deadline: it stays dead
    grant = await store.take_hold("w1", acme.id, want=10, need=10, ttl_ms=TTL)
    assert (grant.granted, grant.held) == (10, 10)  # and the next grant deleted it


async def test_concurrent_grants_never_exceed_the_balance(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    grants = await asyncio.gather(
        *(store.take_hold(f"w{i % 4}", acme.id, want=90, need=90, ttl_ms=TTL) for i in range(30))
    )
    assert sum(g.granted for g in grants) == 990  # eleven of the thirty fit
    assert await store.held_microcents(acme.id) == 990


async def test_a_usage_commit_can_give_back_what_its_call_left_of_the_hold(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000)
    await store.take_hold("w1", acme.id, want=200, need=200, ttl_ms=TTL)
    await store.record_usage([usage("r1", acme.id, 120)], holder="w1", released={acme.id: 80})
    assert await store.held_microcents(acme.id) == 0  # 120 spent, the 80 left over given back, in one commit
    account = await store.get_account_by_id(acme.id)
    assert account is not None and account.balance_microcents == 880
