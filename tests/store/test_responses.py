"""The Store contract for kept Responses conversations (previous_response_id), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.support.stores import StoreFactory
from weir.store.base import AlreadyExists, NotFound, Store, StoreError
from weir.store.records import StoredResponse

DAY_MS = 86_400_000


def response(
    response_id: str,
    account_id: int,
    *,
    created_at: int = 1_000,
    expires_at: int = 1_000 + DAY_MS,
    items: object = None,
) -> StoredResponse:
    conversation = items if items is not None else [{"type": "message", "role": "user", "content": response_id}]
    return StoredResponse(
        id=response_id,
        account_id=account_id,
        model="gpt-x",
        items=msgspec.json.encode(conversation).decode(),
        created_at=created_at,
        expires_at=expires_at,
    )


async def test_put_and_get_round_trip(store: Store) -> None:
    account = await store.create_account("acme")
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 'héllo ✓ \u0000 "q"'}]},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA" + "x" * 300_000},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": '{"a": [1, 2.5, null]}'},
    ]
    kept = response("resp_1", account.id, created_at=5, expires_at=7, items=items)
    await store.put_response(kept)
    got = await store.get_response("resp_1")
    assert got == kept
    assert got is not None and msgspec.json.decode(got.items) == items
    assert await store.get_response("resp_2") is None
    assert await store.get_response("") is None


async def test_a_taken_id_is_refused_and_the_first_row_kept(store: Store) -> None:
    account = await store.create_account("acme")
    first = response("resp_1", account.id, items=["first"])
    await store.put_response(first)
    with pytest.raises(AlreadyExists) as caught:
        await store.put_response(response("resp_1", account.id, items=["second"]))
    assert isinstance(caught.value, StoreError)
    assert await store.get_response("resp_1") == first


async def test_unknown_account_and_bad_expiry_store_nothing(store: Store) -> None:
    account = await store.create_account("acme")
    with pytest.raises(NotFound):
        await store.put_response(response("resp_1", account.id + 1000))
    with pytest.raises(ValueError):
        await store.put_response(response("resp_2", account.id, created_at=10, expires_at=9))
    assert await store.get_response("resp_1") is None
    assert await store.get_response("resp_2") is None


async def test_expired_rows_are_read_until_purged(store: Store) -> None:
    account = await store.create_account("acme")
    await store.put_response(response("resp_old", account.id, created_at=1, expires_at=100))
    await store.put_response(response("resp_edge", account.id, created_at=1, expires_at=200))
    await store.put_response(response("resp_new", account.id, created_at=1, expires_at=201))
    assert (await store.get_response("resp_old")) is not None  # the caller compares expires_at, not the store
    assert await store.purge_responses(99) == 0
    assert await store.purge_responses(200) == 2  # expires_at == now counts as expired
    assert await store.get_response("resp_old") is None
    assert await store.get_response("resp_edge") is None
    assert await store.get_response("resp_new") is not None
    assert await store.purge_responses(200) == 0


async def test_purge_is_bounded_per_call_oldest_first(store: Store) -> None:
    account = await store.create_account("acme")
    for n in range(25):
        await store.put_response(response(f"resp_{n:02}", account.id, created_at=0, expires_at=100 + n))
    assert await store.purge_responses(10_000, limit=10) == 10
    left = [n for n in range(25) if await store.get_response(f"resp_{n:02}") is not None]
    assert left == list(range(10, 25))  # the ten that expired first went first
    assert await store.purge_responses(10_000, limit=10) == 10
    assert await store.purge_responses(10_000, limit=10) == 5
    assert await store.purge_responses(10_000, limit=10) == 0
    for limit in (0, -1):
        with pytest.raises(ValueError):
            await store.purge_responses(10_000, limit=limit)


async def test_concurrent_purges_delete_each_row_once(store: Store, store_factory: StoreFactory) -> None:
    account = await store.create_account("acme")
    for n in range(60):
        await store.put_response(response(f"resp_{n}", account.id, created_at=0, expires_at=n))
    await store.put_response(response("resp_live", account.id, created_at=0, expires_at=10**15))
    stores = [store, *[await store_factory() for _ in range(2)]]
    assert await stores[1].get_response("resp_7") is not None  # another process or replica sees the rows
    deleted = 0
    for _ in range(20):  # bounded: each round deletes at least one row until none is left
        counts = await asyncio.gather(*(s.purge_responses(10**12, limit=7) for s in stores))
        deleted += sum(counts)
        if not any(counts):
            break
    assert deleted == 60
    assert await stores[2].get_response("resp_live") is not None
