"""BYOK in the service layer: keys stored encrypted with billing.byok_key, for configured providers only, and read
back by the gateway's cache (a key encrypted under another byok_key is skipped, not sent)."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.fernet import Fernet

from tests.service.conftest import config
from weir.config import Billing
from weir.pipeline.byok import AccountKeys
from weir.service import Service
from weir.service.errors import Invalid, NotFound
from weir.store.base import Store

KEY = Fernet.generate_key().decode()


def with_byok(store: Store, key: str | None = KEY) -> Service:
    return Service(store, msgspec.structs.replace(config(), billing=Billing(byok_key=key)))


async def test_keys_are_stored_encrypted_and_read_back_decrypted(store: Store) -> None:
    service = with_byok(store)
    acme = await service.accounts.create("acme")
    await service.byok.set(acme.id, "p1", "sk-mine-123\n")
    stored = await store.byok_secrets(acme.id)
    assert b"sk-mine-123" not in stored["p1"]
    keys = await AccountKeys(store, Fernet(KEY.encode()), ttl=5).load(acme.id)
    assert keys["p1"].value == "sk-mine-123" and keys["p1"].index == -2
    assert [e.provider for e in await service.byok.list(acme.id)] == ["p1"]
    stranger = await AccountKeys(store, Fernet(Fernet.generate_key()), ttl=5).load(acme.id)
    assert stranger == {}  # another byok_key cannot read it: the provider's own keys serve
    await service.byok.delete(acme.id, "p1")
    with pytest.raises(NotFound):
        await service.byok.delete(acme.id, "p1")


async def test_what_is_refused(store: Store) -> None:
    service = with_byok(store)
    acme = await service.accounts.create("acme")
    for provider, secret, param in (("nope", "sk-1", "provider"), ("p1", "", "key"), ("p1", "two words", "key")):
        with pytest.raises(Invalid) as caught:
            await service.byok.set(acme.id, provider, secret)
        assert caught.value.param == param
    with pytest.raises(Invalid) as off:
        await with_byok(store, None).byok.set(acme.id, "p1", "sk-1")
    assert off.value.param == "billing.byok_key" and "keygen" in off.value.reason
