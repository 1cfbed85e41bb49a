"""Attempt: the one upstream exchange. A call's candidate routes are tried in turn until one gives a good answer,
which is handed to that attempt's relay; nothing has reached the client before that, so failing over is safe.

A good answer is a 2xx whose first body chunk arrived (a stream) or whose whole body arrived and reads as the
dialect's answer (a unary call). The call fails over to the next candidate on: a connection refused or reset, a
timeout before the first byte, HTTP 429, 500, 502, 503, 504 or 529, an upstream 401/403 (the provider's key is
bad: retired), and a 2xx the relay cannot read. Any other status is the request's own fault and is the answer.
Bounded: at most `routing.max_attempts` attempts, and retries come out of the model's retry budget. Each attempt
builds its own leg, so two routes of one model may speak different dialects: the relay (byte passthrough or
translation) is chosen per attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import aiohttp
from starlette.types import Send

from weir.errors import (
    ClientGone,
    GatewayError,
    NoChannelAvailable,
    UpstreamAuthFailed,
    UpstreamStreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from weir.pipeline.call import Call
from weir.pipeline.route import Route
from weir.upstreams.health import OWN_KEY_INDEX, Key
from weir.upstreams.scrub import scrub
from weir.upstreams.transport import TRANSPORT_ERRORS, RequestBody, UpstreamResponse

FAILOVER_STATUSES = frozenset((401, 403, 429, 500, 502, 503, 504, 529))
DEFAULT_COOLDOWN_SECONDS = 60.0  # a key answered 429 without a usable retry-after
MAX_ERROR_BODY = 64 * 1024  # of an upstream error answer: enough for any real error, bounded for a hostile one


class Outgoing:
    __slots__ = ("body", "headers", "replayable", "url")

    def __init__(self, url: str, body: RequestBody, headers: dict[str, str], replayable: bool = True) -> None:
        self.url = url
        self.body = body
        self.headers = headers
        self.replayable = replayable  # False: the body is a one-time stream (an upload), never sent twice


class Opened:
    """A good upstream answer, ready for its relay: the response, and its whole body (unary) or its first chunk
    and the iterator of the rest (stream). `response` is None for a leg answered without an upstream call."""

    __slots__ = ("body", "chunks", "first", "key", "response", "route")

    def __init__(
        self,
        route: Route,
        key: Key,
        response: UpstreamResponse | None,
        body: bytes = b"",
        first: bytes = b"",
        chunks: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.route = route
        self.key = key
        self.response = response
        self.body = body
        self.first = first
        self.chunks = chunks


class Leg(Protocol):
    """One attempt's way of talking to one route: what it sends, and what it does with a good answer."""

    stream: bool  # whether the answer is relayed as it arrives (the first chunk commits the attempt)
    local: bool  # answered without an upstream call (a local token count): the loop stops at it
    out: Outgoing  # what the attempt sends

    def accept(self, status: int, body: bytes) -> None:
        """A unary 2xx body: read it for the relay; raise GatewayError when it is not a valid answer (the call
        then fails over)."""
        ...

    async def relay(self, opened: Opened, send: Send) -> None:
        """Send the answer to the client (setting the call's status and usage); never raises GatewayError once
        the response has started."""
        ...


# (route, provider key) -> the leg for that attempt. Raises GatewayError when the request cannot be sent to that
# route at all (a translation it cannot carry): that is the request's fault, and the loop stops.
MakeLeg = Callable[[Route, Key], Leg]


