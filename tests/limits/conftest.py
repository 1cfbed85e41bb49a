from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.limits.support import T0, Backend, in_process
from weir.limits import RedisLimiter

BACKENDS = ["inprocess", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each backend, its clock at T0 (in-process: standing still)."""
    if request.param == "inprocess":
        made = in_process()
        await made.move_to(T0)
        yield made
        await made.limiter.close()
        return
    url: str = request.getfixturevalue("redis_url")
    redis = Redis.from_url(url)
    made = Backend("redis", RedisLimiter(url), redis=redis)
    await made.move_to(T0)
    yield made
    await made.limiter.close()
    await redis.aclose()
