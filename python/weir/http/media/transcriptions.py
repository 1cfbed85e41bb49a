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

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage
from weir.errors import GatewayError, InvalidRequest
from weir.http.asgi import ClientGone, header, request_id
from weir.http.media.endpoint import MediaEndpoint, log, refuse
from weir.http.media.form import FormScanner, boundary_of, model_part
from weir.http.media.metering import last_event_with_usage, transcription_usage
from weir.http.media.upload import Upload, too_large
from weir.http.media.wav import wav_duration_ms
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.call import Call
from weir.pipeline.relay.media import UnaryLeg
from weir.pipeline.route import Route
from weir.upstreams.health import Key


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
            call, routes, upload, content_type = await self._admit(scope, receive, rid)

            def leg_for(route: Route, key: Key) -> Leg:
                prefix = model_part(upload.scanner.boundary, route.upstream_model)
                headers = route.upstream.headers(rid, key)
                headers["Content-Type"] = content_type.decode("latin-1")
                length = upload.content_length(len(prefix))
                if length is not None:
                    headers["Content-Length"] = str(length)
                # The upload streams up as it arrives: it can be sent once, unless it was read whole already.
                out = Outgoing(self.upstream_url(route), upload.body(prefix), headers, replayable=upload.ended)
                return UnaryLeg(call, out, lambda answer, kind: self.meter(call, upload, kind, answer))

            # No disconnect watch: the upload is still being read from the client while the upstream gets it.
            await self.gateway.exchange.run(call, routes, leg_for, receive, send, watch_client=False)
        except GatewayError as err:
            self.requests.observe(err.status)
            await refuse(send, err, rid)
            return
        except ClientGone:
            return
        self.requests.observe(call.status)

    async def _admit(self, scope: Scope, receive: Receive, rid: str) -> tuple[Call, list[Route], Upload, bytes]:
        """Authenticate and refuse what can be refused before the upload is read; then read up to the model."""
        principal, ip = await self.authenticate(scope)
        content_type = header(scope, b"content-type") or b""
        scanner = FormScanner(boundary_of(content_type))
        limit = self.gateway.config.server.max_upload_bytes
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            raise too_large(limit)
        named = header(scope, b"x-weir-model")
        begun = self.begin(principal, named.decode("latin-1"), rid, ip=ip) if named else None
        upload = Upload(receive, scanner, limit, declared, self.gateway.config.server.body_read_timeout_seconds)
        await upload.read_model_field()
        if begun is None:
            if scanner.model is None:
                raise InvalidRequest("'model' is required: a form field, or the X-Weir-Model header.", param="model")
            begun = self.begin(principal, scanner.model, rid, ip=ip)
        return begun[0], begun[1], upload, content_type

    def meter(self, call: Call, upload: Upload, content_type: bytes, answer: bytes) -> tuple[Usage, Units]:
        body: dict[str, object] = {}
        if content_type.startswith(b"text/event-stream"):
            body = last_event_with_usage(answer)
        elif content_type.startswith(b"application/json"):
            try:
                decoded = orjson.loads(answer)
            except orjson.JSONDecodeError:
                decoded = None
            body = decoded if isinstance(decoded, dict) else {}
        usage, audio_ms = transcription_usage(body)
        if audio_ms is None and usage is ZERO:  # the upstream said nothing: measure the WAV, if it is one
            scanner = upload.scanner
            audio_ms = wav_duration_ms(bytes(scanner.file_head), scanner.file_bytes)
        if audio_ms is None and usage is ZERO:
            log.warning(
                "%s: the upstream reported no audio duration and the upload is not WAV; no seconds charged",
                call.request_id,
            )
        return usage, Units(audio_ms=audio_ms) if audio_ms else NO_UNITS


class Translations(Transcriptions):
    path = "/audio/translations"
    route = "audio_translations"
