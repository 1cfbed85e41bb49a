"""Keys through the service, on both backends: the plaintext is shown once and authenticates; only its HMAC is
stored; another account's key is never reachable."""

from __future__ import annotations

import pytest

from tests.service.conftest import PEPPER
from weir import keys
from weir.service import Service
from weir.service.errors import Invalid, NotFound
from weir.store.records import KeyUpdate


async def test_a_new_key_is_shown_once_and_stored_as_its_hmac(service: Service) -> None:
    alice = await service.accounts.create("alice")
    made = await service.keys.create(alice.id, "management", "ops")
    parsed = keys.parse(made.plaintext)
    assert parsed is not None and parsed.kind == "management" and parsed.key_id == made.key.id
    stored = await service.keys.get(made.key.id)
    assert stored == made.key and stored.name == "ops"
    assert keys.matches(PEPPER.encode(), parsed.secret, stored.secret_hmac)
    assert parsed.secret.encode() not in stored.secret_hmac
    with pytest.raises(NotFound, match="no account with id 999999"):
        await service.keys.create(999_999)
    with pytest.raises(Invalid, match="name: must not contain control characters"):
        await service.keys.create(alice.id, "inference", "bad\x00name")


async def test_update_revoke_and_account_scope(service: Service) -> None:
    alice = await service.accounts.create("alice")
    bob = await service.accounts.create("bob")
    mine = (await service.keys.create(alice.id, "inference", "laptop")).key
    theirs = await service.keys.create(bob.id)
    assert (await service.keys.update(mine.id, KeyUpdate(name="desk"), alice.id)).name == "desk"
    for call in (
        lambda: service.keys.get(theirs.key.id, alice.id),
        lambda: service.keys.update(theirs.key.id, KeyUpdate(name="mine now"), alice.id),
        lambda: service.keys.revoke(theirs.key.id, alice.id),
    ):
        with pytest.raises(NotFound, match=repr(theirs.key.id)):
            await call()
    assert (await service.keys.get(theirs.key.id)).revoked_at is None and (
        await service.keys.get(theirs.key.id)
    ).name is None
    revoked = await service.keys.revoke(theirs.plaintext)  # a whole key works too
    assert revoked.id == theirs.key.id and revoked.revoked_at is not None
    with pytest.raises(NotFound, match=f"no active key with id {theirs.key.id!r}"):
        await service.keys.revoke(theirs.key.id)
    page = await service.keys.page(alice.id, 10)
    assert [k.id for k in page.items] == [mine.id] and page.next_cursor is None
    assert [k.id for k in await service.keys.list(bob.id)] == [theirs.key.id]
