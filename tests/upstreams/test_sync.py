"""ProviderSync on a real store: an operator's pause reaches the worker, and a resume brings back the keys the
worker retired or cooled, whether or not the provider was ever paused before; a reset older than the worker is
history."""

from __future__ import annotations

import time

from weir.config import Provider
from weir.store.sqlite import SqliteStore
from weir.upstreams.provider import Upstream
from weir.upstreams.sync import ProviderSync


def upstreams() -> dict[str, Upstream]:
    return {
        name: Upstream(Provider(name=name, dialect="openai", base_url=f"https://{name}.example/v1", api_keys=["a"]))
        for name in ("never-paused", "paused-before")
    }


async def test_a_resume_brings_back_retired_keys_even_of_a_provider_never_paused(sqlite_store: SqliteStore) -> None:
    await sqlite_store.set_provider_paused("paused-before", True, "earlier")
    await sqlite_store.set_provider_paused("paused-before", False)  # a reset from before this worker started
    found = upstreams()
    sync = ProviderSync(sqlite_store, found, [], interval=0.5, worker="test:1")
    await sync.refresh()  # start-up: the old reset is history
    assert found["paused-before"].paused is None
    for upstream in found.values():
        upstream.keys.retire(upstream.keys.keys[0])
        assert upstream.keys.keys[0].state(time.monotonic()) == "retired"
    await sync.refresh()  # nothing new: the keys stay retired
    assert all(u.keys.keys[0].state(time.monotonic()) == "retired" for u in found.values())

    await sqlite_store.set_provider_paused("never-paused", False)  # its first row: `weir providers resume`
    await sync.refresh()
    assert found["never-paused"].keys.keys[0].state(time.monotonic()) == "ok"
    assert found["paused-before"].keys.keys[0].state(time.monotonic()) == "retired"  # not resumed

    await sqlite_store.set_provider_paused("paused-before", True, "maintenance")
    await sync.refresh()
    assert found["paused-before"].paused == "maintenance"
    await sqlite_store.set_provider_paused("paused-before", False)
    await sync.refresh()
    assert found["paused-before"].paused is None
    assert found["paused-before"].keys.keys[0].state(time.monotonic()) == "ok"
