"""SQLite: accounts' own provider keys, stored as the ciphertext the service layer made (never in the clear)."""

from __future__ import annotations

import sqlite3

from weir.store import _common as c
from weir.store.records import ByokEntry
from weir.store.sqlite.core import SqliteCore, fetch, transaction


class SqliteByok(SqliteCore):
    async def put_byok(self, account_id: int, provider: str, secret: bytes) -> None:
        await self._run(_put, account_id, provider, secret, c.now_ms())

    async def list_byok(self, account_id: int) -> list[ByokEntry]:
        rows = await self._run(
            fetch,
            "SELECT provider, created_at, updated_at FROM byok_keys WHERE account_id = ? ORDER BY provider",
            (account_id,),
        )
        return [ByokEntry(*row) for row in rows]

    async def byok_secrets(self, account_id: int) -> dict[str, bytes]:
        rows = await self._run(fetch, "SELECT provider, secret FROM byok_keys WHERE account_id = ?", (account_id,))
        return {provider: bytes(secret) for provider, secret in rows}

    async def delete_byok(self, account_id: int, provider: str) -> bool:
        return await self._run(_delete, account_id, provider)


def _put(conn: sqlite3.Connection, account_id: int, provider: str, secret: bytes, now: int) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO byok_keys (account_id, provider, secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id, provider)"
            " DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at",
            (account_id, provider, secret, now, now),
        )


def _delete(conn: sqlite3.Connection, account_id: int, provider: str) -> bool:
    with transaction(conn):
        cursor = conn.execute("DELETE FROM byok_keys WHERE account_id = ? AND provider = ?", (account_id, provider))
    return cursor.rowcount > 0
