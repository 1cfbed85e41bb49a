"""SQLite: usage records, settled with the debit and the ledger entry in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import NotFound
from weir.store.records import Page, Settlement, UsageGroup, UsageGroupBy, UsageQuery, UsageRecord
from weir.store.sqlite.accounts import INSERT_LEDGER
from weir.store.sqlite.core import SqliteCore, fetch, select_in, transaction
from weir.store.sqlite.holds import shrink_holds

_KEY_SPEND = (
    "SELECT coalesce(sum(cost_microcents), 0) FROM usage_records"
    " WHERE account_id = ? AND key_id = ? AND created_at >= ?"
)
_INSERT_USAGE = f"INSERT INTO usage_records ({c.USAGE_COLUMNS}) VALUES ({', '.join('?' * len(c.USAGE_FIELDS))})"


class SqliteUsage(SqliteCore):
    async def record_usage(
        self, records: Sequence[UsageRecord], holder: str | None = None, released: Mapping[int, int] | None = None
    ) -> list[Settlement]:
        if not records:
            return []
        c.check_usage(records)
        return await self._run(_record_usage, list(records), holder, released)

    async def key_spend(self, account_id: int, key_id: str, since_ms: int) -> int:
        rows = await self._run(fetch, _KEY_SPEND, (account_id, key_id, since_ms))
        return int(rows[0][0])

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        rows = await self._run(
            fetch, f"SELECT {c.USAGE_COLUMNS} FROM usage_records WHERE request_id = ?", (request_id,)
        )
        return c.usage_from(rows[0]) if rows else None

    async def page_usage(
        self, query: UsageQuery, limit: int, cursor: str | None = None, offset: int = 0
    ) -> Page[UsageRecord]:
        sql, params = q.usage_page(query, limit, cursor, offset, numbered=False)
        rows = await self._run(fetch, sql, tuple(params))
        return q.page(rows, limit, q.USAGE, c.usage_from, q.usage_position)

    async def usage_summary(self, query: UsageQuery, group_by: UsageGroupBy, limit: int) -> list[UsageGroup]:
        sql, params = q.usage_summary(query, group_by, limit, numbered=False)
        return [q.usage_group_from(row) for row in await self._run(fetch, sql, tuple(params))]


def _record_usage(
    conn: sqlite3.Connection, records: list[UsageRecord], holder: str | None, released: Mapping[int, int] | None
) -> list[Settlement]:
    unique = c.first_occurrences(records)
    account_ids = sorted({r.account_id for r in records})
    with transaction(conn):
        balances = dict(select_in(conn, "SELECT id, balance_microcents FROM accounts", "id", account_ids))
        if len(balances) != len(account_ids):
            raise NotFound(c.missing_accounts(account_ids, balances))
        ids = [r.request_id for r in unique]
        existing = {row[0] for row in select_in(conn, "SELECT request_id FROM usage_records", "request_id", ids)}
        fresh = [r for r in unique if r.request_id not in existing]
        conn.executemany(_INSERT_USAGE, [c.usage_row(r) for r in fresh])
        plan = c.plan_usage(records, {r.request_id for r in fresh}, balances)
        conn.executemany(
            "UPDATE accounts SET balance_microcents = balance_microcents - ? WHERE id = ?",
            [(debit, account) for account, debit in plan.debits.items()],
        )
        if holder is not None:
            shrink_holds(conn, holder, plan.debits, released)
        now = c.now_ms()
        conn.executemany(
            INSERT_LEDGER, [(acc, "usage", amount, after, None, note, now) for acc, amount, after, note in plan.ledger]
        )
        conn.executemany(
            "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2",
            [(at, key_id) for key_id, at in plan.last_used.items()],
        )
    return plan.settlements
