"""PostgreSQL: the slices of account balances that processes hold to admit calls against
(billing/reservations.py). The account's row is locked for the grant, so concurrent grants of one account, from any
replica, take turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weir.store import _common as c
from weir.store.base import NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import HoldGrant

_LIVE = "SELECT holder, amount_microcents FROM holds WHERE account_id = $1 AND expires_at > $2"
_SHRINK = """
UPDATE holds AS h SET amount_microcents = greatest(0, h.amount_microcents - t.debit)
FROM unnest($1::bigint[], $2::bigint[]) AS t(account_id, debit) WHERE h.account_id = t.account_id AND h.holder = $3
"""


class PostgresHolds(PostgresCore):
    async def take_hold(self, holder: str, account_id: int, want: int, need: int, ttl_ms: int) -> HoldGrant:
        now = c.now_ms()
        async with self._conn(transaction=True) as conn:
            balance = await conn.fetchval(
                "SELECT balance_microcents FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account_id
            )
            if balance is None:
                raise NotFound(f"account {account_id} not found")
            await conn.execute("DELETE FROM holds WHERE account_id = $1 AND expires_at <= $2", account_id, now)
            holds: dict[str, int] = {row[0]: row[1] for row in await conn.fetch(_LIVE, account_id, now)}
            mine = holds.get(holder, 0)
            held = sum(holds.values())
            granted = c.hold_grant(balance - held, want, need)
            mine += granted
            await conn.execute(
                "INSERT INTO holds (holder, account_id, amount_microcents, expires_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (account_id, holder) DO UPDATE SET amount_microcents = $3, expires_at = $4",
                holder,
                account_id,
                mine,
                now + ttl_ms,
            )
        return HoldGrant(granted=granted, mine=mine, balance=balance, held=held + granted)

    async def return_hold(self, holder: str, account_id: int, amount: int | None = None) -> None:
        async with self._conn(transaction=True) as conn:
            if amount is not None:
                await conn.execute(
                    "UPDATE holds SET amount_microcents = greatest(0, amount_microcents - $1)"
                    " WHERE account_id = $2 AND holder = $3",
                    amount,
                    account_id,
                    holder,
                )
            await conn.execute(
                "DELETE FROM holds WHERE account_id = $1 AND holder = $2 AND (amount_microcents = 0 OR $3)",
                account_id,
                holder,
                amount is None,
            )

    async def renew_holds(self, holder: str, ttl_ms: int) -> list[int]:
        now = c.now_ms()
        async with self._conn() as conn:
            rows = await conn.fetch(
                "UPDATE holds SET expires_at = $1 WHERE holder = $2 AND expires_at > $3 RETURNING account_id",
                now + ttl_ms,
                holder,
                now,
            )
        return sorted(row[0] for row in rows)

    async def held_microcents(self, account_id: int) -> int:
        async with self._conn() as conn:
            rows = await conn.fetch(_LIVE, account_id, c.now_ms())
        return sum(row[1] for row in rows)


async def shrink_holds(conn: Any, holder: str, debits: Mapping[int, int], released: Mapping[int, int] | None) -> None:
    """Inside a usage commit: each account's debit, and what the process gives back (`released`), leave the
    committing process's hold (never below 0)."""
    shrinks = c.hold_shrinks(debits, released)
    if shrinks:
        await conn.execute(_SHRINK, list(shrinks), list(shrinks.values()), holder)
