"""SQLite: accounts, top-ups and the ledger."""

from __future__ import annotations

import sqlite3

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.records import Account, LedgerEntry
from weir.store.sqlite.core import SqliteCore, fetch, transaction

INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, request_id, note,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class SqliteAccounts(SqliteCore):
    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        return await self._run(_create_account, name, balance_microcents)

    async def get_account(self, name: str) -> Account | None:
        rows = await self._run(fetch, f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
        return c.account_from(rows[0]) if rows else None

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        return await self._run(_topup, name, amount_microcents, note)

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        sql = f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id"
        return [c.ledger_from(row) for row in await self._run(fetch, sql, (account_id,))]


def _create_account(conn: sqlite3.Connection, name: str, balance: int) -> Account:
    now = c.now_ms()
    with transaction(conn):
        try:
            cursor = conn.execute(
                "INSERT INTO accounts (name, balance_microcents, created_at) VALUES (?, ?, ?)", (name, balance, now)
            )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"an account named {name!r} already exists") from exc
        account_id = cursor.lastrowid
        assert account_id is not None
        if balance != 0:
            conn.execute(INSERT_LEDGER, (account_id, "initial", balance, balance, None, None, now))
    return Account(id=account_id, name=name, balance_microcents=balance, created_at=now)


def _topup(conn: sqlite3.Connection, name: str, amount: int, note: str | None) -> Account:
    with transaction(conn):
        rows = conn.execute(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,)).fetchall()
        if not rows:
            raise NotFound(f"no account named {name!r}")
        before = c.account_from(rows[0])
        balance = before.balance_microcents + amount
        conn.execute("UPDATE accounts SET balance_microcents = ? WHERE id = ?", (balance, before.id))
        conn.execute(INSERT_LEDGER, (before.id, "topup", amount, balance, None, note, c.now_ms()))
    return Account(id=before.id, name=name, balance_microcents=balance, created_at=before.created_at)
