"""PostgreSQL: accounts, top-ups and the ledger."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import Account, LedgerEntry

INSERT_LEDGER = (
    "INSERT INTO ledger (account_id, kind, amount_microcents, balance_after_microcents, note, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)


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

    async def list_ledger(self, account_id: int) -> list[LedgerEntry]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.LEDGER_COLUMNS} FROM ledger WHERE account_id = $1 ORDER BY id", account_id
            )
        return [c.ledger_from(row) for row in rows]
