"""POST /v1/audio/speech: JSON in, audio out, streamed back chunk by chunk as the upstream produces it.

The audio is never held whole: each upstream chunk is sent on at once, with the upstream's Content-Type
(audio/mpeg, audio/wav, or text/event-stream for `stream_format: "sse"`). The price is per input character, so
the cost is known before the first byte and goes out in the x-weir-* headers. The call is charged once the
upstream has answered 200, also when the client hangs up part-way (499: the upstream produced the audio); it is
recorded at zero cost when the upstream fails mid-stream (502), and the client's connection is then cut without
a clean end, so a truncated file never looks complete.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Send

from weir.billing.meter import NO_UNITS, Units
from weir.errors import GatewayError, InvalidRequest, UpstreamStreamError
from weir.http.asgi import send_whole, until_disconnect
from weir.http.media.endpoint import log, refuse, reply_headers
from weir.http.media.json_calls import JsonEndpoint
from weir.http.replies import CLIENT_CLOSED, base_headers
from weir.pipeline.call import Call
from weir.pipeline.forward import classify, open_upstream
from weir.upstreams.transport import TRANSPORT_ERRORS


class Speech(JsonEndpoint):
    path = "/audio/speech"
    route = "audio_speech"
    stream = True

    def check(self, payload: dict[str, Any]) -> None:
        text = payload.get("input")
        if not isinstance(text, str) or not text:
            raise InvalidRequest("'input' is required and must be a non-empty string.", param="input")
        voice = payload.get("voice")
        if voice is None:
            raise InvalidRequest("'voice' is required.", param="voice")

    async def relay(self, call: Call, payload: dict[str, Any], body: bytes, receive: Receive, send: Send) -> None:
        metrics = call.target.metrics
        metrics.in_flight.n += 1
        failure: list[GatewayError] = []
        try:
            if await until_disconnect(self._pump(call, len(payload["input"]), body, send, failure), receive):
                call.status = CLIENT_CLOSED
        finally:
            metrics.in_flight.n -= 1
            await call.settle(self.gateway.settler)
        if failure:  # returning with the response unfinished makes the server abort it: no clean end
            log.warning("%s: %s", call.request_id, failure[0].message)

    async def _pump(self, call: Call, characters: int, body: bytes, send: Send, failure: list[GatewayError]) -> None:
        upstream = call.target.upstream
        try:
            response = await open_upstream(upstream, self.upstream_url(call), body, upstream.headers(call.request_id))
        except GatewayError as err:
            call.status = err.status
            await refuse(send, err, call.request_id)
            return
        completed = False
        try:
            call.status = response.status
            content_type = response.headers.get("Content-Type", "application/octet-stream").encode("latin-1")
            if response.status != 200:  # an upstream error: passed through with its body, not charged
                try:
                    answer = await response.read()
                except TRANSPORT_ERRORS as exc:
                    broken = classify(exc, upstream.name)
                    call.status = broken.status
                    await refuse(send, broken, call.request_id)
                    return
                call.first_byte()
                await send_whole(send, response.status, answer, base_headers(call, content_type))
                completed = True
                return
            call.units = Units(characters=characters)
            headers = reply_headers(call, content_type, call.cost())
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            try:
                async for chunk in response.content.iter_any():
                    call.first_byte()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except TRANSPORT_ERRORS as exc:
                cause = classify(exc, upstream.name)
                failure.append(UpstreamStreamError(f"The upstream audio stream failed: {cause.message}"))
                call.status = failure[0].status
                call.units = NO_UNITS
                return
            await send({"type": "http.response.body", "body": b""})
            completed = True
        finally:
            if completed:
                response.release()
            else:
                response.close()
