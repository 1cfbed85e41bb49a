"""POST /v1/embeddings, /v1/images/generations and /v1/audio/speech: JSON in, relayed unchanged but for `model`.

The request goes upstream as the client wrote it (re-encoded from its decoded form, `model` replaced by the
upstream's name), so options Weir does not know (`encoding_format: "base64"`, `dimensions`, token-id inputs)
pass through; the answer comes back byte for byte with the cost in x-weir-* headers.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from weir.billing.meter import NO_UNITS, Units, Usage
from weir.errors import GatewayError, InvalidRequest
from weir.http.asgi import INBOUND_HEADERS, ClientGone, headers_of, read_body, request_id
from weir.http.media.endpoint import MediaEndpoint, media_estimate, refuse
from weir.http.media.metering import embeddings_usage, image_usage
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.call import Call
from weir.pipeline.relay.media import UnaryLeg
from weir.pipeline.route import Route
from weir.upstreams.health import Key


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as an object with a non-empty string `model`."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    return payload


class JsonEndpoint(MediaEndpoint):
    stream = False  # whether the answer is streamed back (speech): recorded in the usage record

    def check(self, payload: dict[str, Any]) -> None:
        """Refuse a body the upstream could not bill or serve, naming the field."""

    def leg(self, call: Call, out: Outgoing, payload: dict[str, Any]) -> Leg:
        return UnaryLeg(call, out, self.meter)

    def meter(self, answer: bytes, content_type: bytes) -> tuple[Usage, Units]:
        raise NotImplementedError

    def most(self, payload: dict[str, Any], max_output: int) -> tuple[int, Units]:
        """What the call may be billed for at most besides its input (the body's bytes, as for model calls): output
        tokens and priced units, for its reservation (`max_output`: the model's max_output_tokens)."""
        return 0, NO_UNITS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id()
        gw = self.gateway
        try:
            principal, ip = await self.authenticate(scope)  # first: no reading bodies for strangers
            server = self.gateway.config.server
            found = headers_of(scope, INBOUND_HEADERS)
            raw = await read_body(found, receive, server.max_body_bytes, server.body_read_timeout_seconds)
            payload = json_object(raw)
            self.check(payload)
            call, routes = self.begin(principal, payload["model"], rid, self.stream, ip)
            output, units = self.most(payload, call.model.max_output)
            call.estimate = media_estimate(call, len(raw), output, units)

            def leg_for(route: Route, key: Key) -> Leg:
                body = orjson.dumps({**payload, "model": route.upstream_model})
                out = Outgoing(self.upstream_url(route), body, route.upstream.headers(rid, key))
                return self.leg(call, out, payload)

            await gw.exchange.run(call, routes, leg_for, receive, send)
        except GatewayError as err:
            self.requests.observe(err.status)
            await refuse(send, err, rid)
            return
        except ClientGone:
            return
        self.requests.observe(call.status)


class Embeddings(JsonEndpoint):
    path = "/embeddings"
    route = "embeddings"

    def check(self, payload: dict[str, Any]) -> None:
        value = payload.get("input")
        if not isinstance(value, str | list) or not value:
            raise InvalidRequest("'input' is required: a string, or an array of strings or token ids.", param="input")
        encoding = payload.get("encoding_format")
        if encoding is not None and encoding not in ("float", "base64"):
            raise InvalidRequest("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")

    def meter(self, answer: bytes, content_type: bytes) -> tuple[Usage, Units]:
        return embeddings_usage(answer), NO_UNITS


class ImageGenerations(JsonEndpoint):
    path = "/images/generations"
    route = "images_generations"

    def check(self, payload: dict[str, Any]) -> None:
        prompt = payload.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequest("'prompt' is required and must be a non-empty string.", param="prompt")
        n = payload.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise InvalidRequest("'n' must be a positive integer.", param="n")
        if payload.get("stream") not in (None, False):
            raise InvalidRequest("Streamed image generation is not supported here; omit 'stream'.", param="stream")

    def meter(self, answer: bytes, content_type: bytes) -> tuple[Usage, Units]:
        return image_usage(answer)

    def most(self, payload: dict[str, Any], max_output: int) -> tuple[int, Units]:
        n = payload.get("n") or 1  # each image at its unit price, and its output tokens (gpt-image-*) at most
        return n * max_output, Units(images=n)
