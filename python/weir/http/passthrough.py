"""Relaying a same-dialect call: the upstream's bytes go back as they arrive.

Non-streaming: the body is returned unchanged, with the cost in x-weir-* headers.
Streaming: upstream bytes are forwarded event by event; the Rust tap reads usage on the way and holds back the
event that carries the final usage and everything after it, which `Relay.usage_event` re-emits with the cost.
A stream that ends without its terminal event gets an error event: a truncated answer never looks complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from starlette.types import Receive, Send

from weir._native import StreamTap
from weir.canonical.usage import Usage
from weir.dialects.registry import Dialect
from weir.errors import GatewayError, UpstreamStreamError
from weir.gateway import Gateway
from weir.http.asgi import send_whole, until_disconnect
from weir.http.replies import CLIENT_CLOSED, SSE_HEADERS, base_headers, cost_headers
from weir.pipeline.call import Call
from weir.pipeline.forward import classify, open_upstream
from weir.upstreams.transport import TRANSPORT_ERRORS

UsageOf = Callable[[bytes], tuple[int, int, int, int, int] | None]
# (withheld usage event's data, the call's cost, whether the client asked for usage) -> bytes to send instead
UsageEvent = Callable[[bytes, int, bool], bytes]
# Called once a call succeeded, before the client gets the end of it, with the upstream's answer: the whole body
# of a unary call, the withheld usage event's data of a stream.
Finished = Callable[[bytes], Awaitable[None]]


class Relay:
    def __init__(self, gateway: Gateway, dialect: Dialect, tap: str, usage_of: UsageOf, usage_event: UsageEvent):
        self.gateway = gateway
        self.dialect = dialect
        self.tap = tap
        self.usage_of = usage_of
        self.usage_event = usage_event

    async def refuse(self, send: Send, err: GatewayError, rid: str) -> None:
        await send_whole(send, err.status, self.dialect.render(err, rid), self.dialect.headers(err, rid))

    async def unary(
        self, call: Call, body: bytes, headers: dict[str, str], send: Send, finished: Finished | None = None
    ) -> None:
        upstream = call.target.upstream
        metrics = call.target.metrics
        metrics.in_flight.n += 1
        try:
            response = await open_upstream(upstream, call.target.url(call.stream), body, headers)
            call.first_byte()
            try:
                answer = await response.read()
            except TRANSPORT_ERRORS as exc:
                raise classify(exc, upstream.name) from exc
            finally:
                response.release()
        except GatewayError as err:
            call.status = err.status
            await call.settle(self.gateway.settler)
            await self.refuse(send, err, call.request_id)
            return
        finally:
            metrics.in_flight.n -= 1
        call.status = response.status
        if 200 <= response.status < 300:
            call.usage = Usage.from_tuple(self.usage_of(answer))
            if finished is not None:
                await finished(answer)
        cost = await call.settle(self.gateway.settler)
        content_type = response.headers.get("Content-Type", "application/json").encode()
        await send_whole(send, call.status, answer, base_headers(call, content_type) + cost_headers(call.usage, cost))

    async def stream(
        self,
        call: Call,
        body: bytes,
        headers: dict[str, str],
        wants_usage: bool,
        receive: Receive,
        send: Send,
        finished: Finished | None = None,
    ) -> None:
        metrics = call.target.metrics
        metrics.in_flight.n += 1
        try:
            if await until_disconnect(self._pump(call, body, headers, wants_usage, send, finished), receive):
                call.status = CLIENT_CLOSED
        finally:
            metrics.in_flight.n -= 1
            await call.settle(self.gateway.settler)

    async def _pump(
        self,
        call: Call,
        body: bytes,
        headers: dict[str, str],
        wants_usage: bool,
        send: Send,
        finished: Finished | None,
    ) -> None:
        upstream = call.target.upstream
        try:
            response = await open_upstream(upstream, call.target.url(call.stream), body, headers)
        except GatewayError as err:
            call.status = err.status
            await self.refuse(send, err, call.request_id)
            return
        completed = False
        try:
            call.status = response.status
            if response.status != 200:  # an upstream error before the stream began: pass it through
                completed = await self._pass_error(call, response, send)
                return
            content_type = response.headers.get("Content-Type", "text/event-stream").encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": base_headers(call, content_type) + SSE_HEADERS,
                }
            )
            tap = StreamTap(self.tap, self.gateway.config.server.max_sse_line_bytes)
            try:
                failure = await self._relay(call, response, tap, send)
            finally:
                call.usage = Usage.from_tuple(tap.usage)
            if failure is None and not tap.complete:
                failure = UpstreamStreamError("The upstream ended the stream before it was complete.")
            tail = b""
            usage_data = tap.usage_data
            if usage_data is not None:
                tail = self.usage_event(usage_data, call.cost(), wants_usage)
            tail += tap.tail
            if failure is not None:  # never let a truncated answer look complete
                call.status = failure.status
                tail += self.dialect.stream_error(failure)
            elif finished is not None and usage_data is not None:
                await finished(usage_data)
            await send({"type": "http.response.body", "body": tail})
            completed = failure is None
        finally:
            if completed:
                response.release()  # the connection goes back to the pool
            else:
                response.close()  # cancelled or broken: drop the connection and stop the upstream

    async def _pass_error(self, call: Call, response: aiohttp.ClientResponse, send: Send) -> bool:
        """Relay an upstream 4xx/5xx answer with its body; False when even that body could not be read."""
        try:
            answer = await response.read()
        except TRANSPORT_ERRORS as exc:
            err = classify(exc, call.target.upstream.name)
            call.status = err.status
            await self.refuse(send, err, call.request_id)
            return False
        call.first_byte()
        content_type = response.headers.get("Content-Type", "application/json").encode()
        await send_whole(send, response.status, answer, base_headers(call, content_type))
        return True

    async def _relay(
        self, call: Call, response: aiohttp.ClientResponse, tap: StreamTap, send: Send
    ) -> GatewayError | None:
        """Forward until the upstream ends; return the failure that cut it short, if any."""
        try:
            async for chunk in response.content.iter_any():
                call.first_byte()
                out = tap.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            out = tap.finish()
        except TRANSPORT_ERRORS as exc:
            cause = classify(exc, call.target.upstream.name)
            return UpstreamStreamError(f"The upstream stream failed: {cause.message}", code=cause.code)
        except ValueError as exc:  # the tap refused the stream (a line over the size cap)
            return UpstreamStreamError(f"The upstream sent a malformed stream: {exc}")
        if out:
            await send({"type": "http.response.body", "body": out, "more_body": True})
        return None
