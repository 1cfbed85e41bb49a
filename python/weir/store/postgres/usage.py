"""PostgreSQL: usage records, settled with the debit and the ledger entry in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.postgres.holds import shrink_holds
from weir.store.records import Page, Settlement, UsageGroup, UsageGroupBy, UsageQuery, UsageRecord

_USAGE_TYPES = (
    "text", "bigint", "text", "text", "text", "text", "integer", "bigint",
    "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "boolean", "bigint", "bigint",
    "bigint", "bigint", "bigint", "bigint", "boolean", "boolean",
)  # fmt: skip
_INSERT_USAGE = (
    f"INSERT INTO usage_records ({c.USAGE_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(_USAGE_TYPES, start=1))
    + ") ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
)
_DEBIT = """
UPDATE accounts AS a SET balance_microcents = a.balance_microcents - t.debit
FROM unnest($1::bigint[], $2::bigint[]) AS t(id, debit) WHERE a.id = t.id
"""
_INSERT_USAGE_LEDGER = """
INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at)
SELECT t.account_id, 'usage', t.amount, t.after, t.note, $5
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
    WITH ORDINALITY AS t(account_id, amount, after, note, n)
ORDER BY t.n
"""
_BUMP_KEYS = """
UPDATE api_keys AS k SET last_used_at = greatest(k.last_used_at, t.at)
FROM unnest($1::text[], $2::bigint[]) AS t(id, at) WHERE k.id = t.id
"""


class PostgresUsage(PostgresCore):
    async def record_usage(
        self, records: Sequence[UsageRecord], holder: str | None = None, released: Mapping[int, int] | None = None
    ) -> list[Settlement]:
        if not records:
            return []
        c.check_usage(records)
        # Rows are inserted in request-id order so concurrent batches take index locks in one order.
        unique = sorted(c.first_occurrences(records), key=lambda r: r.request_id)
        account_ids = sorted({r.account_id for r in records})
        async with self._conn(transaction=True) as conn:
            rows = await conn.fetch(
                "SELECT id, balance_microcents FROM accounts WHERE id = ANY($1::bigint[])"
                " ORDER BY id FOR NO KEY UPDATE",
                account_ids,
            )
            balances: dict[int, int] = {row[0]: row[1] for row in rows}
            if len(balances) != len(account_ids):
                raise NotFound(c.missing_accounts(account_ids, balances))
            columns = list(zip(*(c.usage_row(r) for r in unique), strict=True))
            inserted = {row[0] for row in await conn.fetch(_INSERT_USAGE, *columns)}
            plan = c.plan_usage(records, inserted, balances)
            if plan.debits:
                await conn.execute(_DEBIT, list(plan.debits), list(plan.debits.values()))
                if plan.ledger:
                    await conn.execute(_INSERT_USAGE_LEDGER, *map(list, zip(*plan.ledger, strict=True)), c.now_ms())
                await conn.execute(_BUMP_KEYS, list(plan.last_used), list(plan.last_used.values()))
            if holder is not None:
                await shrink_holds(conn, holder, plan.debits, released)
        return plan.settlements

    async def key_spend(self, account_id: int, key_id: str, since_ms: int) -> int:
        async with self._conn() as conn:
            spent = await conn.fetchval(
                "SELECT coalesce(sum(cost_microcents), 0) FROM usage_records"
                " WHERE account_id = $1 AND key_id = $2 AND created_at >= $3",
                account_id,
                key_id,
                since_ms,
            )
        return int(spent)

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.USAGE_COLUMNS} FROM usage_records WHERE request_id = $1", request_id)
        return None if row is None else c.usage_from(row)

    async def page_usage(
        self, query: UsageQuery, limit: int, cursor: str | None = None, offset: int = 0
    ) -> Page[UsageRecord]:
        sql, params = q.usage_page(query, limit, cursor, offset, numbered=True)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return q.page(rows, limit, q.USAGE, c.usage_from, q.usage_position)

    async def usage_summary(self, query: UsageQuery, group_by: UsageGroupBy, limit: int) -> list[UsageGroup]:
        sql, params = q.usage_summary(query, group_by, limit, numbered=True)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return [q.usage_group_from(row) for row in rows]
