"""open_store: URL parsing and backend choice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.stores import SHIPPED_VERSIONS
from weir.store import open_store, sqlite_path
from weir.store.postgres import PostgresStore
from weir.store.sqlite import SqliteStore


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite://weir.db", "weir.db"),
        ("sqlite://./data/weir.db", "./data/weir.db"),
        ("sqlite:///var/lib/weir/weir.db", "/var/lib/weir/weir.db"),
        ("sqlite:////var/lib/weir/weir.db", "/var/lib/weir/weir.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://data/",
        "sqlite:///data/",
        "sqlite:weir.db",
        "sqlite://x.db?mode=ro",
    ],
)
def test_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(ValueError):
        sqlite_path(url)


async def test_relative_sqlite_url_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite://./nested/dir/weir.db")
    try:
        assert isinstance(store, SqliteStore)
        assert await store.migrate() == SHIPPED_VERSIONS
        await store.create_account("acme", 3)
    finally:
        await store.close()
    assert (tmp_path / "nested" / "dir" / "weir.db").is_file()
    again = await open_store(f"sqlite://{tmp_path}/nested/dir/weir.db")  # absolute
    try:
        account = await again.get_account("acme")
        assert account is not None and account.balance_microcents == 3
    finally:
        await again.close()


async def test_memory_store() -> None:
    store = await open_store("sqlite://:memory:")
    try:
        assert await store.migrate() == SHIPPED_VERSIONS
        assert (await store.create_account("acme", 1)).balance_microcents == 1
        assert await store.ping() is True
    finally:
        await store.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_postgres_urls_connect_lazily(scheme: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = await open_store(f"{scheme}://weir@127.0.0.1:{port}/weir")  # nothing listens: still opens
    try:
        assert isinstance(store, PostgresStore)
        assert await store.ping() is False
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["mysql://root@localhost/weir", "weir.db", "", "redis://localhost"])
async def test_unknown_scheme(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported storage URL scheme"):
        await open_store(url)
