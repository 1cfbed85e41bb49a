"""What every media endpoint shares with the chat endpoints: the key, the model (aliases resolved), admission,
the refusal in the OpenAI shape, and the reply headers with the call's cost.

The media endpoints exist only in OpenAI's API, so a model whose route leads to another dialect is refused with
a 400 that names the model and the endpoint, before any upstream call (and so without a usage record).
"""

from __future__ import annotations

import logging

from starlette.types import Scope, Send

from weir.billing.meter import Units
from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import Headers, send_whole
from weir.http.replies import base_headers, cost_headers
from weir.observability.metrics import RouteCounter
from weir.pipeline.authenticate import Principal, extract_key
from weir.pipeline.call import Call, admit

log = logging.getLogger("weir.http.media")


def unit_headers(units: Units) -> Headers:
    return [
        (b"x-weir-images", b"%d" % units.images),
        (b"x-weir-characters", b"%d" % units.characters),
        (b"x-weir-audio-ms", b"%d" % units.audio_ms),
    ]


def reply_headers(call: Call, content_type: bytes, cost: int) -> Headers:
    """The chat endpoints' headers (request id, cost, tokens) and the media units."""
    return base_headers(call, content_type) + cost_headers(call.usage, cost) + unit_headers(call.units)


async def refuse(send: Send, err: GatewayError, rid: str) -> None:
    await send_whole(send, err.status, openai_errors.render(err), openai_errors.headers(err, rid))


class MediaEndpoint:
    path: str  # the OpenAI path below /v1, the same on the client's side and the upstream's ("/embeddings")
    route: str  # the weir_requests_total label

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter(self.route)

    async def authenticate(self, scope: Scope) -> Principal:
        """The caller, admitted: a key for inference and a balance above zero."""
        gw = self.gateway
        presented = extract_key(scope["headers"], scope.get("query_string", b""), gw.extra_key_headers)
        principal = await gw.auth.authenticate(presented, "inference")
        admit(principal, gw.wallets)
        return principal

    def begin(self, principal: Principal, name: str, rid: str, stream: bool = False) -> Call:
        """The call to the model named `name`, refused unless it leads to an OpenAI-dialect upstream."""
        model = self.gateway.models.resolve(name)
        target = model.routes[0]
        if target.upstream.dialect != "openai":
            raise InvalidRequest(
                f"The model {name!r} is served by the {target.upstream.dialect!r}-dialect provider "
                f"{target.upstream.name!r}, which has no /v1{self.path} endpoint; use a model on an OpenAI-dialect "
                "provider.",
                param="model",
            )
        return Call(rid, principal, model, target, stream, name)

    def upstream_url(self, call: Call) -> str:
        return call.target.upstream.url(self.path)

    async def fail(self, call: Call, err: GatewayError, send: Send | None) -> None:
        """The call reached the upstream and failed: recorded at zero cost, refused to the client (unless gone)."""
        call.status = err.status
        await call.settle(self.gateway.settler)
        if send is not None:
            await refuse(send, err, call.request_id)

    async def reply(self, call: Call, status: int, body: bytes, content_type: bytes, send: Send) -> None:
        """Settle the call and send the upstream's answer whole, with the cost. Only 2xx answers are metered (the
        caller has set `call.usage` / `call.units` for them); an upstream error is passed through at zero cost."""
        call.status = status
        cost = await call.settle(self.gateway.settler)
        await send_whole(send, status, body, reply_headers(call, content_type, cost))
