"""When an empty database may be given Weir's schema: a missing database is not the same as a new one.

A SQLite file deleted, a volume not mounted or a PostgreSQL database wiped looks, to a store, like a database that
was never made; migrating it would start an empty ledger in which every key gets 401. So creating a database is
`weir migrate`'s job. Every other command (`weir serve`, `weir accounts ...`) creates one only in a data directory
that has never held one: a data directory has held one when it has the file MARKER (written whenever Weir creates a
database) or a `pepper` file (which Weir makes on first use, so data directories from before the marker count too).
"""

from __future__ import annotations

import time
from pathlib import Path

from weir.store.base import Store, StoreError

MARKER = "database-created"
SIGNS = (MARKER, "pepper")


class MissingDatabase(StoreError):
    """The database is empty or missing but the data directory shows that one existed."""


def sign_of_use(data_dir: Path) -> Path | None:
    """The file that shows `data_dir` has held a database, or None when it is new."""
    return next((data_dir / name for name in SIGNS if (data_dir / name).exists()), None)


async def prepare(store: Store, data_dir: Path, where: str, *, create: bool) -> list[int]:
    """Migrate `store` (the database `where` names, for messages); give an empty one the schema only when `create`
    is set or `data_dir` is new. Returns the migration versions applied."""
    if await store.has_schema():
        return await store.migrate()
    sign = sign_of_use(data_dir)
    if sign is not None and not create:
        raise MissingDatabase(
            f"there is no Weir database at {where}, but the data directory has held one ({sign} exists). If the "
            "database was deleted, moved or not mounted, put it back; to start over with an empty database, run "
            "`weir migrate` first"
        )
    applied = await store.migrate()
    data_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with (data_dir / MARKER).open("a", encoding="utf-8") as marker:
        marker.write(f"{stamp} created {where}\n")
    return applied
