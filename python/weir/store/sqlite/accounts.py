"""SQLite: accounts, top-ups and the ledger."""

from __future__ import annotations

import sqlite3

import msgspec

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import AlreadyExists, NotFound
from weir.store.records import Account, AccountUpdate, LedgerEntry, Page, TopUp
from weir.store.sqlite.core import SqliteCore, fetch, transaction

INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, request_id, note,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_ACCOUNT = f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"


class SqliteAccounts(SqliteCore):
    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        return await self._run(_create_account, name, balance_microcents)

    async def get_account(self, name: str) -> Account | None:
        rows = await self._run(fetch, f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
        return c.account_from(rows[0]) if rows else None

    async def get_account_by_id(self, account_id: int) -> Account | None:
        rows = await self._run(fetch, _SELECT_ACCOUNT, (account_id,))
        return c.account_from(rows[0]) if rows else None

    async def list_accounts(self, limit: int, cursor: str | None = None) -> Page[Account]:
        sql, params = q.accounts_page(limit, cursor, numbered=False)
        rows = await self._run(fetch, sql, tuple(params))
        return q.page(rows, limit, q.ACCOUNTS, c.account_from, q.account_position)

    async def update_account(self, account_id: int, changes: AccountUpdate) -> Account:
        return await self._run(_update_account, account_id, changes)

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        return await self._run(_topup, name, amount_microcents, note)

    async def add_topup(
        self, account_id: int, amount_microcents: int, note: str | None = None, idempotency_key: str | None = None
    ) -> TopUp:
        c.check_topup(amount_microcents)
        return await self._run(_add_topup, account_id, amount_microcents, note, idempotency_key, c.now_ms())

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        sql = f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id"
        return [c.ledger_from(row) for row in await self._run(fetch, sql, (account_id,))]

    async def page_ledger(self, account_id: int, limit: int, cursor: str | None = None) -> Page[LedgerEntry]:
        sql, params = q.ledger_page(account_id, limit, cursor, numbered=False)
        rows = await self._run(fetch, sql, tuple(params))
        return q.page(rows, limit, q.LEDGER, c.ledger_from, q.ledger_position)


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


def _update_account(conn: sqlite3.Connection, account_id: int, changes: AccountUpdate) -> Account:
    statement = q.update("accounts", changes, {"id": (account_id, "bigint")}, numbered=False)
    with transaction(conn):
        if statement is not None:
            conn.execute(statement[0], tuple(statement[1]))
        rows = conn.execute(_SELECT_ACCOUNT, (account_id,)).fetchall()
    if not rows:
        raise NotFound(f"no account with id {account_id}")
    return c.account_from(rows[0])


def _topup(conn: sqlite3.Connection, name: str, amount: int, note: str | None) -> Account:
    with transaction(conn):
        rows = conn.execute(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,)).fetchall()
        if not rows:
            raise NotFound(f"no account named {name!r}")
        before = c.account_from(rows[0])
        balance = before.balance_microcents + amount
        conn.execute("UPDATE accounts SET balance_microcents = ? WHERE id = ?", (balance, before.id))
        conn.execute(INSERT_LEDGER, (before.id, "topup", amount, balance, None, note, c.now_ms()))
    return msgspec.structs.replace(before, balance_microcents=balance)


def _add_topup(
    conn: sqlite3.Connection, account_id: int, amount: int, note: str | None, key: str | None, now: int
) -> TopUp:
    with transaction(conn):
        rows = conn.execute(_SELECT_ACCOUNT, (account_id,)).fetchall()
        if not rows:
            raise NotFound(f"no account with id {account_id}")
        before = c.account_from(rows[0])
        if key is not None:
            found = conn.execute(
                f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? AND idempotency_key = ?", (account_id, key)
            ).fetchall()
            if found:
                return TopUp(entry=c.ledger_from(found[0]), account=before, replayed=True)
        balance = before.balance_microcents + amount
        conn.execute("UPDATE accounts SET balance_microcents = ? WHERE id = ?", (balance, account_id))
        cursor = conn.execute(
            "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at,"
            " idempotency_key) VALUES (?, 'topup', ?, ?, ?, ?, ?)",
            (account_id, amount, balance, note, now, key),
        )
        assert cursor.lastrowid is not None
    entry = LedgerEntry(cursor.lastrowid, account_id, "topup", amount, balance, None, note, now, key)
    return TopUp(entry=entry, account=msgspec.structs.replace(before, balance_microcents=balance), replayed=False)
