"""The Store contract. Every test runs against SQLite and PostgreSQL (fixture ``store``)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import msgspec
import pytest

from tests.support.stores import SHIPPED_VERSIONS, StoreFactory
from weir.store.base import AlreadyExists, NotFound, Store, StoreError
from weir.store.postgres import PostgresStore
from weir.store.records import Account, ApiKey, KeyLookup, UsageRecord
from weir.store.sqlite import SqliteStore

SECRET = bytes(range(32))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def recent(ms: int) -> bool:
    return abs(now_ms() - ms) < 60_000


def usage(request_id: str, account_id: int, cost: int, key_id: str = "k1", created_at: int = 1_000) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        account_id=account_id,
        key_id=key_id,
        model="gpt-x",
        provider="openai",
        upstream_model="gpt-x-2025",
        status=200,
        input_tokens=1200,
        cached_tokens=200,
        output_tokens=345,
        reasoning_tokens=45,
        cost_microcents=cost,
        duration_ms=812,
        ttfb_ms=120,
        stream=True,
        created_at=created_at,
    )


async def account_with_key(store: Store, balance: int = 0, name: str = "acme", key_id: str = "k1") -> Account:
    account = await store.create_account(name, balance)
    await store.create_key(account.id, key_id, SECRET, "inference", "default")
    return account


async def balance_of(store: Store, name: str) -> int:
    account = await store.get_account(name)
    assert account is not None
    return account.balance_microcents


async def assert_ledger_conserved(store: Store, account: Account) -> None:
    """Σ ledger amounts == balance, and every balance_after continues the previous one exactly."""
    entries = await store.list_ledger(account.id)
    running = 0
    for entry in entries:
        running += entry.amount_microcents
        assert entry.balance_after_microcents == running, entry
    assert running == await balance_of(store, account.name)


async def test_migrate_applies_once(unmigrated_store: Store) -> None:
    assert await unmigrated_store.migrate() == SHIPPED_VERSIONS
    assert await unmigrated_store.migrate() == []
    assert (await unmigrated_store.create_account("after-migrate")).name == "after-migrate"


async def test_migrate_on_migrated_store_is_a_no_op(store: Store) -> None:
    await store.create_account("kept", 5)
    assert await store.migrate() == []
    assert await balance_of(store, "kept") == 5


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


async def test_has_schema_once_migrated(unmigrated_store: Store) -> None:
    assert await unmigrated_store.has_schema() is False
    await unmigrated_store.migrate()
    assert await unmigrated_store.has_schema() is True


async def test_probe_write_commits_and_repeats(store: Store) -> None:
    await store.probe_write()
    await store.probe_write()  # the one row is rewritten, never a second one
    assert (await store.create_account("after-probe")).name == "after-probe"


async def test_create_and_get_account(store: Store) -> None:
    account = await store.create_account("acme")
    assert account.name == "acme" and account.balance_microcents == 0 and account.id > 0
    assert recent(account.created_at)
    assert await store.get_account("acme") == account
    assert await store.get_account("nobody") is None
    assert await store.list_ledger(account.id) == []  # no 'initial' entry for a zero balance
    other = await store.create_account("globex", 7)
    assert other.id != account.id


async def test_duplicate_account_name(store: Store) -> None:
    first = await store.create_account("acme", 100)
    with pytest.raises(AlreadyExists) as caught:
        await store.create_account("acme", 999)
    assert isinstance(caught.value, StoreError)
    assert await store.get_account("acme") == first
    assert len(await store.list_ledger(first.id)) == 1


@pytest.mark.parametrize("initial", [2_500_000, -300])
async def test_initial_balance_writes_a_ledger_entry(store: Store, initial: int) -> None:
    account = await store.create_account("acme", initial)
    assert account.balance_microcents == initial
    [entry] = await store.list_ledger(account.id)
    assert (entry.kind, entry.amount_microcents, entry.balance_after_microcents) == (
        "initial",
        initial,
        initial,
    )
    assert entry.account_id == account.id and entry.request_id is None and recent(entry.created_at)


async def test_topup(store: Store) -> None:
    account = await store.create_account("acme", 1_000)
    after = await store.topup("acme", 250, note="invoice 17")
    assert after == Account(account.id, "acme", 1_250, account.created_at)
    assert (await store.topup("acme", 5)).balance_microcents == 1_255
    assert await balance_of(store, "acme") == 1_255
    entries = await store.list_ledger(account.id)
    assert [(e.kind, e.amount_microcents, e.balance_after_microcents, e.note) for e in entries] == [
        ("initial", 1_000, 1_000, None),
        ("topup", 250, 1_250, "invoice 17"),
        ("topup", 5, 1_255, None),
    ]
    assert entries[0].id < entries[1].id < entries[2].id


async def test_topup_rejects_unknown_account_and_non_positive_amounts(store: Store) -> None:
    account = await store.create_account("acme", 10)
    with pytest.raises(NotFound):
        await store.topup("nobody", 5)
    for amount in (0, -5):
        with pytest.raises(ValueError):
            await store.topup("acme", amount)
    assert await balance_of(store, "acme") == 10
    assert len(await store.list_ledger(account.id)) == 1


async def test_keys(store: Store) -> None:
    account = await store.create_account("acme", 42)
    key = await store.create_key(account.id, "kid-1", SECRET, "inference", "laptop")
    assert key == ApiKey("kid-1", account.id, "inference", "laptop", SECRET, key.created_at, None, None)
    assert recent(key.created_at)
    admin = await store.create_key(account.id, "kid-2", b"\x00\xff" * 16, "management", None)
    assert await store.lookup_key("kid-1") == KeyLookup(key=key, account_name="acme", balance_microcents=42)
    found = await store.lookup_key("kid-2")
    assert found is not None and found.key == admin and found.key.secret_hmac == b"\x00\xff" * 16
    assert await store.lookup_key("missing") is None
    assert await store.list_keys(account.id) == [key, admin]
    other = await store.create_account("globex")
    assert await store.list_keys(other.id) == []
    assert await store.list_keys(999_999) == []


async def test_key_errors(store: Store) -> None:
    account = await store.create_account("acme")
    await store.create_key(account.id, "kid-1", SECRET, "inference", None)
    with pytest.raises(AlreadyExists):
        await store.create_key(account.id, "kid-1", b"other", "management", None)
    with pytest.raises(NotFound):
        await store.create_key(account.id + 1000, "kid-2", SECRET, "inference", None)
    assert [k.id for k in await store.list_keys(account.id)] == ["kid-1"]
    assert await store.lookup_key("kid-2") is None


async def test_revoke_key(store: Store) -> None:
    account = await account_with_key(store)
    assert await store.revoke_key("k1") is True
    assert await store.revoke_key("k1") is False
    assert await store.revoke_key("missing") is False
    found = await store.lookup_key("k1")
    assert found is not None and found.key.revoked_at is not None and recent(found.key.revoked_at)
    assert (await store.list_keys(account.id))[0].revoked_at == found.key.revoked_at


async def test_record_usage_round_trip(store: Store) -> None:
    account = await account_with_key(store, 10_000)
    record = usage("req-1", account.id, 1_234, created_at=now_ms())
    quiet = msgspec.structs.replace(usage("req-2", account.id, 0), stream=False, ttfb_ms=None, status=502)
    settlements = await store.record_usage([record, quiet])
    assert [(s.request_id, s.account_id, s.inserted, s.balance_microcents) for s in settlements] == [
        ("req-1", account.id, True, 8_766),
        ("req-2", account.id, True, 8_766),
    ]
    assert await store.get_usage("req-1") == record
    assert await store.get_usage("req-2") == quiet
    assert await store.get_usage("missing") is None
    usage_entries = [e for e in await store.list_ledger(account.id) if e.kind == "usage"]
    # One entry per account per commit: the batch's total; the calls themselves are the usage records.
    assert [(e.amount_microcents, e.balance_after_microcents, e.note) for e in usage_entries] == [
        (-1_234, 8_766, "2 call(s)")
    ]
    found = await store.lookup_key("k1")
    assert found is not None and found.balance_microcents == 8_766
    assert found.key.last_used_at == record.created_at
    await assert_ledger_conserved(store, account)


async def test_media_units_round_trip(store: Store) -> None:
    account = await account_with_key(store, 10_000)
    image = msgspec.structs.replace(usage("req-img", account.id, 800), images=3, input_tokens=0, output_tokens=0)
    speech = msgspec.structs.replace(usage("req-tts", account.id, 20), characters=1_234_567, stream=True)
    heard = msgspec.structs.replace(usage("req-stt", account.id, 30), audio_ms=2_501, input_tokens=0)
    await store.record_usage([image, speech, heard])
    assert await store.get_usage("req-img") == image
    assert await store.get_usage("req-tts") == speech
    assert await store.get_usage("req-stt") == heard
    plain = await store.record_usage([usage("req-chat", account.id, 1)])
    assert plain[0].balance_microcents == 10_000 - 851
    found = await store.get_usage("req-chat")
    assert found is not None and (found.images, found.characters, found.audio_ms) == (0, 0, 0)


async def test_record_usage_is_idempotent(store: Store) -> None:
    account = await account_with_key(store, 1_000)
    batch = [usage(f"req-{i}", account.id, 10 * (i + 1)) for i in range(3)]
    first = await store.record_usage(batch)
    assert [s.inserted for s in first] == [True, True, True]
    assert first[-1].balance_microcents == 1_000 - 60
    again = await store.record_usage(batch)
    assert [(s.inserted, s.balance_microcents) for s in again] == [(False, 940)] * 3
    assert await balance_of(store, "acme") == 940
    assert len(await store.list_ledger(account.id)) == 2  # initial + the first batch; the repeat changed nothing
    await assert_ledger_conserved(store, account)


async def test_duplicate_request_id_inside_one_batch(store: Store) -> None:
    account = await account_with_key(store, 500)
    first = usage("dup", account.id, 100)
    second = msgspec.structs.replace(first, cost_microcents=7_000, model="other")
    settlements = await store.record_usage([first, usage("solo", account.id, 1), second])
    assert [(s.request_id, s.inserted) for s in settlements] == [
        ("dup", True),
        ("solo", True),
        ("dup", False),
    ]
    assert {s.balance_microcents for s in settlements} == {399}
    assert await store.get_usage("dup") == first
    assert [(e.kind, e.amount_microcents, e.note) for e in await store.list_ledger(account.id)] == [
        ("initial", 500, None),
        ("usage", -101, "2 call(s)"),
    ]
    await assert_ledger_conserved(store, account)


async def test_running_balance_after_in_batch_order(store: Store) -> None:
    acme = await account_with_key(store, 1_000)
    globex = await account_with_key(store, 50, name="globex", key_id="k2")
    batch = [
        usage("a1", acme.id, 100),
        usage("g1", globex.id, 20, key_id="k2"),
        usage("a2", acme.id, 300),
        usage("g2", globex.id, 45, key_id="k2"),  # globex goes negative: admission is not the store's job
        usage("a3", acme.id, 1),
    ]
    settlements = await store.record_usage(batch)
    assert [s.balance_microcents for s in settlements] == [599, -15, 599, -15, 599]
    acme_entries = [e for e in await store.list_ledger(acme.id) if e.kind == "usage"]
    assert [(e.amount_microcents, e.balance_after_microcents, e.note) for e in acme_entries] == [
        (-401, 599, "3 call(s)")
    ]
    globex_entries = [e for e in await store.list_ledger(globex.id) if e.kind == "usage"]
    assert [(e.amount_microcents, e.balance_after_microcents) for e in globex_entries] == [(-65, -15)]
    assert await balance_of(store, "globex") == -15
    await store.topup("globex", 100)
    assert await balance_of(store, "globex") == 85
    for account in (acme, globex):
        await assert_ledger_conserved(store, account)


async def test_last_used_at_only_moves_forward(store: Store) -> None:
    account = await account_with_key(store)
    await store.create_key(account.id, "idle", SECRET, "inference", None)
    await store.record_usage(
        [usage("r1", account.id, 1, created_at=5_000), usage("r2", account.id, 1, created_at=7_000)]
    )
    await store.record_usage([usage("r3", account.id, 1, created_at=6_000)])
    await store.record_usage([usage("r1", account.id, 1, created_at=9_000)])  # duplicate: not a new use
    keys = {k.id: k for k in await store.list_keys(account.id)}
    assert keys["k1"].last_used_at == 7_000
    assert keys["idle"].last_used_at is None


async def test_record_usage_edge_cases(store: Store) -> None:
    account = await account_with_key(store, 100)
    assert await store.record_usage([]) == []
    [orphan] = await store.record_usage([usage("orphan", account.id, 0, key_id="no-such-key")])
    assert orphan.inserted and await store.get_usage("orphan") is not None  # usage is never dropped
    with pytest.raises(ValueError):
        await store.record_usage([usage("neg", account.id, -1)])
    with pytest.raises(NotFound):
        await store.record_usage([usage("ok", account.id, 5), usage("ghost", account.id + 1000, 5)])
    too_big = msgspec.structs.replace(usage("huge", account.id, 5), input_tokens=2**64)
    with pytest.raises(StoreError) as caught:
        await store.record_usage([usage("ok", account.id, 5), too_big])
    assert caught.value.__cause__ is not None
    # Each failed batch was rolled back as a whole.
    assert await store.get_usage("ok") is None and await store.get_usage("neg") is None
    assert await balance_of(store, "acme") == 100
    assert len(await store.list_ledger(account.id)) == 1  # initial only: the orphan cost nothing


async def test_large_batch(store: Store) -> None:
    account = await account_with_key(store, 0)
    batch = [usage(f"big-{i:04d}", account.id, i) for i in range(1_000)]
    settlements = await store.record_usage(batch)
    assert all(s.inserted for s in settlements) and settlements[0].balance_microcents == -499_500
    assert await balance_of(store, "acme") == -sum(range(1_000))
    entries = await store.list_ledger(account.id)
    assert [(e.amount_microcents, e.note) for e in entries] == [(-sum(range(1_000)), "1000 call(s)")]
    await assert_ledger_conserved(store, account)


async def test_concurrent_record_usage_debits_exactly(store: Store) -> None:
    account = await account_with_key(store, 1_000_000)
    batches = [[usage(f"c{b}-{i}", account.id, 7 + b + i) for i in range(20)] for b in range(50)]
    results = await asyncio.gather(*(store.record_usage(batch) for batch in batches))
    expected = sum(r.cost_microcents for batch in batches for r in batch)
    assert all(s.inserted for settlements in results for s in settlements)
    assert await balance_of(store, "acme") == 1_000_000 - expected
    assert min(s.balance_microcents for settlements in results for s in settlements) == 1_000_000 - expected
    assert len(await store.list_ledger(account.id)) == 1 + 50  # initial + one entry per batch
    await assert_ledger_conserved(store, account)


async def test_stores_sharing_one_database_charge_each_request_once(store: Store, store_factory: StoreFactory) -> None:
    """Several processes (SQLite) or replicas (PostgreSQL) settle at once, each batch sent twice."""
    account = await account_with_key(store, 0)
    stores = [store, await store_factory(), await store_factory()]
    batches = [[usage(f"s{b}-{i}", account.id, 3 * b + i + 1) for i in range(20)] for b in range(12)]
    sends = [stores[n % 3].record_usage(batches[n % 12]) for n in range(24)]
    results = await asyncio.gather(*sends)
    inserted = [s.request_id for settlements in results for s in settlements if s.inserted]
    assert sorted(inserted) == sorted(r.request_id for batch in batches for r in batch)
    assert await balance_of(stores[1], "acme") == -sum(r.cost_microcents for batch in batches for r in batch)
    assert 12 <= len(await stores[2].list_ledger(account.id)) <= 24  # one entry per batch that charged anything
    await assert_ledger_conserved(store, account)


async def test_concurrent_migrations_apply_once(unmigrated_store: Store, store_factory: StoreFactory) -> None:
    stores = [unmigrated_store, *[await store_factory() for _ in range(3)]]
    results = await asyncio.gather(*(s.migrate() for s in stores))
    assert sorted(v for applied in results for v in applied) == SHIPPED_VERSIONS  # each version exactly once
    assert (await stores[3].create_account("ok")).name == "ok"


async def test_closed_store_raises_store_error(store: Store) -> None:
    await store.create_account("acme")
    await store.close()
    assert await store.ping() is False
    with pytest.raises(StoreError):
        await store.get_account("acme")
    await store.close()  # closing twice is harmless


@pytest.fixture
def unreachable(backend: str, tmp_path: Path) -> SqliteStore | PostgresStore:
    """A store whose database cannot be reached: a path under a regular file, or a closed TCP port."""
    if backend == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        return SqliteStore(str(blocker / "weir.db"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the store tries it
    return PostgresStore(f"postgresql://postgres@127.0.0.1:{port}/weir", connect_timeout=2)


async def test_unreachable_database_raises_store_error(unreachable: SqliteStore | PostgresStore) -> None:
    with pytest.raises(StoreError) as caught:
        await unreachable.open()
    assert isinstance(caught.value.__cause__, OSError)
    assert await unreachable.ping() is False
    for call in (
        unreachable.lookup_key("k1"),
        unreachable.record_usage([usage("r1", 1, 5)]),
        unreachable.migrate(),
        unreachable.probe_write(),
        unreachable.has_schema(),
    ):
        with pytest.raises(StoreError) as caught:
            await call
        assert type(caught.value) is StoreError and isinstance(caught.value.__cause__, OSError)
    await unreachable.close()
