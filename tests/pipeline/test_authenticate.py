"""The authenticator's caches (authenticate.py), on a real SQLite store: what they keep must not outlive a change."""

from __future__ import annotations

from tests.pipeline.test_access import CONFIG
from weir import keys
from weir.billing.wallets import Wallets
from weir.config import parse_config
from weir.pipeline.access import Tiers
from weir.pipeline.authenticate import Authenticator
from weir.store.records import TierState
from weir.store.sqlite import SqliteStore

PEPPER = b"authenticate-test-pepper-0123456789"


async def test_new_tier_settings_apply_from_a_cached_keys_next_call(sqlite_store: SqliteStore) -> None:
    """A verified key is kept for the cache TTL; a change to its tier must not wait for that too (it would take up
    to twice the TTL to reach every worker: the refresh interval, then the key's cached access)."""
    tiers = Tiers(parse_config(CONFIG))
    auth = Authenticator(sqlite_store, PEPPER, Wallets(), ttl=3600, tiers=tiers)
    account = await sqlite_store.create_account("acme", 10**9)
    plaintext, parsed = keys.generate("inference")
    await sqlite_store.create_key(account.id, parsed.key_id, keys.secret_hmac(PEPPER, parsed.secret), "inference", None)
    assert (await auth.authenticate(plaintext, "inference")).access.limits.requests_per_hour == 20
    assert (await auth.authenticate(plaintext, "inference")).access.limits.requests_per_hour == 20  # cached
    stored = '{"name":"free","requests_per_hour":5}'
    tiers.apply_states([TierState("free", stored, 1)])
    assert (await auth.authenticate(plaintext, "inference")).access.limits.requests_per_hour == 5
    tiers.apply_states([])
    assert (await auth.authenticate(plaintext, "inference")).access.limits.requests_per_hour == 20
