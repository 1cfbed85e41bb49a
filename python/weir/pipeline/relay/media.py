"""Legs of OpenAI's media endpoints: embeddings and image generation (JSON in, JSON out), speech (audio streamed
back as it is made) and transcription / translation (a multipart upload streamed up). Each goes to the route's
OpenAI-dialect upstream with `model` rewritten and comes back unchanged, with its cost in x-weir-* headers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import Send

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage
from weir.errors import UpstreamStreamError
from weir.pipeline.attempt import Opened, Outgoing, broken_stream
from weir.pipeline.call import Call
from weir.pipeline.reply import Headers, base_headers, cost_headers, send_whole
from weir.upstreams.transport import TRANSPORT_ERRORS

log = logging.getLogger("weir.relay")

# (the upstream's answer, its content type) -> what it is billed for
Meter = Callable[[bytes, bytes], tuple[Usage, Units]]


def unit_headers(units: Units) -> Headers:
    return [
        (b"x-weir-images", b"%d" % units.images),
        (b"x-weir-characters", b"%d" % units.characters),
        (b"x-weir-audio-ms", b"%d" % units.audio_ms),
    ]


def reply_headers(call: Call, content_type: bytes, cost: int) -> Headers:
    """The chat endpoints' headers (request id, cost, tokens) and the media units."""
    return (
        base_headers(call.request_id, content_type, call.limit_headers)
        + cost_headers(call.usage, cost)
        + unit_headers(call.units)
    )


class UnaryLeg:
    """A whole answer: embeddings, images, transcriptions. `meter` reads what it is billed for; an answer it
    cannot read bills nothing rather than failing a call the client already has."""

    __slots__ = ("call", "meter", "metered", "out")

    stream = False
    local = False

    def __init__(self, call: Call, out: Outgoing, meter: Meter) -> None:
        self.call = call
        self.out = out
        self.meter = meter
        self.metered: tuple[Usage, Units] = (ZERO, NO_UNITS)

    def accept(self, status: int, body: bytes) -> None:
        return None  # metered in relay, once the content type is known

    async def relay(self, opened: Opened, send: Send) -> None:
        call = self.call
        response = opened.response
        assert response is not None
        content_type = response.headers.get("Content-Type", "application/json").encode("latin-1")
        call.status = response.status
        call.usage, call.units = self.meter(opened.body, content_type)
        await send_whole(send, call.status, opened.body, reply_headers(call, content_type, call.cost()))


class SpeechLeg:
    """/v1/audio/speech: the audio is never held whole; each upstream chunk is sent on at once, with the
    upstream's Content-Type. The price is per input character, so the cost is known before the first byte and
    goes out in the headers. Charged once the upstream answered, also when the client hangs up part-way (499: the
    upstream made the audio); recorded at zero cost when the upstream fails mid-stream (502), and the client's
    connection is then cut without a clean end, so a truncated file never looks complete."""

    __slots__ = ("call", "characters", "failure", "out")

    stream = True
    local = False

    def __init__(self, call: Call, out: Outgoing, characters: int) -> None:
        self.call = call
        self.out = out
        self.characters = characters
        self.failure: UpstreamStreamError | None = None

    def accept(self, status: int, body: bytes) -> None:
        return None

    async def relay(self, opened: Opened, send: Send) -> None:
        call = self.call
        response = opened.response
        assert response is not None and opened.chunks is not None
        completed = False
        try:
            call.status = response.status
            call.units = Units(characters=self.characters)
            content_type = response.headers.get("Content-Type", "application/octet-stream").encode("latin-1")
            headers = reply_headers(call, content_type, call.cost())
            call.answering = True
            await send({"type": "http.response.start", "status": call.status, "headers": headers})
            try:
                await send({"type": "http.response.body", "body": opened.first, "more_body": True})
                async for chunk in opened.chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except TRANSPORT_ERRORS as exc:
                broken = broken_stream(exc, call)
                self.failure = UpstreamStreamError(f"The upstream audio stream failed: {broken.message}")
                log.warning("%s: %s", call.request_id, self.failure.message)
                call.status = broken.status
                call.units = NO_UNITS
                return  # returning with the response unfinished makes the server abort it: no clean end
            await send({"type": "http.response.body", "body": b""})
            completed = True
        finally:
            if completed:
                response.release()
            else:
                response.close()
