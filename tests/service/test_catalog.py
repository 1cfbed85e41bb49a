"""The catalog through the service, on both backends: models as configured, providers with their pause and every
live worker's health."""

from __future__ import annotations

import orjson
import pytest

from weir.service import Service, views
from weir.service.errors import Invalid, NotFound
from weir.store._common import now_ms


def test_models_with_the_prices_in_effect(service: Service) -> None:
    assert [m.id for m in service.catalog.models()] == ["m1", "tts"]
    assert service.catalog.model("m-one").id == "m1"
    with pytest.raises(NotFound, match="no model named 'm2'"):
        service.catalog.model("m2")
    row = views.model_json(service.catalog.model("m1"))
    assert row["price_usd_per_1m_tokens"] == {"input": 1.5, "output": 2.0, "cached_input": 1.5, "cache_write": 1.5}
    assert "price_usd_per_unit" not in row
    assert views.model_json(service.catalog.model("tts"))["price_usd_per_unit"] == {"character": 15.0}


async def test_pause_resume_and_health(service: Service) -> None:
    store = service.store
    health = {"routes": [{"model": "m1", "breaker": "open"}], "keys": ["ok", "retired"]}
    await store.put_provider_health("host:1", {"p1": orjson.dumps(health).decode()})
    await store.put_provider_health(
        "host:2", {"p1": "not json", "p2": orjson.dumps({"routes": [], "keys": []}).decode()}
    )
    paused = await service.catalog.pause("p1", "maintenance")
    shown = views.provider_json(paused)
    assert shown["paused"] is True and shown["reason"] == "maintenance"
    assert shown["base_url"] == "https://user:***@p1.example/v1" and shown["keys"] == 2
    assert shown["workers"] == [{"worker": "host:1", "updated_at": shown["workers"][0]["updated_at"], **health}]
    resumed = views.provider_json(await service.catalog.resume("p1"))
    assert resumed["paused"] is False and resumed["reason"] is None and resumed["keys_reset_at"] > 0
    listed = {views.provider_json(v)["name"]: views.provider_json(v) for v in await service.catalog.providers()}
    assert listed["p2"]["paused"] is False and listed["p2"]["updated_at"] is None  # never paused
    assert [w["worker"] for w in listed["p2"]["workers"]] == ["host:2"]
    with pytest.raises(NotFound, match="no provider named 'p3' is configured"):
        await service.catalog.pause("p3")
    with pytest.raises(Invalid, match="reason"):
        await service.catalog.pause("p1", "x" * 501)


async def test_a_provider_shows_the_worst_breaker_and_key_state_any_worker_reports(service: Service) -> None:
    """`routes` and `key_states` (what /admin/v1/providers, `weir providers list` and the console show): per route
    and per configured key, the worst state of every live worker (open over half_open over closed; retired over
    cooling over ok); a key no worker reports on is ok."""
    store = service.store
    reports = {
        "host:1": {"routes": [{"model": "m1", "breaker": "closed"}], "keys": ["ok", "cooling"]},
        "host:2": {"routes": [{"model": "m1", "breaker": "open"}], "keys": ["retired", "ok", "extra"]},
        "host:3": {"routes": [{"model": "m1", "breaker": "half_open"}], "keys": ["cooling"]},
    }
    for worker, health in reports.items():
        await store.put_provider_health(worker, {"p1": orjson.dumps(health).decode()})
    shown = views.provider_json(await service.catalog.provider("p1"))
    assert shown["routes"] == [{"model": "m1", "breaker": "open"}]
    assert shown["key_states"] == ["retired", "cooling"]  # one per configured key: a third one reported is not one
    assert sorted(w["worker"] for w in shown["workers"]) == sorted(reports)
    await store.put_provider_health("host:2", {"p1": orjson.dumps(reports["host:1"]).decode()})
    await store.put_provider_health("host:3", {"p1": orjson.dumps(reports["host:1"]).decode()})
    shown = views.provider_json(await service.catalog.provider("p1"))
    assert (shown["routes"], shown["key_states"]) == ([{"model": "m1", "breaker": "closed"}], ["ok", "cooling"])
    quiet = views.provider_json(await service.catalog.provider("p2"))
    assert (quiet["routes"], quiet["key_states"], quiet["keys"]) == ([], [], 0)


async def test_a_worker_gone_quiet_is_not_shown(service: Service) -> None:
    await service.store.put_provider_health("gone:1", {"p1": '{"routes": [], "keys": []}'})
    window = service.catalog.health_window_ms
    assert window == 6_000  # 3 x key_cache_ttl_seconds (2)
    assert [w.worker for w in (await service.catalog.provider("p1")).workers] == ["gone:1"]
    service.catalog.health_window_ms = -60_000  # as if a minute had passed since it last published
    assert (await service.catalog.provider("p1")).workers == []
    assert now_ms() > 0


async def test_prices_set_merge_with_the_ones_in_effect_and_reset(service: Service) -> None:
    view = await service.catalog.set_prices("m-one", {"output": 3.25})
    assert (view.prices_set, view.model.price.input, view.model.price.output) == (True, 1.5, 3.25)
    view = await service.catalog.set_prices("m1", {"cached_input": 0.75, "input": 2.0})
    row = views.model_json(view.model, view)
    assert row["price_usd_per_1m_tokens"] == {"input": 2.0, "output": 3.25, "cached_input": 0.75, "cache_write": 2.0}
    assert row["prices_set"] is True
    view = await service.catalog.set_prices("m1", {"cached_input": None})  # back to "the input's"
    assert views.model_json(view.model, view)["price_usd_per_1m_tokens"]["cached_input"] == 2.0
    stored = {s.id: s.price for s in await service.store.list_model_states()}
    assert orjson.loads(stored["m1"] or "")["output"] == 3.25
    view = await service.catalog.reset_prices("m1")
    assert (view.prices_set, view.model.price.input, view.model.price.output) == (False, 1.5, 2.0)


@pytest.mark.parametrize(
    ("changes", "param", "reason"),
    [
        ({"inputs": 1.0}, "inputs", "is not a price"),
        ({"output": None}, "output", "must be a number"),
        ({"input": -1.0}, "price.input", "must not be negative"),
        ({"input": float("nan")}, "price.input", "must not be negative"),
        ({"output": 2_000_000.0}, "price.output", "at most 1,000,000 USD"),
        ({"image": 0.123456789}, "price.image", "more than 8 decimal places"),
    ],
)
async def test_prices_refused(service: Service, changes: dict[str, float | None], param: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason) as refused:
        await service.catalog.set_prices("m1", changes)
    assert refused.value.param == param
    assert await service.store.list_model_states() == []  # nothing written
    with pytest.raises(NotFound):
        await service.catalog.set_prices("m2", {"input": 1.0})
