"""The shipped migration files."""

from __future__ import annotations

import pytest

from weir.store import migrations


def test_both_backends_ship_the_same_versions() -> None:
    sqlite = migrations.load("sqlite")
    postgres = migrations.load("postgres")
    versions = [m.version for m in sqlite]
    assert versions == [m.version for m in postgres]
    # Increasing from 1; a number may be missing while another branch holds it (0003 was reserved before 0004).
    assert versions[0] == 1 and versions == sorted(set(versions))
    assert [m.name for m in sqlite] == [m.name for m in postgres]
    assert sqlite[0].name == "0001_initial.sql"


def test_sqlite_statements_split_whole() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x INTEGER);
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = x + 1;
        SELECT 'a;b';
    END;
    INSERT INTO t VALUES (1);  -- trailing
    """
    parts = migrations.split_sqlite(script)
    assert len(parts) == 3
    assert parts[1].endswith("END;") and "SELECT 'a;b';" in parts[1]
    with pytest.raises(ValueError, match="incomplete"):
        migrations.split_sqlite("CREATE TABLE t (x INTEGER)")


def test_initial_sqlite_migration_has_every_table() -> None:
    statements = migrations.split_sqlite(migrations.load("sqlite")[0].sql)
    tables = [s for s in statements if "CREATE TABLE" in s]
    assert len(tables) == 4
