"""Reservations against a real store (each test on SQLite and PostgreSQL): slices, the round trips they save, the
invariants (never more reserved than the balance covers, every slice back at the end), expiry and idling."""

from __future__ import annotations

import asyncio

import msgspec

from tests.store.test_contract import account_with_key, usage
from weir.billing.estimate import client_output_limit, max_cost
from weir.billing.prices import TokenPrice
from weir.billing.reservations import Reservations
from weir.store.base import Store
from weir.store.records import HoldGrant


class CountingStore:
    """The real store, counting the hold round trips made through it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.takes = 0

    async def take_hold(self, holder: str, account_id: int, want: int, need: int, ttl_ms: int) -> HoldGrant:
        self.takes += 1
        return await self.inner.take_hold(holder, account_id, want, need, ttl_ms)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_estimate_prices_input_at_the_dearest_rate_and_rounds_up() -> None:
    price = TokenPrice(input=100_000_000, output=400_000_000, cached_input=50_000_000, cache_write=125_000_000)
    assert max_cost(price, 1_000, 500) == (1_000 * 125_000_000 + 500 * 400_000_000) // 1_000_000
    assert max_cost(TokenPrice(input=1, output=1, cached_input=1, cache_write=1), 1, 0) == 1  # a fraction: up
    assert client_output_limit("openai_chat", {"max_completion_tokens": 50, "max_tokens": 9}) == 50
    assert client_output_limit("openai_chat", {"max_tokens": 9}) == 9
    assert client_output_limit("openai_responses", {"max_output_tokens": 7}) == 7
    assert client_output_limit("anthropic_messages", {"max_tokens": True}) is None  # not a number
    assert client_output_limit("gemini", {"generationConfig": {"maxOutputTokens": 64}}) == 64
    assert client_output_limit("gemini", {"generationConfig": "x"}) is None
    assert client_output_limit("openai_chat", {"max_tokens": 0}) is None


async def test_a_rich_account_takes_one_round_trip_per_slice(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000_000)
    counting = CountingStore(store)
    reservations = Reservations(counting, slice_calls=10)  # type: ignore[arg-type]
    for _ in range(25):
        assert await reservations.reserve(acme.id, 100) is None
    assert counting.takes == 3  # 10 calls' worth at a time
    assert reservations.holding(acme.id) == (3_000, 2_500)
    assert await store.held_microcents(acme.id) == 3_000
    for _ in range(25):
        reservations.end(acme.id, 100, 40)
    assert reservations.holding(acme.id) == (2_000, 0)
    await reservations.close()
    assert await store.held_microcents(acme.id) == 0


async def test_a_nearly_empty_account_admits_what_its_balance_covers_and_no_more(store: Store) -> None:
    acme = await account_with_key(store, balance=500)
    workers = [Reservations(store, slice_calls=50) for _ in range(3)]  # three processes, one account
    outcomes = await asyncio.gather(*(workers[i % 3].reserve(acme.id, 100) for i in range(50)))
    admitted = [o for o in outcomes if o is None]
    assert len(admitted) == 5
    refused = next(o for o in outcomes if o is not None)
    assert refused.balance == 500 and refused.held == 500
    assert await store.held_microcents(acme.id) == 500
    for worker in workers:
        await worker.close()


async def test_settled_costs_leave_the_slice_and_the_store_alike(store: Store) -> None:
    acme = await account_with_key(store, balance=10_000)
    reservations = Reservations(store, slice_calls=2)
    assert await reservations.reserve(acme.id, 1_000) is None  # 10,000 covers 4 slices of 2,000: a slice
    hold, _ = reservations.holding(acme.id)
    assert hold == 2_000
    await store.record_usage([usage("r1", acme.id, 700)], holder=reservations.holder)
    reservations.end(acme.id, 1_000, 700)
    assert reservations.holding(acme.id) == (1_300, 0)
    assert await store.held_microcents(acme.id) == 1_300
    account = await store.get_account_by_id(acme.id)
    assert account is not None and account.balance_microcents == 9_300
    await reservations.close()
    assert await store.held_microcents(acme.id) == 0


async def test_an_idle_slice_goes_back_and_a_lost_one_holds_nothing(store: Store) -> None:
    acme = await account_with_key(store, balance=100_000)
    now = [0.0]
    reservations = Reservations(store, slice_calls=5, idle_seconds=10, clock=lambda: now[0])
    assert await reservations.reserve(acme.id, 100) is None
    reservations.end(acme.id, 100, 0)
    await reservations.tend()
    assert await store.held_microcents(acme.id) == 500  # idle for 0 s: kept
    now[0] = 11.0
    await reservations.tend()
    assert await store.held_microcents(acme.id) == 0 and reservations.holding(acme.id) == (0, 0)
    assert await reservations.reserve(acme.id, 100) is None
    await store.return_hold(reservations.holder, acme.id, 10_000)  # as if it had expired in the store
    await reservations.tend()
    assert reservations.holding(acme.id) == (0, 100)  # it no longer admits against money the store does not hold
    await reservations.close()


async def test_every_path_releases_and_the_books_balance(store: Store) -> None:
    """Initial balance + top-ups - debits = balance, exactly, with reservations settled in between."""
    acme = await account_with_key(store, balance=50_000)
    reservations = Reservations(store, slice_calls=3)
    costs = [0, 123, 999, 5_000, 1]
    for n, cost in enumerate(costs):
        assert await reservations.reserve(acme.id, 5_000) is None
        if cost:
            await store.record_usage([usage(f"r{n}", acme.id, cost)], holder=reservations.holder)
        reservations.end(acme.id, 5_000, cost)
    await store.topup("acme", 1_000)
    await reservations.close()
    account = await store.get_account_by_id(acme.id)
    assert account is not None
    assert account.balance_microcents == 50_000 + 1_000 - sum(costs)
    assert await store.held_microcents(acme.id) == 0
    entries = await store.list_ledger(acme.id)
    assert sum(e.amount_microcents for e in entries) == account.balance_microcents
    assert msgspec.structs.asdict(account)["balance_microcents"] == entries[-1].balance_after_microcents


async def test_a_nearly_empty_accounts_leftover_goes_back_at_once_for_the_other_processes(store: Store) -> None:
    acme = await account_with_key(store, balance=250)
    first, second = Reservations(store), Reservations(store)
    assert await first.reserve(acme.id, 200) is None  # lean: only what the call needs
    assert await second.reserve(acme.id, 100) is not None  # 50 left
    await store.record_usage([usage("r1", acme.id, 120)], holder=first.holder)
    await first.finish(acme.id, 200, 120)  # 80 of its 200 left over, given back
    assert first.holding(acme.id) == (0, 0) and await store.held_microcents(acme.id) == 0
    assert await second.reserve(acme.id, 100) is None  # 130 left: it fits
    await second.close()
    await first.close()


async def test_a_rich_accounts_slice_is_grown_in_the_background_before_it_runs_out(store: Store) -> None:
    acme = await account_with_key(store, balance=1_000_000)
    counting = CountingStore(store)
    reservations = Reservations(counting, slice_calls=10)  # type: ignore[arg-type]
    assert await reservations.reserve(acme.id, 100) is None  # the first slice: 1,000
    for _ in range(5):
        assert await reservations.reserve(acme.id, 100) is None  # 400 left: less than half a slice
    for _ in range(100):  # the refill runs beside the calls
        if reservations.holding(acme.id)[0] > 1_000:
            break
        await asyncio.sleep(0.01)
    assert counting.takes == 2 and reservations.holding(acme.id) == (2_000, 600)
    for _ in range(9):
        assert await reservations.reserve(acme.id, 100) is None  # served from the grown slice, no waiting
    await reservations.close()
    assert await store.held_microcents(acme.id) == 0
