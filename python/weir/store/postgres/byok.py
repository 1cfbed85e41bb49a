"""PostgreSQL: accounts' own provider keys, stored as the ciphertext the service layer made (never in the clear)."""

from __future__ import annotations

from weir.store import _common as c
from weir.store.postgres.core import PostgresCore
from weir.store.records import ByokEntry


class PostgresByok(PostgresCore):
    async def put_byok(self, account_id: int, provider: str, secret: bytes) -> None:
        now = c.now_ms()
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO byok_keys (account_id, provider, secret, created_at, updated_at) VALUES ($1, $2, $3, $4,"
                " $4) ON CONFLICT (account_id, provider) DO UPDATE SET secret = $3, updated_at = $4",
                account_id,
                provider,
                secret,
                now,
            )

    async def list_byok(self, account_id: int) -> list[ByokEntry]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT provider, created_at, updated_at FROM byok_keys WHERE account_id = $1 ORDER BY provider",
                account_id,
            )
        return [ByokEntry(row[0], row[1], row[2]) for row in rows]

    async def byok_secrets(self, account_id: int) -> dict[str, bytes]:
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT provider, secret FROM byok_keys WHERE account_id = $1", account_id)
        return {row[0]: bytes(row[1]) for row in rows}

    async def delete_byok(self, account_id: int, provider: str) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "DELETE FROM byok_keys WHERE account_id = $1 AND provider = $2", account_id, provider
            )
        return bool(status != "DELETE 0")
