"""The body-read budget: summed over reads, enforced by the sweeper, never cancelling anything else."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from weir.errors import RequestTimeout
from weir.http.asgi import read_body
from weir.http.body_timer import SWEEP_SECONDS, BodyTimer

MESSAGE = {"type": "http.request", "body": b"x", "more_body": True}


async def stalled() -> Any:
    await asyncio.Event().wait()  # a client that sends nothing more


def slow(seconds: float) -> Any:
    async def receive() -> Any:
        await asyncio.sleep(seconds)
        return MESSAGE

    return receive


async def test_a_stalled_body_times_out_and_says_so() -> None:
    timer = BodyTimer(0.3)
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as caught:
        await timer.receive(stalled)
    assert 0.3 <= time.monotonic() - started < 0.3 + SWEEP_SECONDS + 0.2
    assert caught.value.status == 408 and "0.3 seconds (server.body_read_timeout_seconds)" in caught.value.message
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]  # our cancellation was taken back


async def test_the_budget_is_summed_over_reads_and_time_elsewhere_is_free() -> None:
    timer = BodyTimer(0.5)
    assert await timer.receive(slow(0.2)) == MESSAGE
    await asyncio.sleep(0.6)  # Weir busy elsewhere (an upstream reading the upload): not counted, not cancelled
    assert await timer.receive(slow(0.2)) == MESSAGE
    assert 0.05 < timer.left <= 0.1
    started = time.monotonic()
    with pytest.raises(RequestTimeout):
        await timer.receive(stalled)
    assert time.monotonic() - started < 0.1 + SWEEP_SECONDS + 0.2
    with pytest.raises(RequestTimeout):  # spent: refused at once
        await timer.receive(slow(0))


async def test_someone_elses_cancellation_goes_through() -> None:
    task = asyncio.ensure_future(BodyTimer(30).receive(stalled))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_many_reads_at_once_each_get_their_own_deadline() -> None:
    async def one(seconds: float) -> str:
        try:
            await BodyTimer(seconds).receive(stalled if seconds < 1 else slow(0.4))
        except RequestTimeout:
            return "timeout"
        return "read"

    got = await asyncio.gather(*(one(0.2 if i % 2 else 5) for i in range(200)))
    assert got == ["read" if i % 2 == 0 else "timeout" for i in range(200)]


async def test_read_body_answers_408() -> None:
    scope = {"headers": [(b"content-length", b"100")]}
    sent = iter([MESSAGE])

    async def receive() -> Any:
        try:
            return next(sent)
        except StopIteration:
            return await stalled()

    with pytest.raises(RequestTimeout):
        await read_body(scope, receive, 1024, 0.2)
