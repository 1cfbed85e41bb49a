"""The embedded store: one sqlite3 connection per process, owned by one dedicated thread; WAL; every write in
BEGIN IMMEDIATE (core.py says why).

One module per concept, each a subclass of the core that adds that concept's calls; ``SqliteStore`` is all of them.
"""

from __future__ import annotations

from weir.store.sqlite.accounts import SqliteAccounts
from weir.store.sqlite.byok import SqliteByok
from weir.store.sqlite.holds import SqliteHolds
from weir.store.sqlite.keys import SqliteKeys
from weir.store.sqlite.providers import SqliteProviders
from weir.store.sqlite.responses import SqliteResponses
from weir.store.sqlite.usage import SqliteUsage

__all__ = ["SqliteStore"]


class SqliteStore(SqliteAccounts, SqliteKeys, SqliteUsage, SqliteResponses, SqliteProviders, SqliteHolds, SqliteByok):
    pass
