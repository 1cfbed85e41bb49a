"""The request bodies of the management API: strict msgspec schemas (an unknown field is refused, by name)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from weir.store.records import KeyKind


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class CreateKey(Body):
    name: str | None = None
    kind: KeyKind = "inference"


class UpdateKey(Body):
    name: str | None | UnsetType = UNSET


class CreateAccount(Body):
    name: str
    balance_usd: str | float | int | UnsetType = UNSET  # or balance_microcents, not both
    balance_microcents: int | UnsetType = UNSET


class UpdateAccount(Body):
    disabled: bool | UnsetType = UNSET


class TopUp(Body):
    amount_usd: str | float | int | UnsetType = UNSET  # or amount_microcents, not both
    amount_microcents: int | UnsetType = UNSET
    note: str | None = None


class Pause(Body):
    reason: str | None = None
