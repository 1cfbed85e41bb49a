"""The store calls the management API needs: pages, filters, the usage summary, updates, idempotent top-ups. Each
test runs against SQLite and PostgreSQL (fixture ``store``)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.store.test_contract import SECRET, assert_ledger_conserved, usage
from tests.support.stores import StoreFactory
from weir.store.base import NotFound, Store
from weir.store.queries import DAY_MS, MAX_PAGE
from weir.store.records import AccountUpdate, KeyUpdate, Page, UsageGroup, UsageQuery, UsageRecord


async def walk_usage(store: Store, query: UsageQuery, limit: int) -> list[list[str]]:
    """Every page of `query`, as lists of request ids."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page: Page[UsageRecord] = await store.page_usage(query, limit, cursor)
        pages.append([r.request_id for r in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def seeded(store: Store) -> tuple[int, int]:
    """Two accounts; acme has 7 calls over 3 days on two keys and two models, globex 2 calls."""
    acme = await store.create_account("acme", 10_000)
    globex = await store.create_account("globex", 10_000)
    for account, key in ((acme.id, "ka"), (acme.id, "kb"), (globex.id, "kg")):
        await store.create_key(account, key, SECRET, "inference", None)
    day = 20_000 * DAY_MS
    records = [
        usage("a1", acme.id, 10, key_id="ka", created_at=day + 1_000),
        usage("a2", acme.id, 20, key_id="kb", created_at=day + 2_000),
        msgspec.structs.replace(usage("a3", acme.id, 0, key_id="ka", created_at=day + 2_000), status=502),
        usage("a4", acme.id, 40, key_id="ka", created_at=day + DAY_MS + 5),
        msgspec.structs.replace(usage("a5", acme.id, 50, key_id="kb", created_at=day + DAY_MS + 6), model="other"),
        msgspec.structs.replace(usage("a6", acme.id, 0, key_id="kb", created_at=day + 3 * DAY_MS), status=429),
        usage("a7", acme.id, 70, key_id="ka", created_at=day + 3 * DAY_MS + 1),
        usage("g1", globex.id, 5, key_id="kg", created_at=day + 1_500),
        usage("g2", globex.id, 6, key_id="kg", created_at=day + 3 * DAY_MS + 2),
    ]
    await store.record_usage(records)
    return acme.id, globex.id


async def test_usage_pages_walk_every_record_once_newest_first(store: Store) -> None:
    acme, _ = await seeded(store)
    pages = await walk_usage(store, UsageQuery(account_id=acme), 3)
    assert pages == [["a7", "a6", "a5"], ["a4", "a3", "a2"], ["a1"]]  # a3 and a2 share a time: id breaks the tie
    assert await walk_usage(store, UsageQuery(account_id=acme), 7) == [["a7", "a6", "a5", "a4", "a3", "a2", "a1"]]
    everyone = await walk_usage(store, UsageQuery(), 4)
    assert [len(p) for p in everyone] == [4, 4, 1]
    assert sum(everyone, []) == ["g2", "a7", "a6", "a5", "a4", "a3", "a2", "g1", "a1"]


async def test_usage_filters(store: Store) -> None:
    acme, globex = await seeded(store)
    day = 20_000 * DAY_MS

    async def ids(**fields: object) -> list[str]:
        return sum(await walk_usage(store, msgspec.convert(fields, UsageQuery), 2), [])

    assert await ids(account_id=acme, key_id="ka") == ["a7", "a4", "a3", "a1"]
    assert await ids(account_id=acme, key_id="kg") == []  # another account's key: nothing, not its records
    assert await ids(account_id=acme, model="other") == ["a5"]
    assert await ids(account_id=acme, status_min=400, status_max=599) == ["a6", "a3"]
    assert await ids(account_id=acme, status_min=200, status_max=200) == ["a7", "a5", "a4", "a2", "a1"]
    assert await ids(account_id=acme, since=day + DAY_MS, until=day + 3 * DAY_MS) == ["a5", "a4"]
    assert await ids(account_id=globex, since=day + 1_500) == ["g2", "g1"]  # since is inclusive
    assert await ids(account_id=globex, until=day + 1_500) == []  # until is exclusive


async def test_usage_page_offset_finds_where_a_bounded_export_ends(store: Store) -> None:
    acme, _ = await seeded(store)
    query = UsageQuery(account_id=acme)
    page = await store.page_usage(query, 1, None, offset=4)
    assert [r.request_id for r in page.items] == ["a3"]  # the 5th newest
    rest = await store.page_usage(query, 10, page.next_cursor)
    assert [r.request_id for r in rest.items] == ["a2", "a1"]
    assert (await store.page_usage(query, 1, None, offset=7)).items == []
    with pytest.raises(ValueError, match="offset"):
        await store.page_usage(query, 1, None, offset=-1)


async def test_usage_summary(store: Store) -> None:
    acme, globex = await seeded(store)
    day = 20_000 * DAY_MS
    by_day = await store.usage_summary(UsageQuery(account_id=acme), "day", 100)
    assert [(g.group, g.calls, g.cost_microcents) for g in by_day] == [
        (day, 3, 30),
        (day + DAY_MS, 2, 90),
        (day + 3 * DAY_MS, 2, 70),
    ]
    one = by_day[0]
    assert one == UsageGroup(day, 3, 3600, 600, 0, 1035, 135, 30)  # three records of usage()'s tokens
    by_model = await store.usage_summary(UsageQuery(account_id=acme), "model", 100)
    assert [(g.group, g.calls, g.cost_microcents) for g in by_model] == [("gpt-x", 6, 140), ("other", 1, 50)]
    by_key = await store.usage_summary(UsageQuery(account_id=acme, since=day + DAY_MS), "key", 100)
    assert [(g.group, g.calls, g.cost_microcents) for g in by_key] == [("ka", 2, 110), ("kb", 2, 50)]
    by_account = await store.usage_summary(UsageQuery(), "account", 1)
    assert [(g.group, g.calls, g.cost_microcents) for g in by_account] == [(acme, 7, 190)]  # limit: the largest
    assert await store.usage_summary(UsageQuery(account_id=globex, model="none"), "day", 10) == []


async def test_ledger_pages(store: Store) -> None:
    account = await store.create_account("acme", 100)
    for i in range(1, 6):
        await store.topup("acme", i, note=f"t{i}")
    seen: list[str | None] = []
    cursor = None
    while True:
        page = await store.page_ledger(account.id, 2, cursor)
        assert len(page.items) <= 2
        seen += [e.note for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["t5", "t4", "t3", "t2", "t1", None]
    other = await store.create_account("globex")
    assert (await store.page_ledger(other.id, 10)).items == []


async def test_key_pages_update_and_scoped_revoke(store: Store) -> None:
    acme = await store.create_account("acme")
    globex = await store.create_account("globex")
    for i in range(5):
        await store.create_key(acme.id, f"k{i}", SECRET, "inference", f"n{i}")
    await store.create_key(globex.id, "g0", SECRET, "management", None)
    first = await store.page_keys(acme.id, 3)
    second = await store.page_keys(acme.id, 3, first.next_cursor)
    listed = [k.id for k in first.items + second.items]
    assert sorted(listed) == [f"k{i}" for i in range(5)] and len(set(listed)) == 5 and second.next_cursor is None
    newest_first = sorted(await store.list_keys(acme.id), key=lambda k: (k.created_at, k.id), reverse=True)
    assert listed == [k.id for k in newest_first]

    renamed = await store.update_key("k1", KeyUpdate(name="laptop"), account_id=acme.id)
    assert renamed.name == "laptop" and await store.get_key("k1") == renamed
    assert (await store.update_key("k1", KeyUpdate(name=None))).name is None
    assert (await store.update_key("k1", KeyUpdate())).name is None  # nothing set: nothing changed
    with pytest.raises(NotFound):
        await store.update_key("g0", KeyUpdate(name="stolen"), account_id=acme.id)
    assert (await store.get_key("g0")) is not None and (await store.get_key("g0")).name is None  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.update_key("nope", KeyUpdate(name="x"))
    assert await store.get_key("nope") is None

    assert await store.revoke_key("g0", account_id=acme.id) is False  # not acme's key
    assert (await store.get_key("g0")).revoked_at is None  # type: ignore[union-attr]
    assert await store.revoke_key("k2", account_id=acme.id) is True
    assert await store.revoke_key("k2", account_id=acme.id) is False


async def test_accounts_pages_update_and_disabled_lookup(store: Store) -> None:
    made = [await store.create_account(f"a{i}") for i in range(5)]
    page = await store.list_accounts(2)
    names = [a.name for a in page.items]
    while page.next_cursor is not None:
        page = await store.list_accounts(2, page.next_cursor)
        names += [a.name for a in page.items]
    assert names == ["a4", "a3", "a2", "a1", "a0"]

    target = made[1]
    await store.create_key(target.id, "kid", SECRET, "inference", None)
    disabled = await store.update_account(target.id, AccountUpdate(disabled=True))
    assert disabled == msgspec.structs.replace(target, disabled=True)
    assert await store.get_account("a1") == disabled and await store.get_account_by_id(target.id) == disabled
    lookup = await store.lookup_key("kid")
    assert lookup is not None and lookup.account_disabled is True
    assert (await store.update_account(target.id, AccountUpdate())).disabled is True
    enabled = await store.update_account(target.id, AccountUpdate(disabled=False))
    assert enabled.disabled is False and (await store.lookup_key("kid")).account_disabled is False  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.update_account(999_999, AccountUpdate(disabled=True))
    assert await store.get_account_by_id(999_999) is None
    # A top-up keeps the account's state
    await store.update_account(target.id, AccountUpdate(disabled=True))
    assert (await store.topup("a1", 5)).disabled is True


async def test_cursors_and_limits_are_checked(store: Store) -> None:
    account = await store.create_account("acme")
    ledger_cursor = (await store.page_ledger(account.id, 1)).next_cursor
    assert ledger_cursor is None
    await store.topup("acme", 1)
    await store.topup("acme", 1)
    ledger_cursor = (await store.page_ledger(account.id, 1)).next_cursor
    assert ledger_cursor is not None
    for bad in ("garbage", "", "e30", ledger_cursor):  # e30 is base64 of {}
        with pytest.raises(ValueError, match="cursor"):
            await store.page_usage(UsageQuery(), 10, bad)
    with pytest.raises(ValueError, match="cursor"):
        await store.list_accounts(10, ledger_cursor)
    for limit in (0, MAX_PAGE + 1):
        with pytest.raises(ValueError, match="limit"):
            await store.page_ledger(account.id, limit)
        with pytest.raises(ValueError, match="limit"):
            await store.usage_summary(UsageQuery(), "day", limit)


async def test_add_topup_applies_a_key_once(store: Store) -> None:
    account = await store.create_account("acme", 100)
    first = await store.add_topup(account.id, 250, "invoice 17", "inv-17")
    assert not first.replayed and first.account.balance_microcents == 350
    assert (first.entry.kind, first.entry.amount_microcents, first.entry.balance_after_microcents) == (
        "topup",
        250,
        350,
    )
    assert (first.entry.note, first.entry.idempotency_key) == ("invoice 17", "inv-17")
    again = await store.add_topup(account.id, 250, "invoice 17", "inv-17")
    assert again.replayed and again.entry == first.entry and again.account.balance_microcents == 350
    other = await store.create_account("globex")
    elsewhere = await store.add_topup(other.id, 5, None, "inv-17")  # keys are per account
    assert not elsewhere.replayed and elsewhere.account.balance_microcents == 5
    plain = [await store.add_topup(account.id, 1) for _ in range(2)]  # no key: each one is applied
    assert [t.account.balance_microcents for t in plain] == [351, 352]
    entries = await store.list_ledger(account.id)
    assert [e.idempotency_key for e in entries] == [None, "inv-17", None, None]
    assert entries[1] == first.entry
    await assert_ledger_conserved(store, account)
    with pytest.raises(NotFound):
        await store.add_topup(999_999, 5, None, "x")
    with pytest.raises(ValueError):
        await store.add_topup(account.id, 0, None, "zero")


async def test_concurrent_retries_of_one_topup_apply_it_once(store: Store, store_factory: StoreFactory) -> None:
    """Retries racing through several stores (workers, replicas) on one database."""
    account = await store.create_account("acme")
    others = [await store_factory() for _ in range(3)]
    results = await asyncio.gather(
        *(s.add_topup(account.id, 1_000, "retry", f"key-{i % 2}") for i in range(12) for s in (store, *others))
    )
    assert sum(not r.replayed for r in results) == 2  # one per idempotency key
    for key in ("key-0", "key-1"):
        assert len({r.entry.id for r in results if r.entry.idempotency_key == key}) == 1  # every retry: the original
    after = await store.get_account_by_id(account.id)
    assert after is not None and after.balance_microcents == 2_000
    assert len(await store.list_ledger(account.id)) == 2
    await assert_ledger_conserved(store, account)


async def test_admission_fields_round_trip_and_reach_the_lookup(store: Store) -> None:
    acme = await store.create_account("acme")
    await store.create_key(acme.id, "kid", SECRET, "inference", None)
    fresh = await store.get_key("kid")
    assert fresh is not None and (fresh.tier, fresh.limits, fresh.models, fresh.expires_at) == (None, None, None, None)
    changes = KeyUpdate(
        tier="pro",
        limits={"rpm": 5, "max_concurrent": 2},
        models=["gpt-*", "claude-sonnet"],
        ip_allow=["10.0.0.0/8", "::1/128"],
        expires_at=1_900_000_000_000,
        max_price_microcents=12_345,
        spend_limit_microcents=1_000_000,
        spend_period="day",
    )
    updated = await store.update_key("kid", changes)
    assert updated.tier == "pro" and updated.limits == {"rpm": 5, "max_concurrent": 2}
    assert updated.models == ["gpt-*", "claude-sonnet"] and updated.ip_allow == ["10.0.0.0/8", "::1/128"]
    assert (updated.expires_at, updated.max_price_microcents) == (1_900_000_000_000, 12_345)
    assert (updated.spend_limit_microcents, updated.spend_period) == (1_000_000, "day")
    assert await store.get_key("kid") == updated
    cleared = await store.update_key("kid", KeyUpdate(limits=None, models=None, spend_period=None))
    assert (cleared.limits, cleared.models, cleared.spend_period, cleared.tier) == (None, None, None, "pro")

    tiered = await store.update_account(acme.id, AccountUpdate(rate_multiplier_ppm=1_500_000, allowed_tiers=["pro"]))
    assert (tiered.rate_multiplier_ppm, tiered.allowed_tiers) == (1_500_000, ["pro"])
    lookup = await store.lookup_key("kid")
    assert lookup is not None and lookup.rate_multiplier_ppm == 1_500_000 and lookup.key == cleared


async def test_model_state_disable_and_enable(store: Store) -> None:
    assert await store.list_model_states() == []
    off = await store.set_model_disabled("gpt-4o", True, "upstream recall")
    assert (off.id, off.disabled, off.reason) == ("gpt-4o", True, "upstream recall") and off.updated_at > 0
    await store.set_model_disabled("claude", True)
    on = await store.set_model_disabled("gpt-4o", False, "ignored when enabling")
    assert (on.disabled, on.reason) == (False, None)
    states = await store.list_model_states()
    assert [(s.id, s.disabled) for s in states] == [("claude", True), ("gpt-4o", False)]


async def test_model_price_is_stored_beside_the_switch(store: Store) -> None:
    await store.set_model_disabled("gpt-4o", True, "recall")
    priced = await store.set_model_price("gpt-4o", '{"input":1.5}')
    assert (priced.price, priced.disabled, priced.reason) == ('{"input":1.5}', True, "recall")  # the switch is kept
    fresh = await store.set_model_price("claude", '{"output":2}')
    assert (fresh.price, fresh.disabled) == ('{"output":2}', False)
    cleared = await store.set_model_price("gpt-4o", None)
    assert (cleared.price, cleared.disabled) == (None, True)
    enabled = await store.set_model_disabled("claude", False)
    assert enabled.price == '{"output":2}'  # enabling keeps the price
    states = {s.id: s.price for s in await store.list_model_states()}
    assert states == {"claude": '{"output":2}', "gpt-4o": None}


async def test_tier_settings_are_kept_until_cleared(store: Store) -> None:
    assert await store.list_tier_states() == []
    await store.set_tier_settings("pro", '{"name":"pro","max_ips":3}')
    await store.set_tier_settings("free", '{"name":"free"}')
    await store.set_tier_settings("pro", '{"name":"pro","max_ips":4}')
    states = await store.list_tier_states()
    assert [(s.name, s.settings) for s in states] == [
        ("free", '{"name":"free"}'),
        ("pro", '{"name":"pro","max_ips":4}'),
    ]
    assert all(s.updated_at > 0 for s in states)
    await store.set_tier_settings("pro", None)
    await store.set_tier_settings("gone", None)  # clearing what was never set is no error
    assert [s.name for s in await store.list_tier_states()] == ["free"]
