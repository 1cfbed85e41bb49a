"""Limits shared through Redis: exact across any number of workers and replicas.

Each admission is one Lua script (scripts/admit.lua) that checks every window of the key and counts the call in
all of them only if all pass, atomically, on the Redis server's clock (TIME inside the script). One round trip:
the scripts are sent by EVALSHA (loaded once, and again after a Redis restart answers NOSCRIPT), and the calls of
one event-loop iteration share one pipeline (`Batcher`), which is what keeps a Redis admission cheap under load
(bench/micro/limits.py). Every key the scripts write expires by itself.

Failures are bounded (reliability.md A8): connect and reply timeouts of `timeout` seconds (redis-py's default is 5 s
with 10 retries), one retry on a broken connection (a stale pooled socket) and none on a timeout, a bounded number
of connections.
A failed admission follows `on_backend_error`: "open" admits the call unchecked, counts
weir_limits_backend_errors_total and logs a warning at most once a minute; "closed" raises LimitsUnavailable (503).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Literal

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from weir.errors import LimitsUnavailable
from weir.limits.base import UNLIMITED, Decision, Limits
from weir.limits.decision import decide
from weir.limits.leases import LeaseKeeper, has_token_limits
from weir.observability.metrics import LIMIT_REFUSALS, LIMITS_BACKEND_ERRORS

log = logging.getLogger("weir.limits")

BACKEND_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
WARN_EVERY_SECONDS = 60.0
MAX_CACHED_KEYS = 100_000


@dataclass(frozen=True)
class Script:
    name: str
    body: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.body.encode()).hexdigest())

    @classmethod
    def load(cls, name: str) -> Script:
        return cls(name, (files("weir.limits") / "scripts" / f"{name}.lua").read_text(encoding="utf-8"))


ADMIT, RELEASE, RENEW = Script.load("admit"), Script.load("release"), Script.load("renew")

Call = tuple[Script, tuple[bytes, ...], tuple[Any, ...], "asyncio.Future[Any]"]


class Batcher:
    """Autopipelining: the script calls made while others are in flight go to Redis together, as one pipeline (one
    write, the replies read in order) on one pooled connection, sent once the event loop has run every caller of
    that iteration. A call made when nothing else is in flight goes at once, alone. Each call sees its own reply
    or error."""

    def __init__(self, redis: Redis, max_pipelines: int = 4) -> None:
        self._redis = redis
        self._max_pipelines = max_pipelines  # in flight at once; more calls wait for one to end (and join up)
        self._calls: list[Call] = []
        self._scheduled = False
        self._in_flight = 0  # calls sent alone and pipelines, not yet answered
        self._running: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting: a call now would go alone, at once."""
        return not self._in_flight and not self._calls

    async def run(self, script: Script, keys: tuple[bytes, ...], args: tuple[Any, ...]) -> Any:
        if self.idle:
            self._in_flight += 1
            try:
                return await self._alone(script, keys, args)
            finally:
                self._in_flight -= 1
        return await self.submit(script, keys, args)

    def submit(self, script: Script, keys: tuple[bytes, ...], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """The call, for the next pipeline: its future has the reply or the error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._calls.append((script, keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    async def _alone(self, script: Script, keys: tuple[bytes, ...], args: tuple[Any, ...]) -> Any:
        try:
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:  # a restarted Redis has forgotten the script: load it, run the call again
            await self._redis.script_load(script.body)
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._calls or len(self._running) >= self._max_pipelines:
            return  # the end of a pipeline in flight sends them
        calls, self._calls = self._calls, []
        task = asyncio.get_running_loop().create_task(self._execute(calls))
        self._running.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._calls and not self._scheduled:
            self._flush()

    async def _execute(self, calls: list[Call]) -> None:
        self._in_flight += 1
        try:
            replies = await self._pipeline(calls)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:  # a restarted Redis has forgotten the scripts: load them, run those calls again
                for script in {calls[i][0] for i in missing}:
                    await self._redis.script_load(script.body)
                for i, reply in zip(missing, await self._pipeline([calls[i] for i in missing]), strict=True):
                    replies[i] = reply
        except BaseException as exc:
            for *_, future in calls:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._in_flight -= 1
        for (*_, future), reply in zip(calls, replies, strict=True):
            if future.done():  # its caller stopped waiting
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _pipeline(self, calls: list[Call]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for script, keys, args, _ in calls:
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)

    async def drain(self) -> None:
        """Wait for the pipelines in flight (shutdown)."""
        while self._calls or self._running:
            await asyncio.sleep(0)
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)


class Releases:
    """The releases of one event-loop iteration, by limits key: the leases to free and the tokens to record, and a
    future for each caller (its own, so that a caller cancelled while it waits cancels nobody else's wait)."""

    __slots__ = ("by_key", "waiting")

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[Limits, list[str], int]] = {}
        self.waiting: list[asyncio.Future[None]] = []

    def add(self, key: str, limits: Limits, lease: str | None, tokens: int) -> asyncio.Future[None]:
        _, leases, total = self.by_key.get(key) or (limits, [], 0)
        if lease is not None:
            leases.append(lease)
        self.by_key[key] = (limits, leases, total + tokens)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    def answered(self) -> None:
        for future in self.waiting:
            if not future.done():
                future.set_result(None)


class RedisLimiter(LeaseKeeper):
    def __init__(
        self,
        url: str,
        *,
        on_backend_error: Literal["open", "closed"] = "open",
        timeout: float = 0.25,
        lease_seconds: float = 30.0,
        prefix: str = "weir:",
        max_pipelines: int = 4,
        time_shift_ms: int = 0,
    ) -> None:
        """`url`: storage.redis_url. `prefix` starts every key (tests give each their own). `time_shift_ms` is added
        to the server's clock inside the scripts (0; tests move time with it)."""
        super().__init__(lease_seconds)
        self.on_backend_error = on_backend_error
        self.time_shift_ms = time_shift_ms
        self._timeout = timeout
        self._prefix = prefix
        # The batcher keeps at most max_pipelines pipelines and one lone call in flight; the rest of the pool is for
        # health checks and lease renewals. So the pool never runs dry, and needs no (costly) waiting for a connection.
        pool = ConnectionPool.from_url(
            url,
            max_connections=max_pipelines + 4,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
        )
        self._redis = Redis(connection_pool=pool)
        self._batcher = Batcher(self._redis, max_pipelines)
        self._keys: dict[str, tuple[bytes, bytes, bytes, bytes, bytes]] = {}
        self._limits: dict[Limits, bytes] = {}  # a key's limits as admit.lua reads them
        self._warned = -WARN_EVERY_SECONDS
        self._releasing: Releases | None = None  # the releases of this event-loop iteration, not yet sent
        self._sending: set[asyncio.Future[list[Any]]] = set()  # the release calls sent and not yet answered

    def keys_of(self, key: str) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        """The Redis keys of one limits key (encoded once): one hash tag, so a cluster keeps them in one slot."""
        found = self._keys.get(key)
        if found is None:
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            base = f"{self._prefix}{{{key}}}:".encode()
            found = self._keys[key] = (base + b"f", base + b"rm", base + b"tm", base + b"c", base + b"ip")
        return found

    async def admit(self, key: str, limits: Limits, ip: str | None = None, count: bool = True) -> Decision:
        if limits == UNLIMITED:
            return Decision(key, limits, int(time.time() * 1000))
        rpm, rph, rpd = limits.requests_per_minute, limits.requests_per_hour, limits.requests_per_day
        tpm, tpd = limits.tokens_per_minute, limits.tokens_per_day
        maxc, maxips = limits.max_concurrent, limits.max_ips
        lease = self.new_lease() if maxc is not None and count else ""
        encoded = self._limits.get(limits)
        if encoded is None:
            if len(self._limits) >= MAX_CACHED_KEYS:
                self._limits.clear()
            figures = (rpm, rph, rpd, tpm, tpd, maxc, maxips)
            encoded = self._limits[limits] = b"%d %d %d %d %d %d %d %d" % (*(f or 0 for f in figures), self.lease_ms)
        try:
            reply = await self._batcher.run(
                ADMIT, self.keys_of(key), (encoded, ip or b"", lease, self.time_shift_ms, b"1" if count else b"0")
            )
        except BACKEND_ERRORS as exc:
            return self._failed(key, limits, exc)
        r = [int(x) for x in reply.split()]
        decision = decide(key, limits, r[1], r[0], lease or None, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
        if decision.lease is not None:
            self.track(decision)
        elif not decision.admitted:
            LIMIT_REFUSALS.labels(decision.refused_by).inc()
        return decision

    def _failed(self, key: str, limits: Limits, exc: BaseException) -> Decision:
        LIMITS_BACKEND_ERRORS.labels("admit").inc()
        self._warn("admission", exc)
        if self.on_backend_error == "closed":
            raise LimitsUnavailable() from exc
        return Decision(key, limits, int(time.time() * 1000), unchecked=True)

    def _warn(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_SECONDS:
            self._warned = now
            mode = self.on_backend_error
            log.warning(
                "rate limits: Redis failed during %s (%s: %s); limits.on_backend_error = %r %s (this warning "
                "repeats at most once a minute, weir_limits_backend_errors_total counts every failure)",
                what,
                type(exc).__name__,
                exc,
                mode,
                "admits calls unchecked" if mode == "open" else "refuses calls with 503",
            )

    async def _release(self, key: str, limits: Limits, lease: str | None, tokens: int) -> None:
        """Joins the releases of the same key made in this event-loop iteration: one script call frees all their
        leases and records all their tokens. Returns once that call is answered, so a caller's next admission sees
        its release. A release while Redis is idle goes at once, alone (one call at a time: nothing to join)."""
        batch = self._releasing
        if batch is None and self._batcher.idle:
            try:
                await self._batcher.run(RELEASE, *self._release_call(key, limits, [lease] if lease else [], tokens))
            except BACKEND_ERRORS as exc:  # the lease then expires by itself within lease_seconds
                self._release_failed(exc)
            return
        if batch is None:
            batch = self._releasing = Releases()
            asyncio.get_running_loop().call_soon(self._send_releases, batch)
        await batch.add(key, limits, lease, tokens)

    def _send_releases(self, batch: Releases) -> None:
        self._releasing = None
        futures = [
            self._batcher.submit(RELEASE, *self._release_call(key, limits, leases, tokens))
            for key, (limits, leases, tokens) in batch.by_key.items()
        ]
        sent = asyncio.gather(*futures, return_exceptions=True)
        self._sending.add(sent)
        sent.add_done_callback(lambda _: self._released(sent, batch))

    def _released(self, sent: asyncio.Future[list[Any]], batch: Releases) -> None:
        self._sending.discard(sent)
        for result in () if sent.cancelled() else sent.result():
            if isinstance(result, BACKEND_ERRORS):  # its leases then expire by themselves within lease_seconds
                self._release_failed(result)
            elif isinstance(result, BaseException):
                log.error("rate limits: a release failed", exc_info=result)
        batch.answered()

    def _release_call(
        self, key: str, limits: Limits, leases: list[str], tokens: int
    ) -> tuple[tuple[bytes, ...], tuple[Any, ...]]:
        """release.lua's keys and arguments."""
        f, _, tm, c, ip = self.keys_of(key)
        args = (
            " ".join(leases),
            tokens,
            "1" if limits.tokens_per_minute is not None else "0",
            "1" if limits.tokens_per_day is not None else "0",
            self.time_shift_ms,
        )
        return (f, tm, c, ip), args

    def _release_failed(self, exc: BaseException) -> None:
        LIMITS_BACKEND_ERRORS.labels("release").inc()
        self._warn("a release", exc)

    async def record_tokens(self, key: str, limits: Limits, tokens: int) -> None:
        if tokens > 0 and has_token_limits(limits):
            await self._release(key, limits, None, tokens)

    async def _renew(self, leases: list[tuple[str, str]]) -> None:
        futures = [
            self._batcher.run(RENEW, (self.keys_of(key)[3],), (lease, self.lease_ms, self.time_shift_ms))
            for key, lease in leases
        ]
        for result in await asyncio.gather(*futures, return_exceptions=True):
            if isinstance(result, BaseException):
                LIMITS_BACKEND_ERRORS.labels("renew").inc()
                self._warn("a lease renewal", result)
                break

    async def health(self) -> str:
        try:
            await asyncio.wait_for(self._redis.ping(), self._timeout * 2)
        except BACKEND_ERRORS:
            return "down"
        return "ok"

    async def close(self) -> None:
        await super().close()
        while self._releasing is not None or self._sending:  # the releases of the last calls go first
            await asyncio.sleep(0)
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
        await self._batcher.drain()
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()
