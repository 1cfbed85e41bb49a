"""PostgreSQL: API keys (only their HMACs) and the lookup authentication makes."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import AlreadyExists, NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import ApiKey, KeyKind, KeyLookup, KeyUpdate, Page

_SELECT_KEY = f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE id = $1"


class PostgresKeys(PostgresCore):
    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        async with self._conn() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO api_keys ({c.KEY_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
                    key_id,
                    account_id,
                    kind,
                    name,
                    secret_hmac,
                    key.created_at,
                )
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"no account with id {account_id}") from exc
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"an API key with id {key_id!r} already exists") from exc
        return key

    async def lookup_key(self, key_id: str) -> KeyLookup | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                f"SELECT {c.LOOKUP_SQL_COLUMNS} FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id"
                " WHERE k.id = $1",
                key_id,
            )
        return None if row is None else c.lookup_from(row)

    async def get_key(self, key_id: str) -> ApiKey | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(_SELECT_KEY, key_id)
        return None if row is None else c.key_from(row)

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id",
                account_id,
            )
        return [c.key_from(row) for row in rows]

    async def page_keys(self, account_id: int, limit: int, cursor: str | None = None) -> Page[ApiKey]:
        sql, params = q.keys_page(account_id, limit, cursor, numbered=True)
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return q.page(rows, limit, q.KEYS, c.key_from, q.key_position)

    async def update_key(self, key_id: str, changes: KeyUpdate, account_id: int | None = None) -> ApiKey:
        where: dict[str, tuple[Any, str]] = {"id": (key_id, "text")}
        if account_id is not None:
            where["account_id"] = (account_id, "bigint")
        statement = q.update("api_keys", changes, where, numbered=True)
        async with self._conn(transaction=True) as conn:
            if statement is not None:
                await conn.execute(statement[0], *statement[1])
            row = await conn.fetchrow(_SELECT_KEY, key_id)
        key = None if row is None else c.key_from(row)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise NotFound(f"no API key with id {key_id!r}")
        return key

    async def revoke_key(self, key_id: str, account_id: int | None = None) -> bool:
        sql = "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        params: tuple[Any, ...] = (key_id, c.now_ms())
        if account_id is not None:
            sql, params = sql + " AND account_id = $3", (*params, account_id)
        async with self._conn() as conn:
            status = await conn.execute(sql, *params)
        return bool(status == "UPDATE 1")
