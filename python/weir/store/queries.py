"""The management queries, written once for both backends: lists in pages (newest first, keyset cursors), the
usage summary, and partial updates. Each function returns the SQL and its parameters in the backend's placeholder
style (`?` for SQLite, `$n` with a type cast for PostgreSQL); the backends only run them.

A cursor is the position of the last item of a page, encoded with the list's name (so one list's cursor is refused
by another) in URL-safe base64; the next page starts strictly after it. Positions do not shift when rows are added,
as offsets would.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
import orjson

from weir.store import _common as c
from weir.store.records import (
    Account,
    AccountUpdate,
    ApiKey,
    KeyUpdate,
    LedgerEntry,
    Page,
    UsageGroup,
    UsageGroupBy,
    UsageQuery,
    UsageRecord,
)

T = TypeVar("T")
MAX_PAGE = 1000  # items per page, at most, whoever asks
MAX_OFFSET = 100_000
DAY_MS = 86_400_000
_GROUP_EXPR: dict[UsageGroupBy, str] = {
    "day": f"created_at - created_at % {DAY_MS}",  # the UTC midnight that starts the call's day, epoch ms
    "model": "model",
    "key": "key_id",
    "account": "account_id",
}
_SUMS = ("input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_microcents")


class Params:
    """The parameters of one statement, each added where it is used: `p(value, "bigint")` is its placeholder."""

    def __init__(self, numbered: bool) -> None:
        self.numbered = numbered
        self.values: list[Any] = []

    def __call__(self, value: Any, pg_type: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{pg_type}" if self.numbered else "?"


Statement = tuple[str, list[Any]]


def encode_cursor(kind: str, position: Sequence[int | str]) -> str:
    raw = msgspec.json.encode([kind, *position])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The position `cursor` names; ValueError when it is not one this list gave out."""
    refused = ValueError(f"cursor: {cursor[:40]!r} is not a cursor of this list; pass the next_cursor a page gave")
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise refused from None
    if not isinstance(values, list) or len(values) != len(types) + 1 or values[0] != kind:
        raise refused
    position = tuple(values[1:])
    if not all(type(v) is t for v, t in zip(position, types, strict=True)):
        raise refused
    return position


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit: a page holds 1 to {MAX_PAGE} items, got {limit}")


def page(
    rows: list[Any], limit: int, listing: Listing, item: Callable[[Any], T], position: Callable[[T], tuple[Any, ...]]
) -> Page[T]:
    """A page from up to limit + 1 rows: the extra row only says that another page follows."""
    items = [item(row) for row in rows[:limit]]
    more = len(rows) > limit and items
    return Page(items=items, next_cursor=encode_cursor(listing.kind, position(items[-1])) if more else None)


def _where(conditions: list[str]) -> str:
    return " AND ".join(conditions) if conditions else "1 = 1"


class Listing(msgspec.Struct, frozen=True):
    """One list's order: newest first by `columns` (the last one unique), and the cursor that continues it."""

    kind: str
    columns: tuple[str, ...]
    pg_types: tuple[str, ...]
    py_types: tuple[type, ...]

    def after(self, cursor: str, p: Params) -> str:
        """The condition `strictly after the cursor's position` in this order."""
        position = decode_cursor(self.kind, cursor, self.py_types)
        marks = ", ".join(p(value, t) for value, t in zip(position, self.pg_types, strict=True))
        return f"({', '.join(self.columns)}) < ({marks})" if len(self.columns) > 1 else f"{self.columns[0]} < {marks}"

    def select(self, select: str, conditions: list[str], cursor: str | None, limit: int, p: Params) -> str:
        """`select` narrowed by `conditions`, after `cursor`, in this order: limit + 1 rows (see `page`)."""
        check_limit(limit)
        if cursor is not None:
            conditions = [*conditions, self.after(cursor, p)]
        order = ", ".join(f"{column} DESC" for column in self.columns)
        return f"{select} WHERE {_where(conditions)} ORDER BY {order} LIMIT {p(limit + 1, 'bigint')}"


USAGE = Listing("usage", ("created_at", "request_id"), ("bigint", "text"), (int, str))
LEDGER = Listing("ledger", ("id",), ("bigint",), (int,))
KEYS = Listing("keys", ("created_at", "id"), ("bigint", "text"), (int, str))
ACCOUNTS = Listing("accounts", ("id",), ("bigint",), (int,))


def usage_position(record: UsageRecord) -> tuple[int, str]:
    return (record.created_at, record.request_id)


def ledger_position(entry: LedgerEntry) -> tuple[int]:
    return (entry.id,)


