"""A call whose upstream speaks another dialect than the client: client request -> canonical -> upstream request,
and upstream response or stream -> canonical -> client response or stream. Errors reach the client in its dialect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec
from starlette.types import Receive, Send

from weir._native import SseFramer, count_tokens_many
from weir.canonical.request import Request
from weir.canonical.stream import Failure, Start, StreamEvent, TextDelta, ThinkingDelta, ToolInputDelta, UsageUpdate
from weir.canonical.usage import Usage
from weir.dialects.base import Egress, Reply, Target
from weir.dialects.registry import Dialect
from weir.errors import GatewayError
from weir.gateway import Gateway
from weir.http.asgi import send_whole, until_disconnect
from weir.http.replies import CLIENT_CLOSED, SSE_HEADERS, base_headers, cost_headers
from weir.pipeline.call import Call
from weir.pipeline.custom_tools import StreamRestorer, custom_names, restore
from weir.pipeline.forward import classify, open_upstream
from weir.upstreams.transport import TRANSPORT_ERRORS

# Called with the client-facing final response object (JSON) once a call succeeded, before the client gets the
# end of it: the Responses endpoint stores the conversation there (so a `previous_response_id` right after works).
Finished = Callable[[bytes], Awaitable[None]]


async def relay(
    gw: Gateway,
    call: Call,
    to_canonical: Callable[[], Request],
    wants_usage: bool,
    client: Dialect,
    receive: Receive,
    send: Send,
    finished: Finished | None = None,
) -> None:
    upstream = call.target.upstream
    try:
        request = to_canonical()
        target = Target(model=call.target.upstream_model, default_max_tokens=call.model.max_tokens, stream=call.stream)
        egress: Egress = upstream.wire.request.from_canonical(request, target)
    except GatewayError as err:
        call.status = err.status
        await _refuse(client, send, err, call.request_id)
        return
    leg = _Leg(egress, custom_names(request), wants_usage, finished)
    if call.stream:
        await _stream(gw, call, leg, client, receive, send)
    else:
        await _unary(gw, call, leg, client, send)


class _Leg:
    """What the upstream call carries, and what to do with its answer besides converting it."""

    __slots__ = ("customs", "egress", "finished", "wants_usage")

    def __init__(self, egress: Egress, customs: frozenset[str], wants_usage: bool, finished: Finished | None):
        self.egress = egress
        self.customs = customs  # the request's custom tools, whose calls come back as function calls
        self.wants_usage = wants_usage
        self.finished = finished


async def _refuse(client: Dialect, send: Send, err: GatewayError, rid: str) -> None:
    await send_whole(send, err.status, client.render(err, rid), client.headers(err, rid))


def _dropped(egress: Egress) -> list[tuple[bytes, bytes]]:
    """What the translation could not carry is reported, never silently lost."""
    return [(b"x-weir-dropped", ",".join(egress.dropped).encode())] if egress.dropped else []


async def _unary(gw: Gateway, call: Call, leg: _Leg, client: Dialect, send: Send) -> None:
    egress = leg.egress
    upstream = call.target.upstream
    upstream_dialect = upstream.wire
    metrics = call.target.metrics
    metrics.in_flight.n += 1
    try:
        response = await open_upstream(
            upstream, call.target.url(call.stream), egress.body, upstream.headers(call.request_id)
        )
        call.first_byte()
        try:
            body = await response.read()
        except TRANSPORT_ERRORS as exc:
            raise classify(exc, upstream.name) from exc
        finally:
            response.release()
        if response.status >= 300:
            raise upstream_dialect.from_upstream(response.status, body)
        canonical = upstream_dialect.response.to_canonical(body)
        canonical.content = restore(canonical.content, leg.customs)
    except GatewayError as err:
        call.status = err.status
        await call.settle(gw.settler)
        await _refuse(client, send, err, call.request_id)
        return
    finally:
        metrics.in_flight.n -= 1
    call.status = 200
    call.usage = canonical.usage
    cost = await call.settle(gw.settler)
    out = client.response.from_canonical(canonical, Reply(model=call.requested_model, cost_microcents=cost))
    if leg.finished is not None:
        await leg.finished(out)
    headers = base_headers(call, b"application/json") + cost_headers(call.usage, cost) + _dropped(egress)
    await send_whole(send, 200, out, headers)


async def _stream(gw: Gateway, call: Call, leg: _Leg, client: Dialect, receive: Receive, send: Send) -> None:
    metrics = call.target.metrics
    metrics.in_flight.n += 1
    try:
        if await until_disconnect(_pump(gw, call, leg, client, send), receive):
            call.status = CLIENT_CLOSED
    finally:
        metrics.in_flight.n -= 1
        await call.settle(gw.settler)


class _Tally:
    """The usage the upstream reported, and the text it sent, to count locally when it reported none."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.texts: list[str] = []

    def observe(self, ev: StreamEvent) -> None:
        if isinstance(ev, UsageUpdate):
            self.usage = ev.usage
        elif isinstance(ev, Start) and ev.usage is not None and self.usage is None:
            self.usage = ev.usage
        elif isinstance(ev, TextDelta | ThinkingDelta):
            self.texts.append(ev.text)
        elif isinstance(ev, ToolInputDelta):
            self.texts.append(ev.partial_json)

    def final(self, encoding: str) -> Usage:
        usage = self.usage or Usage()
        if usage.output == 0 and self.texts:  # the upstream sent output but no count: count it here
            output = count_tokens_many(self.texts, encoding)
            usage = Usage(usage.input, usage.cached, output, usage.reasoning, usage.cache_write)
        return usage


