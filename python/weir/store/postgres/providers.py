"""PostgreSQL: the operator's provider state (pause, key reset) and every worker's published health."""

from __future__ import annotations

from weir.store import _common as c
from weir.store.postgres.core import PostgresCore
from weir.store.records import ModelState, ProviderHealth, ProviderState, TierState


class PostgresProviders(PostgresCore):
    async def set_provider_paused(self, name: str, paused: bool, reason: str | None = None) -> ProviderState:
        now = c.now_ms()
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "INSERT INTO provider_state (name, paused, reason, keys_reset_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET paused = $2, reason = $3,"
                " keys_reset_at = greatest(provider_state.keys_reset_at, $4), updated_at = $5"
                f" RETURNING {c.PROVIDER_STATE_COLUMNS}",
                name,
                paused,
                reason if paused else None,
                0 if paused else now,  # resuming brings every key back
                now,
            )
        return c.provider_state_from(row)

    async def list_provider_states(self) -> list[ProviderState]:
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state ORDER BY name")
        return [c.provider_state_from(row) for row in rows]

    async def put_provider_health(self, worker: str, health: dict[str, str]) -> None:
        now = c.now_ms()
        async with self._conn() as conn:
            await conn.executemany(
                "INSERT INTO provider_health (provider, worker, health, updated_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (provider, worker) DO UPDATE SET health = $3, updated_at = $4",
                [(provider, worker, text, now) for provider, text in health.items()],
            )

    async def list_provider_health(self, since_ms: int) -> list[ProviderHealth]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {c.PROVIDER_HEALTH_COLUMNS} FROM provider_health WHERE updated_at >= $1"
                " ORDER BY provider, worker",
                since_ms,
            )
        return [c.provider_health_from(row) for row in rows]

    async def set_model_disabled(self, model_id: str, disabled: bool, reason: str | None = None) -> ModelState:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "INSERT INTO model_state (id, disabled, reason, updated_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (id) DO UPDATE SET disabled = $2, reason = $3, updated_at = $4"
                f" RETURNING {c.MODEL_STATE_COLUMNS}",
                model_id,
                disabled,
                reason if disabled else None,
                c.now_ms(),
            )
        return c.model_state_from(row)

    async def set_model_price(self, model_id: str, price: str | None) -> ModelState:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "INSERT INTO model_state (id, disabled, reason, updated_at, price) VALUES ($1, false, NULL, $2, $3)"
                " ON CONFLICT (id) DO UPDATE SET price = $3, updated_at = $2"
                f" RETURNING {c.MODEL_STATE_COLUMNS}",
                model_id,
                c.now_ms(),
                price,
            )
        return c.model_state_from(row)

    async def list_model_states(self) -> list[ModelState]:
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT {c.MODEL_STATE_COLUMNS} FROM model_state ORDER BY id")
        return [c.model_state_from(row) for row in rows]

    async def set_tier_settings(self, name: str, settings: str | None) -> None:
        async with self._conn() as conn:
            if settings is None:
                await conn.execute("DELETE FROM tier_state WHERE name = $1", name)
            else:
                await conn.execute(
                    "INSERT INTO tier_state (name, settings, updated_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (name) DO UPDATE SET settings = $2, updated_at = $3",
                    name,
                    settings,
                    c.now_ms(),
                )

    async def list_tier_states(self) -> list[TierState]:
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT {c.TIER_STATE_COLUMNS} FROM tier_state ORDER BY name")
        return [c.tier_state_from(row) for row in rows]