class Failed(Exception):
    """One attempt failed in a way the next candidate may not: `error` is what the client would be told."""

    def __init__(self, error: GatewayError, cause: str, failover: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.cause = cause
        self.failover = failover


async def open_first(
    call: Call,
    routes: list[Route],
    make_leg: MakeLeg,
    max_attempts: int,
    preferred_key: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Leg, Opened]:
    """Try `routes` in order; the first good answer and its leg. Raises the last failure's GatewayError when
    every attempt failed (or the request's own fault at once), NoChannelAvailable when no route could be tried.
    `call.route` is the route of the last attempt; `call.attempts` counts them."""
    budget = call.model.budget
    if len(call.model.routes) > 1:  # a model with one route never retries: nothing to budget
        budget.call(clock())
    last: Failed | None = None
    previous: Route | None = None
    for route in routes:
        if call.attempts >= max_attempts:
            break
        now = clock()
        upstream = route.upstream
        if upstream.paused is not None or route.held_until > now:
            continue
        own = call.byok.get(upstream.name) if call.byok else None  # the account's own key for this provider
        key = own if own is not None else upstream.keys.pick(now, preferred_key if call.attempts == 0 else None)
        if key is None:
            continue
        if call.attempts and not budget.try_retry(now):
            route.metrics.budget_exhausted += 1
            break
        breaker = route.breaker
        if not breaker.calm and not breaker.acquire(now):
            continue
        try:
            leg = make_leg(route, key)
            out = leg.out
        except BaseException:
            route.breaker.release()
            raise
        if previous is not None:
            previous.metrics.failovers += 1
        call.attempts += 1
        call.route = route
        call.byok_used = own is not None
        previous = route
        metrics = route.metrics
        metrics.attempts += 1
        metrics.in_flight.n += 1  # taken back below when the attempt fails, by the exchange after a good one's relay
        if leg.local:
            breaker.release()
            return leg, Opened(route, key, None)
        # The attempt is written out here, not in a coroutine of its own: every frame in the chain of awaits is
        # walked again each time the call resumes, and an upstream call suspends a dozen times.
        timeout = upstream.config.first_byte_timeout_seconds
        response: UpstreamResponse | None = None
        try:
            try:
                if timeout is None:
                    response = await upstream.transport.post(out.url, out.body, out.headers, leg.stream)
                    if leg.stream or not 200 <= response.status < 300:
                        opened = await _first(route, key, leg, response)
                    else:  # the common case, without a frame of its own
                        body = await response.read()
                        response.release()
                        opened = _accepted(route, key, leg, response, body)
                else:
                    async with asyncio.timeout(timeout):
                        response = await upstream.transport.post(out.url, out.body, out.headers, leg.stream)
                        opened = await _first(route, key, leg, response)
            except TRANSPORT_ERRORS as exc:
                raise _transport_failed(exc, route, timeout, clock) from None
            except Failed as failed:
                _observe(route, key, failed, response, clock())
                raise
        except Failed as failed:
            metrics.in_flight.n -= 1
            if response is not None:
                response.close()
            if failed.cause != "request":
                metrics.failure(failed.cause)
            if not failed.failover:
                raise failed.error from None
            last = failed
            if not out.replayable:
                break
            continue
        except BaseException:  # cancelled (the client left, the call's time was up) or a bug: no verdict on the route
            metrics.in_flight.n -= 1
            if response is not None:
                response.close()
            breaker.release()
            raise
        if not breaker.calm:
            breaker.success()
        return leg, opened
    if last is not None:
        raise last.error
    raise NoChannelAvailable(f"no available channel for model {call.model.id}")


def _transport_failed(
    exc: BaseException, route: Route, timeout: float | None, clock: Callable[[], float]
) -> BaseException:
    """What a transport failure of an attempt means: the request body's own stream failing (an upload the client
    broke off) is the client's doing; anything else counts against the route and may fail over."""
    own = exc.__cause__
    if isinstance(own, ClientGone):
        route.breaker.release()
        return own
    if isinstance(own, GatewayError):
        route.breaker.release()
        return Failed(own, "request", failover=False)
    route.breaker.failure(clock())
    return Failed(*_transport_failure(exc, route.upstream.name, timeout))


async def _first(route: Route, key: Key, leg: Leg, response: UpstreamResponse) -> Opened:
    """Read as far as the answer must be read before it is known to be good."""
    status = response.status
    if not 200 <= status < 300:
        raise _status_failure(route, status, await read_capped(response, MAX_ERROR_BODY))
    if leg.stream:
        chunks = response.content.iter_any().__aiter__()
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            raise Failed(UpstreamUnreachable(_said(route, "ended its answer before the first byte")), "empty") from None
        return Opened(route, key, response, b"", first, chunks)
    body = await response.read()
    response.release()
    return _accepted(route, key, leg, response, body)


def _accepted(route: Route, key: Key, leg: Leg, response: UpstreamResponse, body: bytes) -> Opened:
    """A unary 2xx answer, read by the leg (which raises when it is not a valid answer: that fails over)."""
    try:
        leg.accept(response.status, body)
    except GatewayError as err:
        err.message = scrub(err.message, route.upstream.config.api_keys)
        raise Failed(err, "invalid_response") from None
    return Opened(route, key, response, body)


def _status_failure(route: Route, status: int, body: bytes) -> Failed:
    upstream = route.upstream
    err = upstream.wire.from_upstream(status, body)
    err.message = scrub(err.message, upstream.config.api_keys)
    if status in (401, 403):
        auth = UpstreamAuthFailed(
            f"The provider {upstream.name!r} refused the gateway's own key for it (HTTP {status}); your key is "
            "fine. The operator has been told; try again later."
        )
        return Failed(auth, "auth")
    if status in FAILOVER_STATUSES:
        return Failed(err, "status_429" if status == 429 else "status_5xx")
    return Failed(err, "status_4xx", failover=False)


def _observe(route: Route, key: Key, failed: Failed, response: UpstreamResponse | None, now: float) -> None:
    """What a failed attempt says about the route and the key."""
    upstream = route.upstream
    wait = retry_after(response.headers.get("retry-after")) if response is not None else None
    if failed.cause in ("auth", "status_429") and key.index == OWN_KEY_INDEX:
        route.breaker.release()  # the account's own key: its failures say nothing of the provider's keys
    elif failed.cause == "auth":
        upstream.keys.retire(key)
        route.breaker.release()
    elif failed.cause == "status_429":
        upstream.keys.cool(key, wait if wait is not None else DEFAULT_COOLDOWN_SECONDS, now)
        route.breaker.release()
    elif failed.cause in ("status_5xx", "empty", "invalid_response"):
        route.breaker.failure(now)
        if wait is not None:
            route.held_until = max(route.held_until, now + wait)
    else:  # the request's own fault: the route answered, so it is healthy
        route.breaker.success()


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds only; an HTTP date is ignored), bounded to an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), 3600.0) if seconds == seconds else None


