"""SQLite: API keys (only their HMACs) and the lookup authentication makes."""

from __future__ import annotations

import sqlite3
from typing import Any

from weir.store import _common as c
from weir.store import queries as q
from weir.store.base import AlreadyExists, NotFound
from weir.store.records import ApiKey, KeyKind, KeyLookup, KeyUpdate, Page
from weir.store.sqlite.core import SqliteCore, fetch, transaction

_SELECT_KEY = f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE id = ?"


class SqliteKeys(SqliteCore):
    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        await self._run(_create_key, key)
        return key

    async def lookup_key(self, key_id: str) -> KeyLookup | None:
        sql = (
            f"SELECT {c.LOOKUP_SQL_COLUMNS} FROM api_keys AS k JOIN accounts AS a ON a.id = k.account_id WHERE k.id = ?"
        )
        rows = await self._run(fetch, sql, (key_id,))
        return c.lookup_from(rows[0]) if rows else None

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._run(fetch, _SELECT_KEY, (key_id,))
        return c.key_from(rows[0]) if rows else None

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        sql = f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id"
        return [c.key_from(row) for row in await self._run(fetch, sql, (account_id,))]

    async def page_keys(self, account_id: int, limit: int, cursor: str | None = None) -> Page[ApiKey]:
        sql, params = q.keys_page(account_id, limit, cursor, numbered=False)
        rows = await self._run(fetch, sql, tuple(params))
        return q.page(rows, limit, q.KEYS, c.key_from, q.key_position)

    async def update_key(self, key_id: str, changes: KeyUpdate, account_id: int | None = None) -> ApiKey:
        return await self._run(_update_key, key_id, changes, account_id)

    async def revoke_key(self, key_id: str, account_id: int | None = None) -> bool:
        return await self._run(_revoke_key, key_id, account_id, c.now_ms())


def _create_key(conn: sqlite3.Connection, key: ApiKey) -> None:
    with transaction(conn):
        if not conn.execute("SELECT 1 FROM accounts WHERE id = ?", (key.account_id,)).fetchall():
            raise NotFound(f"no account with id {key.account_id}")
        try:
            conn.execute(
                f"INSERT INTO api_keys ({c.KEY_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, key.account_id, key.kind, key.name, key.secret_hmac, key.created_at),
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise AlreadyExists(f"an API key with id {key.id!r} already exists") from exc


def _key_where(key_id: str, account_id: int | None) -> dict[str, tuple[Any, str]]:
    where: dict[str, tuple[Any, str]] = {"id": (key_id, "text")}
    if account_id is not None:
        where["account_id"] = (account_id, "bigint")
    return where


def _update_key(conn: sqlite3.Connection, key_id: str, changes: KeyUpdate, account_id: int | None) -> ApiKey:
    statement = q.update("api_keys", changes, _key_where(key_id, account_id), numbered=False)
    with transaction(conn):
        if statement is not None:
            conn.execute(statement[0], tuple(statement[1]))
        rows = conn.execute(_SELECT_KEY, (key_id,)).fetchall()
    key = c.key_from(rows[0]) if rows else None
    if key is None or (account_id is not None and key.account_id != account_id):
        raise NotFound(f"no API key with id {key_id!r}")
    return key


def _revoke_key(conn: sqlite3.Connection, key_id: str, account_id: int | None, now: int) -> bool:
    sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
    params: tuple[Any, ...] = (now, key_id)
    if account_id is not None:
        sql, params = sql + " AND account_id = ?", (*params, account_id)
    with transaction(conn):
        return conn.execute(sql, params).rowcount == 1