def key_position(key: ApiKey) -> tuple[int, str]:
    return (key.created_at, key.id)


def account_position(account: Account) -> tuple[int]:
    return (account.id,)


# Each field of UsageQuery: the condition it adds when set, and its PostgreSQL type
_USAGE_FILTERS = (
    ("account_id", "account_id = {}", "bigint"),
    ("key_id", "key_id = {}", "text"),
    ("model", "model = {}", "text"),
    ("status_min", "status >= {}", "integer"),
    ("status_max", "status <= {}", "integer"),
    ("since", "created_at >= {}", "bigint"),
    ("until", "created_at < {}", "bigint"),
)


def usage_conditions(q: UsageQuery, p: Params) -> list[str]:
    return [
        condition.format(p(value, pg_type))
        for field, condition, pg_type in _USAGE_FILTERS
        if (value := getattr(q, field)) is not None
    ]


def usage_page(q: UsageQuery, limit: int, cursor: str | None, offset: int, numbered: bool) -> Statement:
    """`offset` skips that many records after the cursor first (bounded): the CSV export finds where it ends."""
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset: must be between 0 and {MAX_OFFSET}, got {offset}")
    p = Params(numbered)
    sql = USAGE.select(f"SELECT {c.USAGE_COLUMNS} FROM usage_records", usage_conditions(q, p), cursor, limit, p)
    return f"{sql} OFFSET {p(offset, 'bigint')}", p.values


def usage_summary(q: UsageQuery, group_by: UsageGroupBy, limit: int, numbered: bool) -> Statement:
    """Days in order (for a chart); models, keys and accounts by spend, the largest first."""
    check_limit(limit)
    p = Params(numbered)
    sums = ", ".join(f"CAST(sum({column}) AS BIGINT)" for column in _SUMS)
    order = "grp" if group_by == "day" else "CAST(sum(cost_microcents) AS BIGINT) DESC, grp"
    sql = (
        f"SELECT {_GROUP_EXPR[group_by]} AS grp, count(*), {sums} FROM usage_records"
        f" WHERE {_where(usage_conditions(q, p))} GROUP BY grp ORDER BY {order} LIMIT {p(limit, 'bigint')}"
    )
    return sql, p.values


def usage_group_from(row: Sequence[Any]) -> UsageGroup:
    return UsageGroup(*row)


def ledger_page(account_id: int, limit: int, cursor: str | None, numbered: bool) -> Statement:
    p = Params(numbered)
    select = f"SELECT {c.LEDGER_COLUMNS} FROM ledger"
    return LEDGER.select(select, [f"account_id = {p(account_id, 'bigint')}"], cursor, limit, p), p.values


def keys_page(account_id: int, limit: int, cursor: str | None, numbered: bool) -> Statement:
    p = Params(numbered)
    select = f"SELECT {c.KEY_COLUMNS} FROM api_keys"
    return KEYS.select(select, [f"account_id = {p(account_id, 'bigint')}"], cursor, limit, p), p.values


def accounts_page(limit: int, cursor: str | None, numbered: bool) -> Statement:
    p = Params(numbered)
    return ACCOUNTS.select(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts", [], cursor, limit, p), p.values


# The PostgreSQL type of each field of AccountUpdate and KeyUpdate (each the column of its name).
UPDATE_TYPES = {
    "disabled": "boolean",
    "name": "text",
    "rate_multiplier_ppm": "bigint",
    "allowed_tiers": "text",
    "tier": "text",
    "limits": "text",
    "models": "text",
    "ip_allow": "text",
    "expires_at": "bigint",
    "max_price_microcents": "bigint",
    "spend_limit_microcents": "bigint",
    "spend_period": "text",
}


def update(
    table: str, changes: AccountUpdate | KeyUpdate, where: dict[str, tuple[Any, str]], numbered: bool
) -> Statement | None:
    """`UPDATE table SET <each field of changes that is set> WHERE <column = value, ...>`; None when nothing is set."""
    fields = {k: v for k, v in msgspec.structs.asdict(changes).items() if v is not msgspec.UNSET}
    if not fields:
        return None
    p = Params(numbered)
    assignments = ", ".join(
        f"{column} = {p(_column_value(column, value), UPDATE_TYPES[column])}" for column, value in fields.items()
    )
    conditions = [f"{column} = {p(value, pg_type)}" for column, (value, pg_type) in where.items()]
    return f"UPDATE {table} SET {assignments} WHERE {_where(conditions)}", p.values


def _column_value(column: str, value: Any) -> Any:
    """JSON columns hold text (one schema for both backends)."""
    if column in c.KEY_JSON and value is not None:
        return orjson.dumps(value).decode()
    return value
