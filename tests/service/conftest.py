"""A Service on each store backend (fixture ``service``), with a small catalog and a pepper from the config."""

from __future__ import annotations

import pytest

from weir.config import Auth, Config, Model, Price, Provider, Route, Tier
from weir.service import Service
from weir.store.base import Store

PEPPER = "service-test-pepper-0123456789"


def config() -> Config:
    return Config(
        auth=Auth(pepper=PEPPER, key_cache_ttl_seconds=2),
        providers=[
            Provider(name="p1", dialect="openai", base_url="https://user:secret@p1.example/v1", api_keys=["a", "b"]),
            Provider(name="p2", dialect="anthropic", base_url="https://p2.example"),
        ],
        models=[
            Model(
                id="m1",
                aliases=["m-one"],
                price=Price(input=1.5, output=2.0),
                routes=[Route(provider="p1", model="u1")],
            ),
            Model(id="tts", price=Price(character=15.0), routes=[Route(provider="p2", model="u2")]),
        ],
        tiers=[Tier(name="free"), Tier(name="pro", price_multiplier=0.8)],
    )


@pytest.fixture
def service(store: Store) -> Service:
    return Service(store, config())
