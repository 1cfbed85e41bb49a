"""Rate limits and concurrency caps per key: one interface (`Limiter`), two backends (in-process, Redis).

The request path: `decision = await limiter.admit(key_id, limits, ip=client_ip)`; the limit headers of every
response are `headers.render(decision, family)`; a refused decision becomes `refusal(decision, family)` (a
GatewayError carrying those headers); an admitted call ends with `await limiter.release(decision, tokens)`.
docs/limits.md describes the windows, their exactness, several workers and replicas, and Redis.
"""

from __future__ import annotations

from weir.config import Config, ConfigError
from weir.limits.base import LIMIT_NAMES, UNLIMITED, Decision, Limiter, Limits, Window
from weir.limits.decision import refusal
from weir.limits.headers import FAMILIES, Family, render
from weir.limits.inprocess import InProcessLimiter
from weir.limits.redis import RedisLimiter

__all__ = [
    "FAMILIES",
    "LIMIT_NAMES",
    "UNLIMITED",
    "Decision",
    "Family",
    "InProcessLimiter",
    "Limiter",
    "Limits",
    "RedisLimiter",
    "Window",
    "open_limiter",
    "refusal",
    "render",
]


def open_limiter(config: Config, *, limits_in_use: bool) -> Limiter:
    """The limiter for this gateway: Redis when storage.redis_url is set, else in this process.

    In-process counts live in one worker's memory, so with server.workers > 1 every worker would admit a key's whole
    limit: when any tier or key has a limit (`limits_in_use`), that configuration is refused (ConfigError) with a
    message that names storage.redis_url. Call `start()` on the result once the event loop runs, `close()` at
    shutdown.
    """
    options = config.limits
    if config.storage.redis_url:
        return RedisLimiter(
            config.storage.redis_url,
            on_backend_error=options.on_backend_error,
            timeout=options.redis_timeout_seconds,
            lease_seconds=options.lease_seconds,
        )
    if config.server.workers > 1 and limits_in_use:
        raise ConfigError(
            [
                f"server.workers: {config.server.workers} workers with rate limits need storage.redis_url: "
                "in-process limits live in one worker's memory, so each worker would admit a key's whole limit. "
                "Set storage.redis_url (e.g. redis://127.0.0.1:6379/0) or run one worker (server.workers = 1)"
            ],
            config.source,
        )
    return InProcessLimiter(lease_seconds=options.lease_seconds)
