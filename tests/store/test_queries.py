"""The backend-neutral query builder: cursors, placeholders, updates, and the SQLite plans of the API's queries."""

from __future__ import annotations

import pytest

from weir.store import queries as q
from weir.store.records import AccountUpdate, KeyUpdate, UsageQuery
from weir.store.sqlite import SqliteStore


def test_a_cursor_names_its_list_and_its_position() -> None:
    cursor = q.encode_cursor("usage", (1_700_000_000_000, "req-1"))
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # fits in a query string as it is
    assert q.decode_cursor("usage", cursor, (int, str)) == (1_700_000_000_000, "req-1")
    for kind, types in (("ledger", (int, str)), ("usage", (int,)), ("usage", (str, str))):
        with pytest.raises(ValueError, match="not a cursor of this list"):
            q.decode_cursor(kind, cursor, types)


def test_placeholders_per_backend() -> None:
    query = UsageQuery(account_id=3, model="m", status_min=400)
    sqlite_sql, sqlite_params = q.usage_page(query, 10, None, 0, numbered=False)
    pg_sql, pg_params = q.usage_page(query, 10, None, 0, numbered=True)
    assert sqlite_params == pg_params == [3, "m", 400, 11, 0]  # limit + 1: the extra row says a page follows
    assert "account_id = ? AND model = ? AND status >= ?" in sqlite_sql
    assert "account_id = $1::bigint AND model = $2::text AND status >= $3::integer" in pg_sql


def test_every_updatable_field_has_a_column_type() -> None:
    fields = {*AccountUpdate.__struct_fields__, *KeyUpdate.__struct_fields__}
    assert fields == set(q.UPDATE_TYPES)
    assert q.update("api_keys", KeyUpdate(), {"id": ("k", "text")}, numbered=True) is None
    statement = q.update("api_keys", KeyUpdate(name=None), {"id": ("k", "text")}, numbered=True)
    assert statement == ("UPDATE api_keys SET name = $1::text WHERE id = $2::text", [None, "k"])


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (UsageQuery(account_id=1), "usage_records_account_time_idx"),
        (UsageQuery(account_id=1, model="m", status_min=400, since=5), "usage_records_account_time_idx"),
        (UsageQuery(account_id=1, key_id="k"), "usage_records_account_key_time_idx"),
        (UsageQuery(), "usage_records_time_idx"),
    ],
)
async def test_usage_pages_read_an_index_in_order(sqlite_store: SqliteStore, query: UsageQuery, index: str) -> None:
    """No scan of the table and no sort: a page costs its own rows, however many records there are."""
    cursor = q.encode_cursor("usage", (10, "r"))
    sql, params = q.usage_page(query, 50, cursor, 0, numbered=False)
    plan = " / ".join(
        row[-1] for row in await sqlite_store._run(lambda c: c.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
    )
    assert index in plan and "TEMP B-TREE" not in plan, plan


def test_every_usage_filter_has_a_condition() -> None:
    assert [field for field, _, _ in q._USAGE_FILTERS] == list(UsageQuery.__struct_fields__)
