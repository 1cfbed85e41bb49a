"""Accounts, top-ups and the ledger through the service, on both backends."""

from __future__ import annotations

import pytest

from weir.service import Service
from weir.service.errors import Conflict, Invalid, NotFound
from weir.store.records import AccountUpdate


async def test_create_get_and_list(service: Service) -> None:
    alice = await service.accounts.create("alice", 500)
    assert await service.accounts.get("alice") == alice == await service.accounts.get_by_id(alice.id)
    assert await service.accounts.find("nobody") is None
    with pytest.raises(NotFound, match="no account named 'nobody'") as caught:
        await service.accounts.get("nobody")
    assert caught.value.code == "account_not_found"
    with pytest.raises(NotFound, match="no account with id 999999"):
        await service.accounts.get_by_id(999_999)
    with pytest.raises(Conflict, match="an account named 'alice' already exists"):
        await service.accounts.create("alice")
    with pytest.raises(Invalid, match="balance: must not be negative"):
        await service.accounts.create("bob", -1)
    with pytest.raises(Invalid, match="name: must not be empty"):
        await service.accounts.create("")
    bob = await service.accounts.create("bob")
    page = await service.accounts.list(1)
    assert page.items == [bob] and page.next_cursor is not None
    assert (await service.accounts.list(1, page.next_cursor)).items == [alice]
    with pytest.raises(Invalid, match="limit: a page holds 1 to 200 items, got 201"):
        await service.accounts.list(201)
    with pytest.raises(Invalid) as bad:
        await service.accounts.list(10, "not-a-cursor")
    assert bad.value.param == "cursor"


async def test_disable_and_enable(service: Service) -> None:
    alice = await service.accounts.create("alice")
    assert (await service.accounts.update(alice.id, AccountUpdate(disabled=True))).disabled
    assert (await service.accounts.get("alice")).disabled
    assert not (await service.accounts.update(alice.id, AccountUpdate(disabled=False))).disabled
    with pytest.raises(NotFound):
        await service.accounts.update(999_999, AccountUpdate(disabled=True))


async def test_topups_with_an_idempotency_key(service: Service) -> None:
    alice = await service.accounts.create("alice", 100)
    first = await service.accounts.topup(alice.id, 1_000, "invoice 7", "inv-7")
    assert not first.replayed and first.account.balance_microcents == 1_100
    retry = await service.accounts.topup(alice.id, 1_000, "invoice 7", "inv-7")
    assert retry.replayed and retry.entry == first.entry and retry.account.balance_microcents == 1_100
    with pytest.raises(Conflict, match="'inv-7' was used for another top-up") as caught:
        await service.accounts.topup(alice.id, 2_000, "invoice 7", "inv-7")
    assert caught.value.param == "idempotency_key" and caught.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict):
        await service.accounts.topup(alice.id, 1_000, "another note", "inv-7")
    assert (await service.accounts.get("alice")).balance_microcents == 1_100
    for amount, key, note, param in (
        (0, None, None, "amount"),
        (-5, None, None, "amount"),
        (5, "has space", None, "idempotency_key"),
        (5, "x" * 256, None, "idempotency_key"),
        (5, "", None, "idempotency_key"),
        (5, None, "n" * 501, "note"),
    ):
        with pytest.raises(Invalid) as refused:
            await service.accounts.topup(alice.id, amount, note, key)
        assert refused.value.param == param
    with pytest.raises(NotFound):
        await service.accounts.topup(999_999, 5)
    ledger = await service.accounts.ledger(alice.id, 10)
    assert [(e.kind, e.amount_microcents, e.note) for e in ledger.items] == [
        ("topup", 1_000, "invoice 7"),
        ("initial", 100, None),
    ]


async def test_the_rate_multiplier_and_allowed_tiers(service: Service) -> None:
    alice = await service.accounts.create("alice")
    changed = await service.accounts.update(
        alice.id, AccountUpdate(rate_multiplier_ppm=1_250_000, allowed_tiers=["pro"])
    )
    assert (changed.rate_multiplier_ppm, changed.allowed_tiers) == (1_250_000, ["pro"])
    with pytest.raises(Invalid) as caught:
        await service.accounts.update(alice.id, AccountUpdate(allowed_tiers=["gold"]))
    assert caught.value.param == "allowed_tiers[0]" and "no tier named 'gold'" in caught.value.reason
    cleared = await service.accounts.update(alice.id, AccountUpdate(allowed_tiers=None))
    assert cleared.allowed_tiers is None and cleared.rate_multiplier_ppm == 1_250_000
