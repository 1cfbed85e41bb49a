"""SQLite: the operator's provider state (pause, key reset) and every worker's published health."""

from __future__ import annotations

import sqlite3

from weir.store import _common as c
from weir.store.records import ModelState, ProviderHealth, ProviderState, TierState
from weir.store.sqlite.core import SqliteCore, fetch, transaction


class SqliteProviders(SqliteCore):
    async def set_provider_paused(self, name: str, paused: bool, reason: str | None = None) -> ProviderState:
        return await self._run(_set_provider_paused, name, paused, reason, c.now_ms())

    async def list_provider_states(self) -> list[ProviderState]:
        sql = f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state ORDER BY name"
        return [c.provider_state_from(row) for row in await self._run(fetch, sql, ())]

    async def put_provider_health(self, worker: str, health: dict[str, str]) -> None:
        await self._run(_put_provider_health, worker, health, c.now_ms())

    async def list_provider_health(self, since_ms: int) -> list[ProviderHealth]:
        sql = f"SELECT {c.PROVIDER_HEALTH_COLUMNS} FROM provider_health WHERE updated_at >= ? ORDER BY provider, worker"
        return [c.provider_health_from(row) for row in await self._run(fetch, sql, (since_ms,))]

    async def set_model_disabled(self, model_id: str, disabled: bool, reason: str | None = None) -> ModelState:
        return await self._run(_set_model_disabled, model_id, disabled, reason, c.now_ms())

    async def set_model_price(self, model_id: str, price: str | None) -> ModelState:
        return await self._run(_set_model_price, model_id, price, c.now_ms())

    async def list_model_states(self) -> list[ModelState]:
        sql = f"SELECT {c.MODEL_STATE_COLUMNS} FROM model_state ORDER BY id"
        return [c.model_state_from(row) for row in await self._run(fetch, sql, ())]

    async def set_tier_settings(self, name: str, settings: str | None) -> None:
        await self._run(_set_tier_settings, name, settings, c.now_ms())

    async def list_tier_states(self) -> list[TierState]:
        sql = f"SELECT {c.TIER_STATE_COLUMNS} FROM tier_state ORDER BY name"
        return [c.tier_state_from(row) for row in await self._run(fetch, sql, ())]


def _set_provider_paused(
    conn: sqlite3.Connection, name: str, paused: bool, reason: str | None, now: int
) -> ProviderState:
    reset = 0 if paused else now  # resuming brings every key back
    with transaction(conn):
        conn.execute(
            "INSERT INTO provider_state (name, paused, reason, keys_reset_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
            " ON CONFLICT (name) DO UPDATE SET paused = ?2, reason = ?3,"
            " keys_reset_at = max(provider_state.keys_reset_at, ?4), updated_at = ?5",
            (name, int(paused), reason if paused else None, reset, now),
        )
        row = conn.execute(f"SELECT {c.PROVIDER_STATE_COLUMNS} FROM provider_state WHERE name = ?", (name,)).fetchone()
    return c.provider_state_from(row)


def _put_provider_health(conn: sqlite3.Connection, worker: str, health: dict[str, str], now: int) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO provider_health (provider, worker, health, updated_at) VALUES (?1, ?2, ?3, ?4)"
            " ON CONFLICT (provider, worker) DO UPDATE SET health = ?3, updated_at = ?4",
            [(provider, worker, text, now) for provider, text in health.items()],
        )


def _set_model_disabled(
    conn: sqlite3.Connection, model_id: str, disabled: bool, reason: str | None, now: int
) -> ModelState:
    with transaction(conn):
        row = conn.execute(
            "INSERT INTO model_state (id, disabled, reason, updated_at) VALUES (?1, ?2, ?3, ?4)"
            " ON CONFLICT (id) DO UPDATE SET disabled = ?2, reason = ?3, updated_at = ?4"
            f" RETURNING {c.MODEL_STATE_COLUMNS}",
            (model_id, int(disabled), reason if disabled else None, now),
        ).fetchone()
    return c.model_state_from(row)


def _set_model_price(conn: sqlite3.Connection, model_id: str, price: str | None, now: int) -> ModelState:
    with transaction(conn):
        row = conn.execute(
            "INSERT INTO model_state (id, disabled, reason, updated_at, price) VALUES (?1, 0, NULL, ?2, ?3)"
            " ON CONFLICT (id) DO UPDATE SET price = ?3, updated_at = ?2"
            f" RETURNING {c.MODEL_STATE_COLUMNS}",
            (model_id, now, price),
        ).fetchone()
    return c.model_state_from(row)


def _set_tier_settings(conn: sqlite3.Connection, name: str, settings: str | None, now: int) -> None:
    with transaction(conn):
        if settings is None:
            conn.execute("DELETE FROM tier_state WHERE name = ?", (name,))
        else:
            conn.execute(
                "INSERT INTO tier_state (name, settings, updated_at) VALUES (?1, ?2, ?3)"
                " ON CONFLICT (name) DO UPDATE SET settings = ?2, updated_at = ?3",
                (name, settings, now),
            )
