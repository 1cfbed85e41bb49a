"""Storage: one interface (``Store``), an embedded SQLite backend and a PostgreSQL backend.

``open_store(url)`` picks the backend from the URL. It does not migrate; callers run ``migrate()``.

SQLite URLs read like file URLs: ``sqlite:///var/lib/weir/weir.db`` is the absolute path
``/var/lib/weir/weir.db`` (a fourth slash changes nothing), ``sqlite://weir.db`` and ``sqlite://./data/weir.db``
are relative to the working directory, and ``sqlite://:memory:`` is an in-memory database (one per store, for
tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.store.base import AlreadyExists, NotFound, Store, StoreError

if TYPE_CHECKING:
    from weir.store.postgres import PostgresStore
    from weir.store.sqlite import SqliteStore

__all__ = ["AlreadyExists", "NotFound", "Store", "StoreError", "open_store", "sqlite_path"]

_MEMORY = (":memory:", "/:memory:")


def sqlite_path(url: str) -> str:
    """The file path (or ``:memory:``) a ``sqlite:`` URL names; ValueError when it names none."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a SQLite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if rest in _MEMORY:
        return ":memory:"
    if not rest or "?" in rest or "#" in rest:
        raise ValueError(
            f"cannot read a database path from {url!r}: write sqlite:///absolute/path.db, "
            "sqlite://relative/path.db or sqlite://:memory:"
        )
    path = "/" + rest.lstrip("/") if rest.startswith("/") else rest
    if path == "/" or path.endswith("/"):
        raise ValueError(f"the SQLite URL {url!r} names a directory, not a database file")
    return path


async def open_store(url: str) -> Store:
    """Open the store ``url`` names; the PostgreSQL pool connects lazily on first use."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from weir.store.sqlite import SqliteStore

        store = SqliteStore(sqlite_path(url))
        await store.open()
        return store
    if scheme in ("postgresql", "postgres"):
        from weir.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(
        f"unsupported storage URL scheme {scheme!r}: use sqlite:///path/to/weir.db or postgresql://user@host/db"
    )


if TYPE_CHECKING:  # both backends must satisfy the protocol; mypy checks these assignments

    def _sqlite_is_a_store(store: SqliteStore) -> Store:
        return store

    def _postgres_is_a_store(store: PostgresStore) -> Store:
        return store
