"""POST /v1/chat/completions: a raw ASGI endpoint (the hottest path), OpenAI client to OpenAI-dialect upstream.

Non-streaming: the upstream body is returned unchanged, with the cost in x-weir-* headers.
Streaming: upstream bytes are forwarded event by event as they arrive; the Rust tap reads usage on the way and
withholds the usage chunk (re-emitted with the cost when the client asked for usage) and `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson
from starlette.types import Receive, Scope, Send

from weir._native import StreamTap, openai_usage
from weir.billing.meter import Usage, microcents_to_usd
from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError, UpstreamStreamError
from weir.gateway import Gateway
from weir.http.asgi import ClientGone, read_body, request_id, send_whole, wait_for_disconnect
from weir.observability.metrics import RouteCounter
from weir.pipeline.authenticate import extract_key
from weir.pipeline.call import Call, admit
from weir.pipeline.forward import classify, open_upstream
from weir.pipeline.passthrough import ChatRequest, parse_chat_request, rewrite_chat_request
from weir.upstreams.transport import TRANSPORT_ERRORS

CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection first"
SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class ChatCompletions:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter("chat_completions")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        try:
            call, request = await self._admit(scope, receive, rid)
        except GatewayError as err:
            self.requests.observe(err.status)
            await self._refuse(send, err, rid)
            return
        except ClientGone:
            return
        try:
            if request.stream:
                await self._stream(call, request, receive, send)
            else:
                await self._unary(call, request, send)
        finally:
            self.requests.observe(call.status)

    async def _admit(self, scope: Scope, receive: Receive, rid: str) -> tuple[Call, ChatRequest]:
        gw = self.gateway
        presented = extract_key(scope["headers"], scope.get("query_string", b""), gw.extra_key_headers)
        raw = await read_body(scope, receive, gw.config.server.max_body_bytes)
        principal = await gw.auth.authenticate(presented, "inference")
        payload = parse_chat_request(raw)
        model = gw.models.resolve(payload["model"])
        admit(principal, gw.wallets)
        target = model.routes[0]
        request = rewrite_chat_request(payload, target.upstream_model)
        return Call(rid, principal, model, target, request.stream), request

    async def _refuse(self, send: Send, err: GatewayError, rid: str) -> None:
        await send_whole(send, err.status, openai_errors.render(err), openai_errors.headers(err, rid))

    def _headers(self, call: Call, content_type: bytes) -> list[tuple[bytes, bytes]]:
        rid = call.request_id.encode()
        return [(b"content-type", content_type), (b"x-weir-request-id", rid), (b"x-request-id", rid)]

    async def _unary(self, call: Call, request: ChatRequest, send: Send) -> None:
        target = call.target
        target.metrics.in_flight.n += 1
        try:
            response = await open_upstream(target, "/chat/completions", request.body, call.request_id)
            call.first_byte()
            try:
                body = await response.read()
            except TRANSPORT_ERRORS as exc:
                raise classify(exc, target.upstream.name) from exc
            finally:
                response.release()
        except GatewayError as err:
            call.status = err.status
            await call.settle(self.gateway.settler)
            await self._refuse(send, err, call.request_id)
            return
        finally:
            target.metrics.in_flight.n -= 1
        call.status = response.status
        if 200 <= response.status < 300:
            call.usage = Usage.from_tuple(openai_usage(body))
        cost = await call.settle(self.gateway.settler)
        headers = self._headers(call, response.headers.get("Content-Type", "application/json").encode())
        usage = call.usage
        headers += [
            (b"x-weir-cost-microcents", str(cost).encode()),
            (b"x-weir-input-tokens", str(usage.input).encode()),
            (b"x-weir-cached-tokens", str(usage.cached).encode()),
            (b"x-weir-output-tokens", str(usage.output).encode()),
            (b"x-weir-reasoning-tokens", str(usage.reasoning).encode()),
        ]
        await send_whole(send, call.status, body, headers)

    async def _stream(self, call: Call, request: ChatRequest, receive: Receive, send: Send) -> None:
        target = call.target
        target.metrics.in_flight.n += 1
        pump = asyncio.ensure_future(self._pump(call, request, send))
        watcher = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():  # the client went away: stop reading the upstream
                pump.cancel()
                call.status = CLIENT_CLOSED
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        finally:
            watcher.cancel()
            target.metrics.in_flight.n -= 1
            await call.settle(self.gateway.settler)

    async def _pump(self, call: Call, request: ChatRequest, send: Send) -> None:
        """Upstream bytes -> client, through the tap. Sets call.status and call.usage as it learns them."""
        target = call.target
        try:
            response = await open_upstream(target, "/chat/completions", request.body, call.request_id)
        except GatewayError as err:
            call.status = err.status
            await self._refuse(send, err, call.request_id)
            return
        completed = False
        try:
            call.status = response.status
            if response.status != 200:  # an upstream error before the stream began: pass it through
                completed = await self._pass_error(call, response, send)
                return
            content_type = response.headers.get("Content-Type", "text/event-stream").encode()
            headers = self._headers(call, content_type) + SSE_HEADERS
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            tap = StreamTap("openai_chat", self.gateway.config.server.max_sse_line_bytes)
            try:
                failure = await self._relay(call, response, tap, send)
            finally:
                call.usage = Usage.from_tuple(tap.usage)
            if failure is None and tap.done_raw is None:
                failure = UpstreamStreamError("The upstream ended the stream before it was complete.")
            tail = self._epilogue(call, request, tap)
            if failure is not None:  # never let a truncated answer look complete
                call.status = failure.status
                tail += openai_errors.stream_chunk(failure)
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
            body = await response.read()
        except TRANSPORT_ERRORS as exc:
            err = classify(exc, call.target.upstream.name)
            call.status = err.status
            await self._refuse(send, err, call.request_id)
            return False
        call.first_byte()
        content_type = response.headers.get("Content-Type", "application/json").encode()
        await send_whole(send, response.status, body, self._headers(call, content_type))
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

    def _epilogue(self, call: Call, request: ChatRequest, tap: StreamTap) -> bytes:
        """The withheld usage chunk (with the cost, only if the client asked for usage), then `[DONE]`."""
        tail = b""
        usage_data = tap.usage_data
        if usage_data is not None and request.client_wants_usage:
            chunk = orjson.loads(usage_data)
            cost = call.cost()
            chunk["usage"]["cost_microcents"] = cost
            chunk["usage"]["cost"] = microcents_to_usd(cost)
            tail += b"data: " + orjson.dumps(chunk) + b"\n\n"
        done = tap.done_raw
        if done is not None:
            tail += done
        return tail
