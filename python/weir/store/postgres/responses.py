"""PostgreSQL: stored OpenAI Responses conversations (previous_response_id) and their purge."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import StoredResponse

_INSERT_RESPONSE = (
    f"INSERT INTO responses ({c.RESPONSE_COLUMNS})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(c.RESPONSE_FIELDS) + 1))})"
)
# SKIP LOCKED: replicas purging at the same moment split the expired rows instead of queueing on each other.
_PURGE_RESPONSES = """
DELETE FROM responses WHERE id IN (
    SELECT id FROM responses WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""


class PostgresResponses(PostgresCore):
    async def put_response(self, record: StoredResponse) -> None:
        c.check_response(record)
        async with self._conn() as conn:
            try:
                await conn.execute(_INSERT_RESPONSE, *c.response_row(record))
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"no account with id {record.account_id}") from exc
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"a response with id {record.id!r} is already stored") from exc

    async def get_response(self, response_id: str) -> StoredResponse | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {c.RESPONSE_COLUMNS} FROM responses WHERE id = $1", response_id)
        return None if row is None else c.response_from(row)

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        c.check_purge_limit(limit)
        async with self._conn() as conn:
            status = await conn.execute(_PURGE_RESPONSES, now_ms, limit)
        return int(status.rsplit(" ", 1)[1])
