"""SQLite: API keys (only their HMACs) and the lookup authentication makes."""

from __future__ import annotations

import sqlite3

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.records import ApiKey, KeyKind, KeyLookup
from weir.store.sqlite.core import SqliteCore, fetch, transaction


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

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        sql = f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id"
        return [c.key_from(row) for row in await self._run(fetch, sql, (account_id,))]

    async def revoke_key(self, key_id: str) -> bool:
        return await self._run(_revoke_key, key_id, c.now_ms())


def _create_key(conn: sqlite3.Connection, key: ApiKey) -> None:
    with transaction(conn):
        if not conn.execute("SELECT 1 FROM accounts WHERE id = ?", (key.account_id,)).fetchall():
            raise NotFound(f"no account with id {key.account_id}")
        try:
            conn.execute(
                f"INSERT INTO api_keys ({c.KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (key.id, key.account_id, key.kind, key.name, key.secret_hmac, key.created_at),
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise AlreadyExists(f"an API key with id {key.id!r} already exists") from exc


def _revoke_key(conn: sqlite3.Connection, key_id: str, now: int) -> bool:
    with transaction(conn):
        cursor = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id))
        return cursor.rowcount == 1
