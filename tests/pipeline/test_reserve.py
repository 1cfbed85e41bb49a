"""The money half of admission in the exchange, with real reservations on a real SQLite store and in-memory
upstreams: the price cap, the reservation of each call's estimate, the 402 that says why, the 429 that wins over
it, and every way a call ends giving its reservation back."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest

from tests.pipeline.exchange_support import CHAT, World, chat_answer, chat_stream
from tests.support.transport import Answer, Sent
from weir.billing.estimate import max_cost
from weir.billing.prices import TokenPrice
from weir.billing.reservations import Reservations
from weir.billing.spend import KeySpend
from weir.config import Tier
from weir.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from weir.errors import InsufficientBalance, KeySpendLimitReached, MaxPriceExceeded, RateLimitExceeded
from weir.limits import InProcessLimiter
from weir.pipeline.access import KeyAccess, TierRules
from weir.pipeline.authenticate import Principal
from weir.store.sqlite import SqliteStore

PRICE_INPUT, PRICE_OUTPUT = 100_000_000, 200_000_000  # the World's model m: $1 and $2 per 1M tokens


def estimate_of(body: dict[str, object], output: int) -> int:
    price = TokenPrice(input=PRICE_INPUT, output=PRICE_OUTPUT, cached_input=PRICE_INPUT, cache_write=PRICE_INPUT)
    return max_cost(price, len(orjson.dumps(body)), output)


async def funded(store: SqliteStore, balance: int, **limits: int) -> tuple[Principal, Reservations]:
    account = await store.create_account("acme", balance)
    access = KeyAccess(TierRules(Tier(name="t", **limits)))  # type: ignore[arg-type]
    return Principal("key1", "inference", account.id, "acme", access), Reservations(store, slice_calls=5)


def world(principal: Principal, reservations: Reservations, answer: Answer | None = None, **kw: object) -> World:
    return World(
        {"a": lambda *_: answer or chat_answer()},
        [{"provider": "a"}],
        principal=principal,
        reservations=reservations,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_call_reserves_its_estimate_and_gives_it_back_less_its_cost(sqlite_store: SqliteStore) -> None:
    principal, reservations = await funded(sqlite_store, 100_000_000)
    w = world(principal, reservations)
    body = {**CHAT, "max_tokens": 100}
    assert (await w.call(body)).status == 200
    hold, reserved = reservations.holding(principal.account_id)
    assert reserved == 0
    cost = (3 * PRICE_INPUT + 2 * PRICE_OUTPUT + 999_999) // 1_000_000  # chat_answer's usage: 3 in, 2 out
    assert hold == 5 * estimate_of(body, 100) - cost  # one slice of five estimates, less what the call cost
    assert w.settler.records[0].cost_microcents == cost


def refused(req: Sent) -> Answer:
    raise aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("a.test", 80, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )


async def silent(req: Sent) -> Answer:
    await asyncio.sleep(30)
    return chat_answer()


def slow_stream(req: Sent) -> Answer:
    stream = chat_stream()
    return Answer(200, [stream.steps()[0], 30.0, *stream.steps()[1:]], stream.headers)


JSON = {"Content-Type": "application/json"}
# Every way a call can end other than success: (handler, stream, client dialect, provider settings, leave_after)
ENDINGS: dict[str, tuple[Any, bool, Dialect, str, float | None]] = {
    "upstream error": (lambda req: Answer(500, b'{"error": {"message": "boom"}}', JSON), False, OPENAI_CHAT, "", None),
    "broken answer": (lambda req: Answer(200, b"not json"), False, OPENAI_CHAT, "", None),
    "translation error": (lambda req: Answer(200, b'{"choices": 7}', JSON), False, ANTHROPIC_MESSAGES, "", None),
    "connection refused": (refused, False, OPENAI_CHAT, "", None),
    "timeout before the answer": (silent, False, OPENAI_CHAT, "first_byte_timeout_seconds = 0.05", None),
    "stream time limit": (slow_stream, True, OPENAI_CHAT, "max_stream_seconds = 0.2", None),
    "stream cut by the upstream": (lambda req: chat_stream(cut_after_first=True), True, OPENAI_CHAT, "", None),
    "client gone mid-stream": (slow_stream, True, OPENAI_CHAT, "", 0.1),
    "client gone before the answer": (silent, False, OPENAI_CHAT, "", 0.1),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_every_way_a_call_ends_gives_its_reservation_back(sqlite_store: SqliteStore, ending: str) -> None:
    handler, stream, client, providers, leave_after = ENDINGS[ending]
    principal, reservations = await funded(sqlite_store, 100_000_000)
    w = World({"a": handler}, [{"provider": "a"}], principal=principal, reservations=reservations, providers=providers)
    body = {**CHAT, "max_tokens": 100}
    estimate = estimate_of({**body, "stream": True} if stream else body, 100)  # World.call adds "stream"
    outcome = await asyncio.wait_for(w.call(body, stream=stream, client=client, leave_after=leave_after), 10)
    [record] = w.settler.records
    assert record.status != 200 or outcome.status == 200 and b"error" in outcome.body  # it did not succeed
    hold, reserved = reservations.holding(principal.account_id)
    assert reserved == 0, "the call's reservation went back"
    assert hold == 5 * estimate - record.cost_microcents  # the slice lost what the call cost and nothing else
    await reservations.close()
    assert await sqlite_store.held_microcents(principal.account_id) == 0


async def test_a_shutdown_gives_back_what_calls_still_in_flight_reserved(sqlite_store: SqliteStore) -> None:
    """The process stops with a call in flight: the whole slice goes back to the store at once, and the call's own
    end afterwards takes nothing more from it."""
    principal, reservations = await funded(sqlite_store, 100_000_000)
    w = world(principal, reservations)
    w.transports["a"].handler = slow_stream
    call = asyncio.ensure_future(w.call({**CHAT, "max_tokens": 100}, stream=True))
    while not reservations.holding(principal.account_id)[1]:
        await asyncio.sleep(0.01)
    assert await sqlite_store.held_microcents(principal.account_id) > 0
    await reservations.close()
    assert await sqlite_store.held_microcents(principal.account_id) == 0
    call.cancel()  # granian cancels what is left once the lifespan has ended
    with contextlib.suppress(asyncio.CancelledError):
        await call
    assert await sqlite_store.held_microcents(principal.account_id) == 0
    assert reservations.holding(principal.account_id) == (0, 0)


async def test_an_account_that_cannot_cover_the_estimate_gets_402_before_any_upstream(
    sqlite_store: SqliteStore,
) -> None:
    body = {**CHAT, "max_tokens": 1000}
    estimate = estimate_of(body, 1000)
    principal, reservations = await funded(sqlite_store, estimate - 1)
    w = world(principal, reservations)
    refused = await w.call(body)
    assert refused.status == 402 and isinstance(refused.error, InsufficientBalance)
    message = str(refused.error)
    assert "insufficient balance" in message and f"${(estimate - 1) / 100_000_000:,.6f}" in message
    assert f"${estimate / 100_000_000:,.6f}" in message and "lower max_tokens" in message
    assert w.calls("a") == 0
    smaller = {**CHAT, "max_tokens": 10}
    assert (await w.call(smaller)).status == 200  # a smaller budget fits


async def test_the_price_cap_refuses_before_any_reservation(sqlite_store: SqliteStore) -> None:
    principal, reservations = await funded(sqlite_store, 100_000_000)
    w = world(principal, reservations)
    body = {**CHAT, "max_tokens": 1000}
    estimate = estimate_of(body, 1000)
    refused = await w.call(body, max_price=estimate - 1)
    assert refused.status == 402 and isinstance(refused.error, MaxPriceExceeded)
    assert refused.error.code == "max_price_exceeded"
    assert f"up to {estimate} microcents" in str(refused.error) and f"cap of {estimate - 1}" in str(refused.error)
    assert reservations.holding(principal.account_id) == (0, 0) and w.calls("a") == 0
    assert (await w.call(body, max_price=estimate)).status == 200  # a cap equal to the estimate lets it through
    keyed = Principal("key1", "inference", principal.account_id, "acme", principal.access, max_price=estimate - 1)
    w.principal = keyed
    by_key = await w.call(body)
    assert isinstance(by_key.error, MaxPriceExceeded) and "this key's max price" in str(by_key.error)
    assert (await w.call(body, max_price=estimate)).status == 200  # the header overrides the key's default


async def test_a_rate_limit_refusal_wins_over_money_and_leaves_nothing_reserved(sqlite_store: SqliteStore) -> None:
    principal, reservations = await funded(sqlite_store, 100_000_000, requests_per_minute=1)
    limiter = InProcessLimiter()
    w = world(principal, reservations, limiter=limiter)
    assert (await w.call()).status == 200
    refused = await w.call()
    assert isinstance(refused.error, RateLimitExceeded)
    assert reservations.holding(principal.account_id)[1] == 0  # the reservation made before the limits went back


async def test_a_key_past_its_spend_limit_gets_402_with_its_reset_time(sqlite_store: SqliteStore) -> None:
    principal, reservations = await funded(sqlite_store, 100_000_000)
    limited = msgspec.structs.replace(principal, spend_limit=500, spend_period="day")
    w = world(limited, reservations, spend=KeySpend(sqlite_store, ttl=60))
    first = await w.call()
    assert first.status == 200  # 0 spent: admitted, and billed whole although it crosses the limit
    cost = w.settler.records[0].cost_microcents
    assert cost > 500  # chat_answer costs 700
    refused = await w.call()  # its own cost counted at once, before any commit
    assert refused.status == 402 and isinstance(refused.error, KeySpendLimitReached)
    message = str(refused.error)
    assert refused.error.code == "key_spend_limit_reached" and "this day" in message and "resets at" in message
    assert w.calls("a") == 1 and reservations.holding(principal.account_id)[1] == 0
