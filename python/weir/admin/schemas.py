"""The request bodies of the management API: strict msgspec schemas (an unknown field is refused, by name)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from weir.store.records import KeyKind, KeyUpdate


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class KeySettings(Body):
    """What a key may do (README "Tiers and rate limits"); a field left out is left as it is, null clears it."""

    tier: str | None | UnsetType = UNSET
    limits: dict[str, int] | None | UnsetType = UNSET  # the key's whole set of own limits
    models: list[str] | None | UnsetType = UNSET
    ip_allow: list[str] | None | UnsetType = UNSET
    expires_at: int | None | UnsetType = UNSET  # Unix epoch milliseconds
    max_price_microcents: int | None | UnsetType = UNSET  # the most one call may cost
    spend_limit_microcents: int | None | UnsetType = UNSET  # the most its calls may cost per spend_period
    spend_period: str | None | UnsetType = UNSET  # day, week, month or total

    def changes(self, **more: Any) -> KeyUpdate:
        fields = {f: getattr(self, f) for f in KeySettings.__struct_fields__}
        return KeyUpdate(**fields, **more)


class CreateKey(KeySettings):
    name: str | None = None
    kind: KeyKind = "inference"


class UpdateKey(KeySettings):
    name: str | None | UnsetType = UNSET


class CreateAccount(Body):
    name: str
    balance_usd: str | float | int | UnsetType = UNSET  # or balance_microcents, not both
    balance_microcents: int | UnsetType = UNSET


class UpdateAccount(Body):
    disabled: bool | UnsetType = UNSET
    rate_multiplier: str | float | int | UnsetType = UNSET  # its prices times this (0.8, 1.25; 3 decimals at most)
    allowed_tiers: list[str] | None | UnsetType = UNSET  # the tiers its owner may give its keys; null: none


class TopUp(Body):
    amount_usd: str | float | int | UnsetType = UNSET  # or amount_microcents, not both
    amount_microcents: int | UnsetType = UNSET
    note: str | None = None


class Pause(Body):
    reason: str | None = None


class PriceChanges(Body):
    """New prices in USD (per 1M tokens; image per image, character per 1M characters, second per second); a price
    left out keeps its value; null cached_input or cache_write: the input price."""

    input: float | UnsetType = UNSET
    output: float | UnsetType = UNSET
    cached_input: float | None | UnsetType = UNSET
    cache_write: float | None | UnsetType = UNSET
    image: float | UnsetType = UNSET
    character: float | UnsetType = UNSET
    second: float | UnsetType = UNSET

    def changes(self) -> dict[str, float | None]:
        fields = ((f, getattr(self, f)) for f in PriceChanges.__struct_fields__)
        return {f: value for f, value in fields if value is not UNSET}


class UpdateModel(Body):
    price: PriceChanges | None | UnsetType = UNSET  # null: back to the configuration's prices


class UpdateTier(Body):
    """A tier's new settings; those left out keep theirs. A limit of null: unlimited; models null: every model."""

    description: str | UnsetType = UNSET
    models: list[str] | None | UnsetType = UNSET
    requests_per_minute: int | None | UnsetType = UNSET
    requests_per_hour: int | None | UnsetType = UNSET
    requests_per_day: int | None | UnsetType = UNSET
    tokens_per_minute: int | None | UnsetType = UNSET
    tokens_per_day: int | None | UnsetType = UNSET
    max_concurrent: int | None | UnsetType = UNSET
    max_ips: int | None | UnsetType = UNSET
    price_multiplier: float | UnsetType = UNSET

    def changes(self) -> dict[str, Any]:
        fields = ((f, getattr(self, f)) for f in UpdateTier.__struct_fields__)
        return {f: value for f, value in fields if value is not UNSET}
