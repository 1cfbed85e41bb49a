"""Versioned SQL migrations, one file per version per backend: ``<backend>/NNNN_name.sql``.

Applied versions are tracked in ``schema_migrations(version, applied_at)``; each file runs in its own
transaction together with the row that records it, so a migration is either fully applied or not at all.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from typing import Literal

import msgspec

Backend = Literal["sqlite", "postgres"]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str


def load(backend: Backend) -> list[Migration]:
    """Every migration shipped for ``backend``, in version order."""
    folder = resources.files(__name__).joinpath(backend)
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two {backend} migrations share version {version}: {entry.name}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    if not found:
        raise RuntimeError(f"no {backend} migrations found in the package")
    return [found[v] for v in sorted(found)]


def split_sqlite(sql: str) -> list[str]:
    """Split a script into complete statements (trigger bodies included) for use inside one transaction."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    rest = "\n".join(ln for ln in buffer.splitlines() if not ln.strip().startswith("--")).strip()
    if rest:
        raise ValueError(f"incomplete SQL statement at the end of a migration: {rest[:80]!r}")
    return statements
