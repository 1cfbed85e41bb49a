"""Backend-neutral pieces of the stores: validation, row mapping and the settlement arithmetic.

Both backends use these so their semantics cannot drift apart; only the SQL differs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from weir.store.records import (
    Account,
    ApiKey,
    KeyLookup,
    LedgerEntry,
    ModelState,
    ProviderHealth,
    ProviderState,
    Settlement,
    StoredResponse,
    TierState,
    UsageRecord,
)

ACCOUNT_COLUMNS = "id, name, balance_microcents, created_at, disabled, rate_multiplier_ppm, allowed_tiers"
KEY_COLUMNS = (
    "id, account_id, kind, name, secret_hmac, created_at, revoked_at, last_used_at, tier, limits, models, ip_allow,"
    " expires_at, max_price_microcents, spend_limit_microcents, spend_period"
)
KEY_INSERT_COLUMNS = "id, account_id, kind, name, secret_hmac, created_at"
KEY_JSON = frozenset(("limits", "models", "ip_allow", "allowed_tiers"))  # columns holding JSON text
MODEL_STATE_COLUMNS = "id, disabled, reason, updated_at, price"
TIER_STATE_COLUMNS = "name, settings, updated_at"
LEDGER_COLUMNS = (
    "id, account_id, kind, amount_microcents, balance_after_microcents, request_id, note, created_at, idempotency_key"
)
USAGE_FIELDS: tuple[str, ...] = UsageRecord.__struct_fields__
USAGE_COLUMNS = ", ".join(USAGE_FIELDS)
LOOKUP_SQL_COLUMNS = ", ".join(f"k.{c.strip()}" for c in KEY_COLUMNS.split(",")) + (
    ", a.name, a.balance_microcents, a.disabled, a.rate_multiplier_ppm"
)
_KEY_WIDTH = len(KEY_COLUMNS.split(","))
_STREAM = USAGE_FIELDS.index("stream")
_ESTIMATED = USAGE_FIELDS.index("usage_estimated")
_BYOK = USAGE_FIELDS.index("byok")
RESPONSE_FIELDS: tuple[str, ...] = StoredResponse.__struct_fields__
RESPONSE_COLUMNS = ", ".join(RESPONSE_FIELDS)
PROVIDER_STATE_COLUMNS = "name, paused, reason, keys_reset_at, updated_at"
PROVIDER_HEALTH_COLUMNS = "provider, worker, health, updated_at"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_topup(amount_microcents: int) -> None:
    if amount_microcents <= 0:
        raise ValueError(f"a top-up must be a positive number of microcents, got {amount_microcents}")


def check_usage(records: Sequence[UsageRecord]) -> None:
    for record in records:
        if record.cost_microcents < 0:
            raise ValueError(
                f"usage record {record.request_id!r} has a negative cost ({record.cost_microcents}); "
                "refunds are adjustments, not usage"
            )


def check_response(record: StoredResponse) -> None:
    if record.expires_at < record.created_at:
        raise ValueError(f"response {record.id!r} would expire ({record.expires_at}) before it was created")


def check_purge_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"a purge deletes at least one row per call, got a limit of {limit}")


def first_occurrences(records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """The records whose request id has not appeared earlier in the batch."""
    seen: set[str] = set()
    unique: list[UsageRecord] = []
    for record in records:
        if record.request_id not in seen:
            seen.add(record.request_id)
            unique.append(record)
    return unique


def usage_row(record: UsageRecord) -> tuple[Any, ...]:
    return msgspec.structs.astuple(record)


def json_column(value: Any) -> Any:
    """A JSON text column as its value (None stays None)."""
    return None if value is None else orjson.loads(value)


def account_from(row: Sequence[Any]) -> Account:
    return Account(
        id=row[0],
        name=row[1],
        balance_microcents=row[2],
        created_at=row[3],
        disabled=bool(row[4]),
        rate_multiplier_ppm=row[5],
        allowed_tiers=json_column(row[6]),
    )


def key_from(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        id=row[0],
        account_id=row[1],
        kind=row[2],
        name=row[3],
        secret_hmac=bytes(row[4]),
        created_at=row[5],
        revoked_at=row[6],
        last_used_at=row[7],
        tier=row[8],
        limits=json_column(row[9]),
        models=json_column(row[10]),
        ip_allow=json_column(row[11]),
        expires_at=row[12],
        max_price_microcents=row[13],
        spend_limit_microcents=row[14],
        spend_period=row[15],
    )


def lookup_from(row: Sequence[Any]) -> KeyLookup:
    n = _KEY_WIDTH
    return KeyLookup(
        key=key_from(row),
        account_name=row[n],
        balance_microcents=row[n + 1],
        account_disabled=bool(row[n + 2]),
        rate_multiplier_ppm=row[n + 3],
    )


def model_state_from(row: Sequence[Any]) -> ModelState:
    return ModelState(id=row[0], disabled=bool(row[1]), reason=row[2], updated_at=row[3], price=row[4])


def tier_state_from(row: Sequence[Any]) -> TierState:
    return TierState(name=row[0], settings=row[1], updated_at=row[2])


def ledger_from(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=row[0],
        account_id=row[1],
        kind=row[2],
        amount_microcents=row[3],
        balance_after_microcents=row[4],
        request_id=row[5],
        note=row[6],
        created_at=row[7],
        idempotency_key=row[8],
    )


def response_row(record: StoredResponse) -> tuple[Any, ...]:
    return msgspec.structs.astuple(record)


def response_from(row: Sequence[Any]) -> StoredResponse:
    return StoredResponse(*row)


def usage_from(row: Sequence[Any]) -> UsageRecord:
    values = dict(zip(USAGE_FIELDS, row, strict=True))
    values["stream"] = bool(row[_STREAM])
    values["usage_estimated"] = bool(row[_ESTIMATED])
    values["byok"] = bool(row[_BYOK])
    return UsageRecord(**values)


@dataclass
class UsagePlan:
    """What one record_usage batch changes, computed from the balances locked at its start."""

    ledger: list[tuple[int, int, int, str]] = field(default_factory=list)  # account, amount, after, note
    debits: dict[int, int] = field(default_factory=dict)  # account -> total debit of the batch
    last_used: dict[str, int] = field(default_factory=dict)  # key id -> newest created_at inserted
    settlements: list[Settlement] = field(default_factory=list)


def plan_usage(records: Sequence[UsageRecord], inserted: set[str], balances: dict[int, int]) -> UsagePlan:
    """Charge every newly inserted request once, in batch order.

    ``inserted`` holds the request ids this batch inserted; a later duplicate in the same batch is not
    charged again. ``balances`` holds every account's balance before the batch. The ledger gets one entry per
    account whose balance changed (a group commit's total, its note counting the calls): a per-call ledger row
    cost ~15 us of SQLite time per call and repeated what usage_records already holds.
    """
    plan = UsagePlan()
    running = dict(balances)
    charged: set[str] = set()
    calls: dict[int, int] = {}
    flags: list[bool] = []
    for record in records:
        new = record.request_id in inserted and record.request_id not in charged
        flags.append(new)
        if not new:
            continue
        charged.add(record.request_id)
        account = record.account_id
        running[account] -= record.cost_microcents
        plan.debits[account] = plan.debits.get(account, 0) + record.cost_microcents
        calls[account] = calls.get(account, 0) + 1
        previous = plan.last_used.get(record.key_id, record.created_at)
        plan.last_used[record.key_id] = max(previous, record.created_at)
    plan.ledger = [
        (account, -debit, running[account], f"{calls[account]} call(s)")
        for account, debit in plan.debits.items()
        if debit
    ]
    plan.settlements = [
        Settlement(
            request_id=record.request_id,
            account_id=record.account_id,
            inserted=new,
            balance_microcents=running[record.account_id],
        )
        for record, new in zip(records, flags, strict=True)
    ]
    return plan


def missing_accounts(wanted: Sequence[int], found: dict[int, int]) -> str:
    ids = ", ".join(str(a) for a in sorted(set(wanted) - found.keys()))
    return f"usage recorded for unknown account id(s): {ids}; nothing in the batch was recorded"


def provider_state_from(row: Sequence[Any]) -> ProviderState:
    return ProviderState(name=row[0], paused=bool(row[1]), reason=row[2], keys_reset_at=row[3], updated_at=row[4])


def provider_health_from(row: Sequence[Any]) -> ProviderHealth:
    return ProviderHealth(provider=row[0], worker=row[1], health=row[2], updated_at=row[3])


# A hold grows by the slice asked for only when the account could cover that many slices; otherwise by what the
# call needs and no more, so that a nearly empty account's money is not parked in one process while another's
# calls are refused.
RICH_SLICES = 4


def hold_grant(available: int, want: int, need: int) -> int:
    """What to add to a hold: `want` when `available` (the balance less every live hold) covers RICH_SLICES of
    it, else `need` when it covers that, else 0."""
    if want >= need and available >= want * RICH_SLICES:
        return want
    return need if available >= need else 0


def hold_shrinks(debits: Mapping[int, int], released: Mapping[int, int] | None) -> dict[int, int]:
    """What a usage commit takes off the committing process's hold of each account: its debit and what it gives
    back."""
    shrinks = {account: debit for account, debit in debits.items() if debit}
    for account, amount in (released or {}).items():
        if amount:
            shrinks[account] = shrinks.get(account, 0) + amount
    return shrinks
