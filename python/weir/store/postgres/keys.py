"""PostgreSQL: API keys (only their HMACs) and the lookup authentication makes."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from weir.store import _common as c
from weir.store.base import AlreadyExists, NotFound
from weir.store.postgres.core import PostgresCore
from weir.store.records import ApiKey, KeyKind, KeyLookup


class PostgresKeys(PostgresCore):
    async def create_key(
        self, account_id: int, key_id: str, secret_hmac: bytes, kind: KeyKind, name: str | None
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, kind, name, secret_hmac, created_at=c.now_ms())
        async with self._conn() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO api_keys ({c.KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
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

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at, id",
                account_id,
            )
        return [c.key_from(row) for row in rows]

    async def revoke_key(self, key_id: str) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", key_id, c.now_ms()
            )
        return bool(status == "UPDATE 1")
