"""The model table: the operator's stored switches and prices over the configured ones, and a call billed at the
prices it was admitted at."""

from __future__ import annotations

import logging

import pytest

from weir.billing.prices import TokenPrice
from weir.canonical.usage import Usage
from weir.config import parse_config
from weir.pipeline.authenticate import Principal
from weir.pipeline.call import Call
from weir.pipeline.route import ModelTable
from weir.store.records import ModelState
from weir.upstreams.provider import Upstream

CONFIG = """
[[providers]]
name = "up"
dialect = "openai"
base_url = "http://up.test/v1"
api_keys = ["k"]

[[models]]
id = "m"
price = { input = 1.0, output = 2.0 }
routes = [{ provider = "up", model = "u" }]

[[models]]
id = "off"
enabled = false
price = { input = 1.0, output = 2.0 }
routes = [{ provider = "up", model = "u" }]
"""

MICRO = 100_000_000  # microcents per USD


def table() -> ModelTable:
    config = parse_config(CONFIG)
    return ModelTable(config, {p.name: Upstream(p) for p in config.providers})


def state(model_id: str, price: str | None = None, disabled: bool = False) -> ModelState:
    return ModelState(model_id, disabled, None, 1, price)


def test_stored_prices_replace_the_configured_ones_and_go_back_when_reset() -> None:
    models = table()
    m = models.resolve("m")
    assert m.price == TokenPrice(MICRO, 2 * MICRO, MICRO, MICRO)
    stored = '{"input":0.5,"output":4.25,"cached_input":0.1,"cache_write":null,"image":0.02}'
    models.apply_states([state("m", stored)])
    assert m.price == TokenPrice(MICRO // 2, 425 * MICRO // 100, MICRO // 10, MICRO // 2, image=2 * MICRO // 100)
    models.apply_states([state("m", None)])
    assert m.price == TokenPrice(MICRO, 2 * MICRO, MICRO, MICRO)


def test_a_price_does_not_enable_a_model_the_configuration_disables() -> None:
    models = table()
    models.apply_states([state("off", '{"input":3,"output":3}'), state("m", '{"input":3,"output":3}', disabled=True)])
    assert models.resolve("off").disabled is not None and models.resolve("off").price.input == 3 * MICRO
    assert models.resolve("m").disabled == "" and models.resolve("m").price.output == 3 * MICRO


def test_unreadable_stored_prices_bill_at_the_configured_ones(caplog: pytest.LogCaptureFixture) -> None:
    models = table()
    with caplog.at_level(logging.ERROR, logger="weir.route"):
        models.apply_states([state("m", '{"input": "free"}')])
    assert models.resolve("m").price == TokenPrice(MICRO, 2 * MICRO, MICRO, MICRO)
    assert "model m: its stored prices are unreadable" in caplog.text


def test_a_call_is_billed_at_the_prices_it_was_admitted_at() -> None:
    models = table()
    m = models.resolve("m")
    call = Call("req", Principal("key", "inference", 1, "acct"), m, m.routes[0], stream=False)
    models.apply_states([state("m", '{"input":10,"output":20}')])  # a change lands while the call runs
    usage = Usage(input=1_000_000, output=1_000_000)
    assert call.cost_of(usage) == 3 * MICRO  # 1 + 2 USD, the old prices
    later = Call("req2", Principal("key", "inference", 1, "acct"), m, m.routes[0], stream=False)
    assert later.cost_of(usage) == 30 * MICRO
