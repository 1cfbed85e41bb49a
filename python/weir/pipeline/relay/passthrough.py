"""Relaying a same-dialect call: the upstream's bytes go back as they arrive.

Non-streaming: the body is returned unchanged, with the cost in x-weir-* headers.
Streaming: upstream bytes are forwarded event by event; the Rust tap reads usage on the way and holds back the
event that carries the final usage and everything after it, which the dialect's `usage_event` re-emits with the
cost. A stream that ends without its terminal event gets an error event: a truncated answer never looks complete.
"""

from __future__ import annotations

import orjson
from starlette.types import Send

from weir._native import StreamTap
from weir.canonical.usage import ZERO, Usage
from weir.dialects.registry import Dialect
from weir.errors import GatewayError, UpstreamInvalidResponse, UpstreamStreamError
from weir.pipeline.attempt import Opened, Outgoing, broken_stream, timed_out
from weir.pipeline.call import Call
from weir.pipeline.inbound import Finished, Parsed
from weir.pipeline.relay.cap import RunningCap
from weir.pipeline.relay.left_early import MAX_KEPT_CHUNKS, Sent, estimated
from weir.pipeline.reply import SSE_HEADERS, base_headers, cost_headers, send_whole
from weir.pipeline.route import Route
from weir.upstreams.health import Key
from weir.upstreams.transport import TRANSPORT_ERRORS


