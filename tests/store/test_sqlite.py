"""SQLite specifics: file handling, pragmas, several connections on one file."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.stores import SHIPPED_VERSIONS
from weir.store.base import StoreError
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


async def test_a_deleted_file_stops_the_store_until_it_is_back(tmp_path: Path) -> None:
    """Deleted while open, the file would take writes into an inode nothing reads after a restart: every call
    fails like an outage instead, and works again once the same file is back."""
    path = tmp_path / "weir.db"
    store = SqliteStore(str(path))
    try:
        await store.migrate()
        account = await store.create_account("acme", 100)
        os.link(path, tmp_path / "kept.db")  # the same inode, to put back
        path.unlink()
        assert await store.ping() is False
        for call in (store.get_account("acme"), store.probe_write(), store.topup("acme", 5)):
            with pytest.raises(StoreError, match="was deleted or moved while Weir was running"):
                await call
        os.link(tmp_path / "kept.db", path)
        assert await store.ping() is True
        await store.topup("acme", 5)
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT balance_microcents FROM accounts WHERE id = ?", (account.id,)).fetchone() == (105,)
    raw.close()


async def test_a_replaced_file_stops_the_store(tmp_path: Path) -> None:
    path = tmp_path / "weir.db"
    store = SqliteStore(str(path))
    try:
        await store.migrate()
        await store.create_account("acme")
        shutil.copy(path, tmp_path / "copy.db")
        os.replace(tmp_path / "copy.db", path)  # what a restore from a backup does under a running Weir
        with pytest.raises(StoreError, match="was replaced by another file while Weir was running"):
            await store.create_account("other")
        assert await store.ping() is False
    finally:
        await store.close()
