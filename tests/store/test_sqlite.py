"""SQLite specifics: file handling, pragmas, several connections on one file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.stores import SHIPPED_VERSIONS
from weir.store.sqlite import SqliteStore


async def test_creates_parent_directories_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "weir.db"
    store = SqliteStore(str(path))
    try:
        assert await store.migrate() == SHIPPED_VERSIONS
        await store.create_account("acme")
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM schema_migrations").fetchall() == [(v,) for v in SHIPPED_VERSIONS]
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    assert {"accounts", "api_keys", "usage_records", "ledger", "responses", "schema_migrations"} <= names


async def test_foreign_keys_are_enforced(sqlite_store: SqliteStore) -> None:
    def pragmas(conn: sqlite3.Connection) -> list[object]:
        return [conn.execute(f"PRAGMA {name}").fetchone() for name in ("foreign_keys", "busy_timeout")]

    assert await sqlite_store._run(pragmas) == [(1,), (10_000,)]


async def test_usage_records_refuse_a_second_row_for_one_request(tmp_path: Path) -> None:
    """The primary key is the last line of defence against double billing."""
    store = SqliteStore(str(tmp_path / "weir.db"))
    await store.migrate()
    await store.close()
    with sqlite3.connect(tmp_path / "weir.db") as raw:
        raw.execute("INSERT INTO accounts (name, balance_microcents, created_at) VALUES ('a', 0, 0)")
        insert = (
            "INSERT INTO usage_records (request_id, account_id, key_id, model, provider, upstream_model, status,"
            " input_tokens, cached_tokens, output_tokens, reasoning_tokens, cost_microcents, duration_ms, ttfb_ms,"
            " stream, created_at) VALUES ('req', 1, 'k', 'm', 'p', 'u', 200, 1, 0, 1, 0, ?, 1, 1, 0, 0)"
        )
        raw.execute(insert, (5,))
        try:
            raw.execute(insert, (7,))
        except sqlite3.IntegrityError as exc:
            assert "UNIQUE" in str(exc)
        else:
            raise AssertionError("a second usage record for one request was accepted")
    raw.close()
