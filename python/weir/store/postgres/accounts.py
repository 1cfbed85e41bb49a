"""PostgreSQL: accounts, top-ups and the ledger."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import AlreadyExists, NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import Account, AccountUpdate, LedgerEntry, Page, TopUp

INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)
_SELECT_ACCOUNT = f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"


class PostgresAccounts(PostgresCore):
    async def create_account(self, name: str, balance_microcents: int = 0) -> Account:
        now = c.now_ms()
        async with self._conn(transaction=True) as conn:
            try:
                row = await conn.fetchrow(
                    "INSERT INTO accounts (name, balance_microcents, created_at) VALUES ($1, $2, $3)"
                    f" RETURNING {c.ACCOUNT_COLUMNS}",
                    name,
                    balance_microcents,
                    now,
                )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"an account named {name!r} already exists") from exc
            account = c.account_from(row)
            if balance_microcents != 0:
                await conn.execute(
                    INSERT_LEDGER, account.id, "initial", balance_microcents, balance_microcents, None, now
                )
        return account

    async def get_account(self, name: str) -> Account | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.ACCOUNT_COLUMNS} FROM accounts WHERE name = $1", name)
        return None if row is None else c.account_from(row)

    async def get_account_by_id(self, account_id: int) -> Account | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(_SELECT_ACCOUNT, account_id)
        return None if row is None else c.account_from(row)

    async def list_accounts(self, limit: int, cursor: str | None = None) -> Page[Account]:
        sql, params = q.accounts_page(limit, cursor, numbered=True)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return q.page(rows, limit, q.ACCOUNTS, c.account_from, q.account_position)

    async def update_account(self, account_id: int, changes: AccountUpdate) -> Account:
        statement = q.update("accounts", changes, {"id": (account_id, "bigint")}, numbered=True)
        async with self._conn(transaction=True) as conn:
            if statement is not None:
                await conn.execute(statement[0], *statement[1])
            row = await conn.fetchrow(_SELECT_ACCOUNT, account_id)
        if row is None:
            raise NotFound(f"no account with id {account_id}")
        return c.account_from(row)

    async def topup(self, name: str, amount_microcents: int, note: str | None = None) -> Account:
        c.check_topup(amount_microcents)
        async with self._conn(transaction=True) as conn:
            row = await conn.fetchrow(
                "UPDATE accounts SET balance_microcents = balance_microcents + $2 WHERE name = $1"
                f" RETURNING {c.ACCOUNT_COLUMNS}",
                name,
                amount_microcents,
            )
            if row is None:
                raise NotFound(f"no account named {name!r}")
            account = c.account_from(row)
            await conn.execute(
                INSERT_LEDGER,
                account.id,
                "topup",
                amount_microcents,
                account.balance_microcents,
                note,
                c.now_ms(),
            )
        return account

    async def add_topup(
        self, account_id: int, amount_microcents: int, note: str | None = None, idempotency_key: str | None = None
    ) -> TopUp:
        c.check_topup(amount_microcents)
        async with self._conn(transaction=True) as conn:
            # The row lock orders top-ups of one account, so a retry waits for the first and then finds its entry.
            row = await conn.fetchrow(_SELECT_ACCOUNT + " FOR UPDATE", account_id)
            if row is None:
                raise NotFound(f"no account with id {account_id}")
            if idempotency_key is not None:
                found = await conn.fetchrow(
                    f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = $1 AND idempotency_key = $2",
                    account_id,
                    idempotency_key,
                )
                if found is not None:
                    return TopUp(entry=c.ledger_from(found), account=c.account_from(row), replayed=True)
            account = c.account_from(
                await conn.fetchrow(
                    "UPDATE accounts SET balance_microcents = balance_microcents + $2 WHERE id = $1"
                    f" RETURNING {c.ACCOUNT_COLUMNS}",
                    account_id,
                    amount_microcents,
                )
            )
            entry = await conn.fetchrow(
                "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at,"
                f" idempotency_key) VALUES ($1, 'topup', $2, $3, $4, $5, $6) RETURNING {c.LEDGER_COLUMNS}",
                account_id,
                amount_microcents,
                account.balance_microcents,
                note,
                c.now_ms(),
                idempotency_key,
            )
        return TopUp(entry=c.ledger_from(entry), account=account, replayed=False)

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = $1 ORDER BY id", account_id
            )
        return [c.ledger_from(row) for row in rows]

    async def page_ledger(self, account_id: int, limit: int, cursor: str | None = None) -> Page[LedgerEntry]:
        sql, params = q.ledger_page(account_id, limit, cursor, numbered=True)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return q.page(rows, limit, q.LEDGER, c.ledger_from, q.ledger_position)