async def _pump(gw: Gateway, call: Call, leg: _Leg, client: Dialect, send: Send) -> None:
    egress = leg.egress
    upstream = call.target.upstream
    try:
        response = await open_upstream(
            upstream, call.target.url(call.stream), egress.body, upstream.headers(call.request_id)
        )
    except GatewayError as err:
        call.status = err.status
        await _refuse(client, send, err, call.request_id)
        return
    clean = False
    try:
        if response.status != 200:
            call.first_byte()
            failure = await _upstream_error(response, upstream.wire, upstream.name)
            clean = failure is not None
            problem = failure or classify(ConnectionError(), upstream.name)
            call.status = problem.status
            await _refuse(client, send, problem, call.request_id)
            return
        headers = base_headers(call, b"text/event-stream; charset=utf-8") + SSE_HEADERS + _dropped(egress)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        call.status = 200
        clean = await _relay_events(gw, call, response, leg, client, send)
    finally:
        if clean:
            response.release()
        else:
            response.close()


async def _upstream_error(response: aiohttp.ClientResponse, wire: Dialect, provider: str) -> GatewayError | None:
    """The upstream's error answer as a gateway error (re-rendered in the client's dialect); None if unreadable."""
    try:
        body = await response.read()
    except TRANSPORT_ERRORS:
        return None
    return wire.from_upstream(response.status, body)


async def _relay_events(
    gw: Gateway, call: Call, response: aiohttp.ClientResponse, leg: _Leg, client: Dialect, send: Send
) -> bool:
    """Upstream SSE -> canonical events -> client SSE. True when the upstream stream ended cleanly."""
    keepalive = _Keepalive(send, client.keepalive, gw.config.server.keepalive_seconds)
    try:
        return await _convert(gw, call, response, leg, client, keepalive)
    finally:
        keepalive.stop()


class _Keepalive:
    """Sends the client dialect's keepalive (`: keep-alive` comment, Anthropic `ping`) when nothing was sent for
    `server.keepalive_seconds`, so clients with idle timeouts (Claude Code, Codex) wait out a silent upstream.
    Only after the first event: an Anthropic client must see message_start first."""

    def __init__(self, send: Send, beat: bytes, seconds: float) -> None:
        self._send = send
        self._beat = beat
        self._seconds = seconds
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    async def send(self, body: bytes) -> None:
        self._last = time.monotonic()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})
        if self._task is None:
            self._task = asyncio.ensure_future(self._beats())

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self._seconds - (time.monotonic() - self._last))
            if time.monotonic() - self._last >= self._seconds:
                await self.send(self._beat)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def end(self, body: bytes) -> None:
        """The last bytes of the response; no keepalive after them."""
        self.stop()
        await self._send({"type": "http.response.body", "body": body})


async def _convert(
    gw: Gateway, call: Call, response: aiohttp.ClientResponse, leg: _Leg, client: Dialect, out: _Keepalive
) -> bool:
    send = out.send
    framer = SseFramer(gw.config.server.max_sse_line_bytes)
    reader = call.target.upstream.wire.reader()
    writer = client.writer(call.requested_model, leg.wants_usage)
    restorer = StreamRestorer(leg.customs) if leg.customs else None
    tally = _Tally()
    failed = False

    def write(ev: StreamEvent) -> bytes:
        nonlocal failed
        tally.observe(ev)
        if isinstance(ev, Failure):  # the writer renders it as the client dialect's error event and stops
            failed = True
            call.status = ev.status if ev.status >= 400 else 502
        return writer.feed(ev)

    def convert(frames: list[tuple[str | None, bytes]], events: list[StreamEvent] | None = None) -> bytes:
        buf = bytearray()
        canonical = [ev for event, data in frames for ev in reader.feed(event, data)]
        canonical.extend(events or ())
        if restorer is not None:
            canonical = [done for ev in canonical for done in restorer.feed(ev)]
        for ev in canonical:
            buf += write(ev)
        return bytes(buf)

    clean = True
    try:
        async for chunk in response.content.iter_any():
            call.first_byte()
            data = convert(framer.feed(chunk))
            if data:
                await send(data)
        tail = convert(framer.finish(), reader.finish())
    except (*TRANSPORT_ERRORS, ValueError) as exc:  # ValueError: an SSE line over the size cap
        clean = False
        if isinstance(exc, ValueError):
            message = f"The upstream sent a malformed stream: {exc}"
        else:
            message = f"The upstream stream failed: {classify(exc, call.target.upstream.name).message}"
        tail = b"" if failed else write(Failure(status=502, type="api_error", message=message))
    call.usage = tally.final(call.model.token_encoding)
    if not failed:
        tail += writer.finish(call.usage, call.cost())
        completed = getattr(writer, "completed", None)  # writers of dialects with a final response object
        if leg.finished is not None and completed is not None:
            await leg.finished(msgspec.json.encode(completed))
    await out.end(tail)
    return clean and not failed