def _said(route: Route, what: str) -> str:
    return f"The upstream provider {route.upstream.name!r} {what}."


def _transport_failure(exc: BaseException, provider: str, first_byte: float | None) -> tuple[GatewayError, str]:
    """A transport failure as (what the client is told, the metric's cause), saying what happened."""
    name = repr(provider)
    if isinstance(exc, TimeoutError):
        within = f" within {first_byte:g} s" if first_byte is not None else " in time"
        return UpstreamTimeout(f"The upstream provider {name} did not answer{within}."), "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        reason = (os_error.strerror or str(os_error)) if os_error is not None else "connection failed"
        return UpstreamUnreachable(f"The upstream provider {name} could not be reached ({reason.lower()})."), "connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError):
        return (
            UpstreamUnreachable(f"The upstream provider {name} closed the connection before it answered."),
            "disconnect",
        )
    return UpstreamUnreachable(f"The upstream provider {name} failed: {type(exc).__name__}."), "connect"


def classify(exc: BaseException, provider: str) -> GatewayError:
    """A transport failure after the answer began (mid-stream, or reading a unary body)."""
    return _transport_failure(exc, provider, None)[0]


def timed_out(call: Call) -> GatewayError:
    """The call ran past its provider's time limit (pipeline/watch.py ended it): 504."""
    config = call.route.upstream.config
    name = call.route.upstream.name
    if call.stream:
        return UpstreamTimeout(
            f"The stream was ended after {config.max_stream_seconds:g} s, the longest a stream from the provider "
            f"{name!r} may run (its max_stream_seconds)."
        )
    return UpstreamTimeout(
        f"The upstream provider {name!r} did not answer within {config.request_timeout_seconds:g} s "
        "(its request_timeout_seconds)."
    )


def broken_stream(exc: BaseException, call: Call) -> GatewayError:
    """What ended a stream that had begun: its time limit, a silence longer than the provider's
    `read_timeout_seconds`, or the transport failing (504, 504, 502)."""
    if call.expired:
        return timed_out(call)
    config = call.route.upstream.config
    name = call.route.upstream.name
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"The upstream provider {name!r} sent nothing for {config.read_timeout_seconds:g} s.")
    cause = classify(exc, name)
    return UpstreamStreamError(f"The upstream stream failed: {cause.message}", code=cause.code)


async def read_capped(response: UpstreamResponse, cap: int) -> bytes:
    """At most `cap` bytes of a body (an error answer): the rest is not read, and the connection is dropped."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.content.iter_any():
            parts.append(chunk)
            size += len(chunk)
            if size >= cap:
                break
    except TRANSPORT_ERRORS:
        pass
    return b"".join(parts)[:cap]
