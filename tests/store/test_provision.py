"""Who may give an empty database Weir's schema: `weir migrate` always, anything else only in a new data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.store.provision import MARKER, MissingDatabase, prepare
from weir.store.sqlite import SqliteStore


async def open_at(path: Path) -> SqliteStore:
    store = SqliteStore(str(path))
    await store.open()
    return store


async def test_a_new_data_directory_gets_its_database_and_the_marker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await open_at(tmp_path / "weir.db")
    try:
        assert await prepare(store, data, "sqlite://weir.db", create=False)
        assert await prepare(store, data, "sqlite://weir.db", create=False) == []  # up to date: nothing to do
    finally:
        await store.close()
    lines = (data / MARKER).read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith(" created sqlite://weir.db")


@pytest.mark.parametrize("sign", [MARKER, "pepper"])
async def test_a_used_data_directory_refuses_an_empty_database(tmp_path: Path, sign: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / sign).write_text("x")
    store = await open_at(tmp_path / "weir.db")
    try:
        with pytest.raises(MissingDatabase) as refused:
            await prepare(store, data, "sqlite://weir.db", create=False)
        assert str(refused.value).startswith("there is no Weir database at sqlite://weir.db, but the data directory")
        assert f"({data / sign} exists)" in str(refused.value) and "run `weir migrate` first" in str(refused.value)
        assert await store.has_schema() is False  # nothing was created
        assert await prepare(store, data, "sqlite://weir.db", create=True)  # what `weir migrate` does
        assert await store.has_schema() is True
    finally:
        await store.close()
    assert (data / MARKER).read_text().count(" created ") == 1
