"""Tiers through the service, on both backends: the operator's settings in place of the configured ones, checked as
the configuration's are, and the key owner's limits held to the tier's in effect."""

from __future__ import annotations

import pytest

from weir.admin.schemas import UpdateTier
from weir.service import Service
from weir.service.errors import Invalid, NotFound
from weir.service.tiers import SETTINGS
from weir.store.records import AccountUpdate, KeyUpdate


def test_the_api_schema_names_every_setting() -> None:
    assert UpdateTier.__struct_fields__ == SETTINGS


async def test_settings_merge_with_the_ones_in_effect_and_reset(service: Service) -> None:
    assert [(v.tier.name, v.settings_set) for v in await service.tiers.views()] == [("free", False), ("pro", False)]
    view = await service.tiers.update("pro", {"requests_per_minute": 30, "models": ["m-one"]})
    assert (view.settings_set, view.tier.requests_per_minute, view.tier.price_multiplier) == (True, 30, 0.8)
    view = await service.tiers.update("pro", {"price_multiplier": 1.25, "requests_per_minute": None})
    assert (view.tier.requests_per_minute, view.tier.models, view.tier.price_multiplier) == (None, ["m-one"], 1.25)
    assert (await service.tiers.view("free")).settings_set is False
    view = await service.tiers.reset("pro")
    assert (view.settings_set, view.tier.models, view.tier.price_multiplier) == (False, None, 0.8)


@pytest.mark.parametrize(
    ("changes", "param", "reason"),
    [
        ({"name": "gold"}, "name", "is not a tier setting"),
        ({}, "settings", "give at least one setting"),
        ({"max_ips": 0}, "max_ips", "at least 1"),
        ({"max_ips": "two"}, "max_ips", "expected int | null, got str"),
        ({"models": ["nope"]}, "models[0]", "no model has the id or alias 'nope'"),
        ({"price_multiplier": 0}, "price_multiplier", "greater than 0"),
        ({"price_multiplier": 1.2345}, "price_multiplier", "at most 3 decimal places"),
        ({"description": "x" * 501}, "description", "at most 500 characters"),
    ],
)
async def test_settings_refused(service: Service, changes: dict[str, object], param: str, reason: str) -> None:
    with pytest.raises(Invalid) as refused:
        await service.tiers.update("free", changes)
    assert (refused.value.param, reason in refused.value.reason) == (param, True), refused.value
    assert await service.store.list_tier_states() == []
    with pytest.raises(NotFound, match="no tier named 'gold'"):
        await service.tiers.update("gold", {"max_ips": 1})


async def test_an_owner_is_held_to_the_tier_in_effect(service: Service) -> None:
    account = await service.accounts.create("tiered")
    await service.accounts.update(account.id, AccountUpdate(allowed_tiers=["pro"]))
    made = await service.keys.create(account.id, "inference", settings=KeyUpdate(tier="pro"))
    await service.tiers.update("pro", {"requests_per_minute": 10})
    with pytest.raises(Invalid, match="may be at most the tier's 10"):
        await service.keys.update(made.key.id, KeyUpdate(limits={"requests_per_minute": 11}), account.id, owner=True)
    changed = await service.keys.update(
        made.key.id, KeyUpdate(limits={"requests_per_minute": 9}), account.id, owner=True
    )
    assert changed.limits == {"requests_per_minute": 9}
