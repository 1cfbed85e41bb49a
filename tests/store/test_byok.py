"""Accounts' own provider keys in the store (SQLite and PostgreSQL): kept as given (ciphertext), listed without them."""

from __future__ import annotations

from tests.store.test_contract import account_with_key
from weir.store.base import Store


async def test_put_list_read_and_delete(store: Store) -> None:
    acme = await account_with_key(store)
    await store.put_byok(acme.id, "openai", b"token-1")
    await store.put_byok(acme.id, "anthropic", b"token-2")
    await store.put_byok(acme.id, "openai", b"token-3")  # replaced
    assert [e.provider for e in await store.list_byok(acme.id)] == ["anthropic", "openai"]
    assert await store.byok_secrets(acme.id) == {"openai": b"token-3", "anthropic": b"token-2"}
    assert await store.delete_byok(acme.id, "openai") is True
    assert await store.delete_byok(acme.id, "openai") is False
    assert await store.byok_secrets(acme.id) == {"anthropic": b"token-2"}
