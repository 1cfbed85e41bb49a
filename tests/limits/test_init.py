"""open_limiter: which backend a configuration gets, and the one combination refused."""

from __future__ import annotations

import pytest

from weir.config import ConfigError, embedded_config
from weir.limits import InProcessLimiter, RedisLimiter, open_limiter


def test_in_process_by_default() -> None:
    assert isinstance(open_limiter(embedded_config(), limits_in_use=True), InProcessLimiter)


async def test_redis_when_storage_redis_url_is_set() -> None:
    config = embedded_config()
    config.storage.redis_url = "redis://127.0.0.1:1/0"
    config.server.workers = 4
    config.limits.on_backend_error = "closed"
    limiter = open_limiter(config, limits_in_use=True)
    assert isinstance(limiter, RedisLimiter) and limiter.on_backend_error == "closed"
    await limiter.close()


def test_several_workers_with_limits_need_redis() -> None:
    config = embedded_config()
    config.server.workers = 4
    with pytest.raises(ConfigError) as caught:
        open_limiter(config, limits_in_use=True)
    (problem,) = caught.value.problems
    assert problem.startswith("server.workers: 4 workers with rate limits need storage.redis_url")
    assert isinstance(open_limiter(config, limits_in_use=False), InProcessLimiter)  # nothing to count
