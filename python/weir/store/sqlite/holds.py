"""SQLite: the slices of account balances that processes hold to admit calls against (billing/reservations.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from weir.store import _common as c
from weir.store.base import NotFound
from weir.store.records import HoldGrant
from weir.store.sqlite.core import SqliteCore, fetch, transaction

_LIVE = "SELECT holder, amount_microcents FROM holds WHERE account_id = ? AND expires_at > ?"


class SqliteHolds(SqliteCore):
    async def take_hold(self, holder: str, account_id: int, want: int, need: int, ttl_ms: int) -> HoldGrant:
        return await self._run(_take_hold, holder, account_id, want, need, ttl_ms)

    async def return_hold(self, holder: str, account_id: int, amount: int | None = None) -> None:
        await self._run(_return_hold, holder, account_id, amount)

    async def renew_holds(self, holder: str, ttl_ms: int) -> list[int]:
        return await self._run(_renew_holds, holder, ttl_ms)

    async def held_microcents(self, account_id: int) -> int:
        rows = await self._run(fetch, _LIVE, (account_id, c.now_ms()))
        return sum(amount for _, amount in rows)


def _take_hold(conn: sqlite3.Connection, holder: str, account_id: int, want: int, need: int, ttl: int) -> HoldGrant:
    now = c.now_ms()
    with transaction(conn):
        row = conn.execute("SELECT balance_microcents FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            raise NotFound(f"account {account_id} not found")
        balance: int = row[0]
        conn.execute("DELETE FROM holds WHERE account_id = ? AND expires_at <= ?", (account_id, now))
        holds = dict(conn.execute(_LIVE, (account_id, now)).fetchall())
        mine = holds.get(holder, 0)
        held = sum(holds.values())
        granted = c.hold_grant(balance - held, want, need)
        mine += granted
        conn.execute(
            "INSERT INTO holds (holder, account_id, amount_microcents, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account_id, holder) DO UPDATE SET amount_microcents = excluded.amount_microcents,"
            " expires_at = excluded.expires_at",
            (holder, account_id, mine, now + ttl),
        )
    return HoldGrant(granted=granted, mine=mine, balance=balance, held=held + granted)


def _return_hold(conn: sqlite3.Connection, holder: str, account_id: int, amount: int | None) -> None:
    with transaction(conn):
        if amount is not None:
            conn.execute(
                "UPDATE holds SET amount_microcents = max(0, amount_microcents - ?)"
                " WHERE account_id = ? AND holder = ?",
                (amount, account_id, holder),
            )
        conn.execute(
            "DELETE FROM holds WHERE account_id = ? AND holder = ? AND (amount_microcents = 0 OR ?)",
            (account_id, holder, amount is None),
        )


def _renew_holds(conn: sqlite3.Connection, holder: str, ttl: int) -> list[int]:
    now = c.now_ms()
    with transaction(conn):
        rows = conn.execute(
            "UPDATE holds SET expires_at = ? WHERE holder = ? AND expires_at > ? RETURNING account_id",
            (now + ttl, holder, now),
        ).fetchall()
    return sorted(row[0] for row in rows)


def shrink_holds(
    conn: sqlite3.Connection, holder: str, debits: Mapping[int, int], released: Mapping[int, int] | None
) -> None:
    """Inside a usage commit: each account's debit, and what the process gives back (`released`), leave the
    committing process's hold (never below 0)."""
    conn.executemany(
        "UPDATE holds SET amount_microcents = max(0, amount_microcents - ?) WHERE account_id = ? AND holder = ?",
        [(amount, account, holder) for account, amount in c.hold_shrinks(debits, released).items()],
    )
