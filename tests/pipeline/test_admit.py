"""Admission in the exchange: the key's rate limits then the wallet, with a real in-process limiter and in-memory
upstreams. Only admitted calls count; every answer and every refusal after the limiter carries the limit headers;
each admitted call is released once, with its tokens."""

from __future__ import annotations

import asyncio

import pytest

from tests.pipeline.exchange_support import ANTHROPIC_MESSAGES, World, chat_answer, chat_stream
from tests.support.transport import Answer
from weir.config import Tier
from weir.errors import ModelDisabled, ModelNotAllowed
from weir.limits import InProcessLimiter
from weir.pipeline.access import KeyAccess, ModelAccess, TierRules
from weir.pipeline.admit import check_model
from weir.pipeline.authenticate import Principal


def principal(**limits: int) -> Principal:
    return Principal("key1", "inference", 1, "acme", KeyAccess(TierRules(Tier(name="t", **limits))))  # type: ignore[arg-type]


def headers(messages: list[dict[str, object]]) -> dict[bytes, bytes]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    return dict(start["headers"])  # type: ignore[call-overload]


def world(limiter: InProcessLimiter, answer: Answer | None = None, **limits: int) -> World:
    return World(
        {"a": lambda *_: answer or chat_answer()}, [{"provider": "a"}], limiter=limiter, principal=principal(**limits)
    )


async def test_every_answer_carries_the_keys_limit_headers() -> None:
    w = world(InProcessLimiter(), requests_per_minute=3, requests_per_day=100)
    first = await w.call()
    assert first.status == 200
    h = headers(first.messages)
    assert (h[b"x-ratelimit-limit"], h[b"x-ratelimit-remaining"]) == (b"3", b"2")
    assert (h[b"x-ratelimit-daily-limit"], h[b"x-ratelimit-daily-remaining"]) == (b"100", b"99")
    assert h[b"x-ratelimit-limit-requests"] == b"3" and b"anthropic-ratelimit-requests-limit" not in h
    streamed = await World(
        {"a": lambda *_: chat_stream()},
        [{"provider": "a"}],
        limiter=w.exchange.admission.limiter,  # type: ignore[arg-type]
        principal=w.principal,
    ).call(stream=True)
    assert headers(streamed.messages)[b"x-ratelimit-remaining"] == b"1"  # a stream's headers, the same key's count
    anthropic = await w.call(
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, client=ANTHROPIC_MESSAGES
    )
    h = headers(anthropic.messages)
    assert h[b"anthropic-ratelimit-requests-remaining"] == b"0" and b"x-ratelimit-limit-requests" not in h
    assert b"x-ratelimit-warning" in h  # 3 of 3 used


async def test_a_refused_call_reaches_no_upstream_and_counts_nowhere() -> None:
    limiter = InProcessLimiter()
    w = world(limiter, requests_per_minute=1)
    assert (await w.call()).status == 200
    refused = await w.call()
    assert refused.status == 429 and refused.error is not None and refused.error.code == "rate_limit_exceeded"
    extra = dict(refused.error.extra_headers())
    assert extra[b"x-ratelimit-remaining"] == b"0" and int(extra[b"retry-after"]) >= 1
    assert w.calls("a") == 1 and len(w.settler.records) == 1  # no upstream call, no usage record


async def test_a_call_the_wallet_refuses_is_not_counted_but_says_where_the_key_stands() -> None:
    limiter = InProcessLimiter()
    w = world(limiter, requests_per_minute=2)
    w.wallets.observe(1, 0)
    broke = await w.call()
    assert broke.status == 402 and broke.error is not None
    assert dict(broke.error.extra_headers())[b"x-ratelimit-remaining"] == b"2"  # checked, not counted
    w.wallets.observe(1, 10**9)
    assert [(await w.call()).status for _ in range(3)] == [200, 200, 429]  # the refused call took no slot
    w.wallets.observe(1, 0)
    spent = await w.call()
    assert spent.status == 429  # the rate limit comes first, then the wallet


async def test_an_upstream_failure_after_admission_carries_the_headers() -> None:
    w = world(
        InProcessLimiter(),
        Answer(400, b'{"error": {"message": "bad", "type": "invalid_request_error"}}', {}),
        requests_per_hour=10,
    )
    failed = await w.call()
    assert failed.status == 400 and failed.error is not None
    assert dict(failed.error.extra_headers())[b"x-ratelimit-remaining"] == b"9"


async def test_max_concurrent_slots_are_released_when_calls_end() -> None:
    gate = asyncio.Event()

    async def slow(*_: object) -> Answer:
        await gate.wait()
        return chat_answer()

    limiter = InProcessLimiter()
    w = World({"a": slow}, [{"provider": "a"}], limiter=limiter, principal=principal(max_concurrent=1))
    first = asyncio.create_task(w.call())
    await asyncio.sleep(0.01)
    second = await w.call()
    assert second.status == 429 and second.error is not None and second.error.code == "too_many_concurrent"
    gate.set()
    assert (await first).status == 200
    assert (await w.call()).status == 200  # the first call's slot is free again


async def test_tokens_of_settled_calls_count_against_token_limits() -> None:
    w = world(InProcessLimiter(), chat_answer(prompt=60, completion=50), tokens_per_minute=100)
    assert (await w.call()).status == 200  # 110 tokens: one call may overshoot by its own size
    refused = await w.call()
    assert refused.status == 429 and refused.error is not None and "tokens_per_minute" in refused.error.message


def test_model_access_and_disabled_models() -> None:
    w = World({"a": lambda *_: chat_answer()}, [{"provider": "a"}])
    model = w.model
    narrow = KeyAccess(TierRules(Tier(name="free", models=["other-*"])))
    with pytest.raises(ModelNotAllowed, match="tier 'free'"):
        check_model(narrow, model, "m")
    own = KeyAccess(TierRules(Tier(name="all")), models=ModelAccess(["x"]))
    with pytest.raises(ModelNotAllowed, match="own model list"):
        check_model(own, model, "m")
    model.disabled = "an upstream recall"
    with pytest.raises(ModelDisabled, match=r"disabled by the operator \(an upstream recall\).*GET /v1/models"):
        check_model(KeyAccess(TierRules(Tier(name="all"))), model, "m")