class PassthroughLeg:
    __slots__ = (
        "_max_line",
        "cap",
        "call",
        "client",
        "finished",
        "ids",
        "out",
        "raw",
        "sent",
        "stream",
        "usage",
        "wants_usage",
    )

    local = False

    def __init__(
        self,
        call: Call,
        route: Route,
        key: Key,
        parsed: Parsed,
        client: Dialect,
        finished: Finished | None,
        max_line_bytes: int,
    ) -> None:
        spec = client.passthrough
        body = spec.body(parsed.payload, parsed.raw, route.upstream_model, call.model.max_tokens, call.stream)
        anthropic = parsed.anthropic if spec.anthropic_headers else None
        self.out = Outgoing(route.url(call.stream), body, route.upstream.headers(call.request_id, key, anthropic))
        self.call = call
        self.client = client
        self.stream = call.stream
        self.wants_usage = parsed.wants_usage
        self.finished = finished
        self.usage = ZERO
        self.ids = spec.ids() if spec.ids is not None else None  # the answer's id made Weir's own (Responses)
        self._max_line = max_line_bytes
        self.raw = parsed.raw
        # what the client was sent, for a stream whose usage comes at its end (left_early.py)
        self.sent = Sent() if call.stream and spec.streamed_text is not None else None
        # the running cost of a capped stream (cap.py), for the dialects whose streams can be stopped at the cap
        limit = call.max_price if call.max_price is not None else call.principal.max_price
        self.cap = (
            RunningCap(call, client, parsed.raw, limit, max_line_bytes)
            if limit is not None and call.stream and spec.capped_end is not None
            else None
        )

    def accept(self, status: int, body: bytes) -> None:
        counts = self.client.passthrough.usage_of(body)
        if counts is None:
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError:
                raise UpstreamInvalidResponse(
                    f"The upstream answered HTTP {status} with a body that is not JSON ({len(body)} bytes)."
                ) from None
        self.usage = Usage.from_tuple(counts)

    async def relay(self, opened: Opened, send: Send) -> None:
        if self.stream:
            await self._stream(opened, send)
            return
        call = self.call
        response = opened.response
        assert response is not None
        call.status = response.status
        call.usage = self.usage
        cost = call.cost()
        body = opened.body if self.ids is None else self.ids.unary(opened.body)
        if self.finished is not None:
            await self.finished(body, False)
        content_type = response.headers.get("Content-Type", "application/json").encode("latin-1")
        headers = base_headers(call.request_id, content_type, call.limit_headers) + cost_headers(call.usage, cost)
        await send_whole(send, call.status, body, headers)

    async def _stream(self, opened: Opened, send: Send) -> None:
        call = self.call
        response = opened.response
        assert response is not None
        completed = False
        try:
            call.status = 200
            content_type = response.headers.get("Content-Type", "text/event-stream").encode("latin-1")
            start = base_headers(call.request_id, content_type, call.limit_headers) + SSE_HEADERS
            call.answering = True
            await send({"type": "http.response.start", "status": 200, "headers": start})
            tap = StreamTap(self.client.passthrough.tap, self._max_line)
            try:
                failure = await self._pipe(opened, tap, send)
                cap = self.cap
                if failure is None and cap is not None and cap.stopped:
                    await self._stop_at_cap(cap, send)
                    return  # the upstream is closed below: it would have gone on past the cap
            finally:
                call.usage = Usage.from_tuple(tap.usage)
                if self.cap is not None and self.cap.stopped:
                    call.usage = self.cap.usage()  # what the ending said, and what the record bills
                elif self.sent is not None and tap.usage_data is None and not tap.complete:
                    # the stream's usage never came (the client left, or the upstream broke off: then it is
                    # waived): bill what was sent
                    call.usage = estimated(
                        call.usage, self.sent, self.client, self.raw, call.model.token_encoding, self._max_line
                    )
                    call.usage_estimated = True
            if call.expired:  # its time limit closed the upstream (pipeline/watch.py)
                failure = timed_out(call)
            elif failure is None and not tap.complete:
                failure = UpstreamStreamError("The upstream ended the stream before it was complete.")
            if failure is not None:
                call.waived = True  # the upstream broke off: what came is recorded, and costs the client nothing
            ids = self.ids
            tail = b"" if ids is None else ids.flush(b"")  # what a stream cut short held back, if anything
            usage_data = tap.usage_data
            if usage_data is not None:
                if ids is not None:
                    usage_data = ids.apply(usage_data)
                tail += self.client.passthrough.usage_event(usage_data, call.cost(), self.wants_usage)
            tail += tap.tail if ids is None else ids.apply(tap.tail)
            if failure is not None:  # never let a truncated answer look complete
                call.status = failure.status
                tail += self.client.stream_error(failure)
            elif self.finished is not None and usage_data is not None:
                await self.finished(usage_data, True)
            await send({"type": "http.response.body", "body": tail})
            completed = failure is None
        finally:
            if completed:
                response.release()  # the connection goes back to the pool
            else:
                response.close()  # cancelled or broken: drop the connection and stop the upstream

    async def _stop_at_cap(self, cap: RunningCap, send: Send) -> None:
        """End a stream at its price cap: what was sent is billed (counted: usage_estimated), and the dialect ends
        the stream with its length stop reason."""
        call = self.call
        call.usage = cap.usage()
        call.usage_estimated = True
        call.status = 200
        end = self.client.passthrough.capped_end
        assert end is not None
        tail = end(cap.head, cap.last, call.usage, call.cost(), self.wants_usage, cap.open_block)
        await send({"type": "http.response.body", "body": tail})

    async def _pipe(self, opened: Opened, tap: StreamTap, send: Send) -> GatewayError | None:
        """Forward until the upstream ends; return the failure that cut it short, if any."""
        assert opened.chunks is not None
        ids = self.ids
        kept = self.sent.chunks if self.sent is not None else None  # what the client was sent (left_early.py)
        try:
            out = tap.feed(opened.first)
            if ids is not None:
                out = ids.stream(out)
            cap = self.cap
            if out:
                if cap is not None and cap.passes(out, tap.usage):
                    return None
                await send({"type": "http.response.body", "body": out, "more_body": True})
                if kept is not None:
                    kept.append(out)
            async for chunk in opened.chunks:
                out = tap.feed(chunk)
                if ids is not None:
                    out = ids.stream(out)
                if out:
                    if cap is not None and cap.passes(out, tap.usage):
                        return None  # the cap stopped it: _stream ends it
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                    if kept is not None and len(kept) < MAX_KEPT_CHUNKS:
                        kept.append(out)  # once the client has it
            out = tap.finish()
            if ids is not None:
                out = ids.flush(out)
        except TRANSPORT_ERRORS as exc:
            return broken_stream(exc, self.call)
        except ValueError as exc:  # the tap refused the stream (a line over the size cap)
            return UpstreamStreamError(f"The upstream sent a malformed stream: {exc}")
        if out:
            await send({"type": "http.response.body", "body": out, "more_body": True})
        return None
