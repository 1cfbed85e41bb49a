"""SQLite: stored OpenAI Responses conversations (previous_response_id) and their purge."""

from __future__ import annotations

import sqlite3

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.records import StoredResponse
from weir.store.sqlite.core import SqliteCore, fetch, transaction

_INSERT_RESPONSE = f"INSERT INTO responses ({c.RESPONSE_COLUMNS}) VALUES ({', '.join('?' * len(c.RESPONSE_FIELDS))})"
_PURGE_RESPONSES = (
    "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)


class SqliteResponses(SqliteCore):
    async def put_response(self, record: StoredResponse) -> None:
        c.check_response(record)
        await self._run(_put_response, record)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        rows = await self._run(fetch, f"SELECT {c.RESPONSE_COLUMNS} FROM responses WHERE id = ?", (response_id,))
        return c.response_from(rows[0]) if rows else None

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        c.check_purge_limit(limit)
        return await self._run(_purge_responses, now_ms, limit)


def _put_response(conn: sqlite3.Connection, record: StoredResponse) -> None:
    with transaction(conn):
        try:
            conn.execute(_INSERT_RESPONSE, c.response_row(record))
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise NotFound(f"no account with id {record.account_id}") from exc
            raise AlreadyExists(f"a response with id {record.id!r} is already stored") from exc


def _purge_responses(conn: sqlite3.Connection, now: int, limit: int) -> int:
    with transaction(conn):
        return conn.execute(_PURGE_RESPONSES, (now, limit)).rowcount
