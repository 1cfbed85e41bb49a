"""Relaying a call whose upstream speaks another dialect than the client: client request -> canonical -> upstream
request, and upstream response or stream -> canonical -> client response or stream. Errors reach the client in
its dialect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
from starlette.types import Send

from weir._native import SseFramer, count_tokens_many
from weir.canonical.request import Request
from weir.canonical.response import Response
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Failure,
    Finish,
    Start,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.anthropic_messages import stream as anthropic_stream
from weir.dialects.base import Egress, Reply, Target
from weir.dialects.registry import ANTHROPIC_MESSAGES, Dialect
from weir.errors import ClientGone, GatewayError, UpstreamStreamError
from weir.pipeline.attempt import Opened, Outgoing, broken_stream, timed_out
from weir.pipeline.call import Call
from weir.pipeline.custom_tools import StreamRestorer, custom_names, restore
from weir.pipeline.inbound import Finished
from weir.pipeline.relay.count import local_count
from weir.pipeline.relay.keepalive import Keepalive
from weir.pipeline.reply import SSE_HEADERS, Headers, base_headers, cost_headers, send_whole
from weir.pipeline.route import Route
from weir.upstreams.health import Key
from weir.upstreams.transport import TRANSPORT_ERRORS


class TranslateLeg:
    __slots__ = (
        "_estimate",
        "_keepalive_seconds",
        "_max_line",
        "answer",
        "call",
        "client",
        "customs",
        "egress",
        "finished",
        "out",
        "request",
        "stream",
        "wants_usage",
        "wire",
    )

    local = False

    def __init__(
        self,
        call: Call,
        route: Route,
        key: Key,
        request: Request,
        client: Dialect,
        *,
        wants_usage: bool,
        finished: Finished | None,
        max_line_bytes: int,
        keepalive_seconds: float,
    ) -> None:
        upstream = route.upstream
        self.wire = upstream.wire
        target = Target(model=route.upstream_model, default_max_tokens=call.model.max_tokens, stream=call.stream)
        self.egress: Egress = self.wire.request.from_canonical(request, target)
        self.out = Outgoing(route.url(call.stream), self.egress.body, upstream.headers(call.request_id, key))
        self.customs = custom_names(request)  # the request's custom tools, whose calls come back as function calls
        self.request = request  # counted locally when the upstream says nothing of its input (cap, hang-ups)
        self.call = call
        self.client = client
        self.stream = call.stream
        self.wants_usage = wants_usage
        self.finished = finished
        self.answer: Response | None = None
        self._max_line = max_line_bytes
        self._keepalive_seconds = keepalive_seconds
        # Anthropic clients read message_start's input_tokens (Claude Code's context gauge); most other upstreams
        # count only at the end, so Weir counts the request itself, in a thread, while the upstream works.
        self._estimate: asyncio.Future[int] | None = None
        if call.stream and client is ANTHROPIC_MESSAGES and upstream.wire is not ANTHROPIC_MESSAGES:
            self._estimate = asyncio.ensure_future(estimate_input(request, call.model.token_encoding))

    def accept(self, status: int, body: bytes) -> None:
        canonical = self.wire.response.to_canonical(body)  # raises GatewayError (502) on an unreadable answer
        canonical.content = restore(canonical.content, self.customs)
        self.answer = canonical

    def _dropped(self) -> Headers:
        """What the translation could not carry is reported, never silently lost."""
        dropped = self.egress.dropped
        return [(b"x-weir-dropped", ",".join(dropped).encode())] if dropped else []

    async def relay(self, opened: Opened, send: Send) -> None:
        if self.stream:
            await self._stream(opened, send)
        else:
            await self._unary(send)

    async def _unary(self, send: Send) -> None:
        call, canonical = self.call, self.answer
        assert canonical is not None
        call.status = 200
        call.usage = canonical.usage
        cost = call.cost()
        out = self.client.response.from_canonical(canonical, Reply(model=call.requested_model, cost_microcents=cost))
        if self.finished is not None:
            await self.finished(out, False)
        headers = base_headers(call.request_id, b"application/json", call.limit_headers)
        await send_whole(send, 200, out, headers + cost_headers(call.usage, cost) + self._dropped())

    async def _stream(self, opened: Opened, send: Send) -> None:
        response = opened.response
        assert response is not None
        clean = False
        try:
            headers = (
                base_headers(self.call.request_id, b"text/event-stream; charset=utf-8", self.call.limit_headers)
                + SSE_HEADERS
            )
            self.call.answering = True
            await send({"type": "http.response.start", "status": 200, "headers": headers + self._dropped()})
            self.call.status = 200
            keepalive = Keepalive(send, self.client.keepalive, self._keepalive_seconds)
            try:
                clean = await self._convert(opened, keepalive)
            finally:
                keepalive.stop()
        finally:
            if clean:
                response.release()
            else:
                response.close()

    async def _convert(self, opened: Opened, out: Keepalive) -> bool:
        """Upstream SSE -> canonical events -> client SSE. True when the upstream stream ended cleanly."""
        call = self.call
        assert opened.chunks is not None
        framer = SseFramer(self._max_line)
        reader = self.wire.reader()
        writer = self.client.writer(call.requested_model, self.wants_usage)
        if self._estimate is not None and isinstance(writer, anthropic_stream.FromCanonical):
            writer.input_estimate = await self._estimate
        restorer = StreamRestorer(self.customs) if self.customs else None
        tally = _Tally()
        failed = False
        limit = call.max_price if call.max_price is not None else call.principal.max_price
        cap = None if limit is None else _Cap(call, limit, lambda: local_count(self.request, call.model.token_encoding))

        def write(ev: StreamEvent) -> bytes:
            nonlocal failed
            if cap is not None:
                cap.check(ev, tally)  # raises _Capped before the event that would pass the call's price cap
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
        capped = False
        try:
            data = convert(framer.feed(opened.first))
            if data:
                await out.send(data)
            async for chunk in opened.chunks:
                data = convert(framer.feed(chunk))
                if data:
                    await out.send(data)
            tail = convert(framer.finish(), reader.finish())
        except _Capped:  # the stream ends here, as when its output budget runs out; the upstream is closed
            assert cap is not None
            clean, capped = False, True
            tail = b"".join(writer.feed(ev) for ev in cap.ending())
        except (asyncio.CancelledError, ClientGone):  # the client left: bill what it was sent
            call.usage = tally.left_early(call.model.token_encoding, self._local_input)
            call.usage_estimated = call.usage != tally.usage
            raise
        except (*TRANSPORT_ERRORS, ValueError) as exc:  # ValueError: an SSE line over the size cap
            clean = False
            broken: GatewayError
            if isinstance(exc, ValueError):
                broken = UpstreamStreamError(f"The upstream sent a malformed stream: {exc}")
            else:
                broken = broken_stream(exc, call)
            kind = "timeout_error" if broken.status == 504 else "api_error"
            tail = b"" if failed else write(Failure(status=broken.status, type=kind, message=broken.message))
        if call.expired and not failed:  # its time limit closed the upstream (pipeline/watch.py)
            late = timed_out(call)
            tail += write(Failure(status=late.status, type="timeout_error", message=late.message))
            clean = False
        if capped:
            assert cap is not None
            call.usage = cap.usage(tally)
            call.usage_estimated = True
        else:
            call.usage = tally.final(call.model.token_encoding)
        if failed:
            call.waived = True  # the upstream broke off or failed the stream: recorded, not charged
        else:
            tail += writer.finish(call.usage, call.cost())
            completed = getattr(writer, "completed", None)  # writers of dialects with a final response object
            if self.finished is not None and completed is not None:
                await self.finished(msgspec.json.encode(completed), False)
        await out.end(tail)
        return clean and not failed

    def _local_input(self) -> int:
        return local_count(self.request, self.call.model.token_encoding)


ESTIMATE_EXACT_BYTES = 256 * 1024  # larger requests are estimated at 4 bytes a token instead of counted


async def estimate_input(request: Request, encoding: str) -> int:
    """The request's input tokens as Weir counts them locally (pipeline/relay/count.py), off the event loop; a
    very large request is estimated from its size instead, to bound the CPU a display value may take."""
    size = sum(len(t.text) for t in request.system) + sum(
        len(getattr(block, "text", "")) for message in request.messages for block in message.content
    )
    if size > ESTIMATE_EXACT_BYTES:
        return size // 4
    return await asyncio.to_thread(local_count, request, encoding)


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

    def left_early(self, encoding: str, input_tokens: Callable[[], int]) -> Usage:
        """The usage of a stream its client left: what the upstream had reported, the output counted from the text
        it was sent when more than that (Anthropic's message_start says 1), the input counted from the request when
        the upstream had said none."""
        usage = self.usage or Usage()
        output = max(usage.output, count_tokens_many(self.texts, encoding) if self.texts else 0)
        prompt = usage.input or input_tokens()
        if (output, prompt) == (usage.output, usage.input):
            return usage
        return Usage(prompt, usage.cached, output, usage.reasoning, usage.cache_write)


class _Capped(Exception):
    """The next event would take the call past its price cap."""


class _Cap:
    """A translated stream's running cost against its price cap: the input as the upstream reported it (else
    counted from the request, once), the output counted from each text event before it is written."""

    def __init__(self, call: Call, limit: int, request_tokens: Callable[[], int]) -> None:
        self._call = call
        self._limit = limit
        self._request_tokens = request_tokens
        self._counted_input: int | None = None
        self.output = 0
        self.open: int | None = None  # the content block being written

    def _input(self, tally: _Tally) -> Usage:
        seen = tally.usage
        if seen is not None and seen.input:
            return seen
        if self._counted_input is None:
            self._counted_input = self._request_tokens()
        return Usage(input=self._counted_input)

    def check(self, ev: StreamEvent, tally: _Tally) -> None:
        if isinstance(ev, BlockStart):
            self.open = ev.index
        elif isinstance(ev, BlockStop):
            self.open = None
        text = (
            ev.text
            if isinstance(ev, TextDelta | ThinkingDelta)
            else ev.partial_json
            if isinstance(ev, ToolInputDelta)
            else None
        )
        if not text:
            return
        output = self.output + count_tokens_many([text], self._call.model.token_encoding)
        seen = self._input(tally)
        if self._call.cost_of(Usage(seen.input, seen.cached, output, 0, seen.cache_write)) > self._limit:
            raise _Capped()
        self.output = output

    def ending(self) -> list[StreamEvent]:
        """What closes the stream in the canonical form: the open block, then a max_tokens finish."""
        stop: list[StreamEvent] = [] if self.open is None else [BlockStop(index=self.open)]
        return [*stop, Finish(stop_reason="max_tokens")]

    def usage(self, tally: _Tally) -> Usage:
        seen = self._input(tally)
        return Usage(seen.input, seen.cached, self.output, 0, seen.cache_write)
