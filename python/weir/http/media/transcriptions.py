"""POST /v1/audio/transcriptions and /v1/audio/translations: a multipart/form-data upload in, text out.

The model is the `X-Weir-Model` header when the client sends one (Weir can then route before reading the
upload), else the form's `model` field. Either way the upstream gets a form whose `model` is the upstream's
name, first, followed by the client's other parts unchanged (see form.py and upload.py).

Priced per second of audio: the upstream's `usage` ({"type": "duration", "seconds": s}; gpt-4o-transcribe's
token usage is priced at the token prices), else verbose_json's `duration`, else, for a WAV upload, the length
its header gives (only when the answer carries no usage at all). An answer that says none of these (text, srt
or vtt formats on a non-WAV file) is recorded with no units and costs nothing; a warning is logged.
"""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from weir.billing.meter import ZERO, Units
from weir.errors import GatewayError, InvalidRequest
from weir.http.asgi import ClientGone, header, request_id
from weir.http.media.endpoint import MediaEndpoint, log, refuse
from weir.http.media.form import FormScanner, boundary_of, model_part
from weir.http.media.metering import last_event_with_usage, transcription_usage
from weir.http.media.upload import Upload, too_large
from weir.http.media.wav import wav_duration_ms
from weir.http.replies import CLIENT_CLOSED
from weir.pipeline.call import Call
from weir.pipeline.forward import classify
from weir.upstreams.transport import TRANSPORT_ERRORS


def declared_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequest("The Content-Length header is not a number.") from exc


class Transcriptions(MediaEndpoint):
    path = "/audio/transcriptions"
    route = "audio_transcriptions"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        try:
            call, upload, content_type = await self._admit(scope, receive, rid)
        except GatewayError as err:
            self.requests.observe(err.status)
            await refuse(send, err, rid)
            return
        except ClientGone:
            return
        metrics = call.target.metrics
        metrics.in_flight.n += 1
        try:
            await self.relay(call, upload, content_type, send)
        finally:
            metrics.in_flight.n -= 1
            self.requests.observe(call.status)

    async def _admit(self, scope: Scope, receive: Receive, rid: str) -> tuple[Call, Upload, bytes]:
        """Authenticate and refuse what can be refused before the upload is read; then read up to the model."""
        principal = await self.authenticate(scope)
        content_type = header(scope, b"content-type") or b""
        scanner = FormScanner(boundary_of(content_type))
        limit = self.gateway.config.server.max_upload_bytes
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            raise too_large(limit)
        named = header(scope, b"x-weir-model")
        call = self.begin(principal, named.decode("latin-1"), rid) if named else None
        upload = Upload(receive, scanner, limit, declared, self.gateway.config.server.body_read_timeout_seconds)
        await upload.read_model_field()
        if call is None:
            if scanner.model is None:
                raise InvalidRequest("'model' is required: a form field, or the X-Weir-Model header.", param="model")
            call = self.begin(principal, scanner.model, rid)
        return call, upload, content_type

    async def relay(self, call: Call, upload: Upload, content_type: bytes, send: Send) -> None:
        upstream = call.target.upstream
        prefix = model_part(upload.scanner.boundary, call.target.upstream_model)
        headers = upstream.headers(call.request_id)
        headers["Content-Type"] = content_type.decode("latin-1")
        length = upload.content_length(len(prefix))
        if length is not None:
            headers["Content-Length"] = str(length)
        try:
            response = await upstream.session.post(self.upstream_url(call), data=upload.body(prefix), headers=headers)
        except TRANSPORT_ERRORS as exc:
            await self._failed(call, upload, classify(exc, upstream.name), send)
            return
        try:
            answer = await response.read()
            call.first_byte()
        except TRANSPORT_ERRORS as exc:
            response.close()
            await self._failed(call, upload, classify(exc, upstream.name), send)
            return
        response.release()
        if upload.failure is not None:  # the upstream answered before the upload broke off
            await self._failed(call, upload, None, send)
            return
        answer_type = response.headers.get("Content-Type", "application/json").encode("latin-1")
        if 200 <= response.status < 300:
            self.meter(call, upload, answer_type, answer)
        await self.reply(call, response.status, answer, answer_type, send)

    async def _failed(self, call: Call, upload: Upload, err: GatewayError | None, send: Send) -> None:
        """The upload or the upstream failed: a broken upload (the client's doing) explains the upstream's error."""
        cause = upload.failure or err
        if cause is None or isinstance(cause, ClientGone):
            call.status = CLIENT_CLOSED
            await call.settle(self.gateway.settler)
            return
        await self.fail(call, cause, send)

    def meter(self, call: Call, upload: Upload, content_type: bytes, answer: bytes) -> None:
        body: dict[str, object] = {}
        if content_type.startswith(b"text/event-stream"):
            body = last_event_with_usage(answer)
        elif content_type.startswith(b"application/json"):
            try:
                decoded = orjson.loads(answer)
            except orjson.JSONDecodeError:
                decoded = None
            body = decoded if isinstance(decoded, dict) else {}
        call.usage, audio_ms = transcription_usage(body)
        if audio_ms is None and call.usage is ZERO:  # the upstream said nothing: measure the WAV, if it is one
            scanner = upload.scanner
            audio_ms = wav_duration_ms(bytes(scanner.file_head), scanner.file_bytes)
        if audio_ms is None and call.usage is ZERO:
            log.warning(
                "%s: the upstream reported no audio duration and the upload is not WAV; no seconds charged",
                call.request_id,
            )
        elif audio_ms:
            call.units = Units(audio_ms=audio_ms)


class Translations(Transcriptions):
    path = "/audio/translations"
    route = "audio_translations"
