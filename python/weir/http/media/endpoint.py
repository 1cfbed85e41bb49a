"""What every media endpoint shares with the chat endpoints: the key, the model (aliases resolved), admission,
the refusal in the OpenAI shape, and the routes that can serve it.

The media endpoints exist only in OpenAI's API, so only a model's OpenAI-dialect routes can serve them; a model
with none is refused with a 400 that names the model and the endpoint, before any upstream call (and so without
a usage record).
"""

from __future__ import annotations

import logging

from starlette.types import Scope, Send

from weir.billing.estimate import call_estimate
from weir.billing.meter import Units
from weir.dialects.openai_chat import errors as openai_errors
from weir.errors import GatewayError, InvalidRequest
from weir.gateway import Gateway
from weir.http.asgi import INBOUND_HEADERS, headers_of
from weir.http.client_ip import ClientIP
from weir.observability.metrics import RouteCounter
from weir.pipeline.authenticate import Principal, extract_key
from weir.pipeline.call import Call
from weir.pipeline.reply import send_whole
from weir.pipeline.route import Route

log = logging.getLogger("weir.http.media")


async def refuse(send: Send, err: GatewayError, rid: str) -> None:
    await send_whole(send, err.status, openai_errors.render(err), openai_errors.headers(err, rid))


class MediaEndpoint:
    path: str  # the OpenAI path below /v1, the same on the client's side and the upstream's ("/embeddings")
    route: str  # the weir_requests_total label

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.requests = RouteCounter(self.route)
        self.client_ip = ClientIP.from_cidrs(gateway.config.server.trusted_proxies)
        self.wanted = INBOUND_HEADERS | gateway.extra_key_headers | self.client_ip.headers

    async def authenticate(self, scope: Scope) -> tuple[Principal, str | None]:
        """The caller's principal and IP address."""
        gw = self.gateway
        found = headers_of(scope, self.wanted)
        presented = extract_key(found, scope.get("query_string", b""), gw.extra_key_headers)
        ip = self.client_ip.of_request(scope, found)
        return await gw.auth.authenticate(presented, "inference", ip), ip

    def begin(
        self, principal: Principal, name: str, rid: str, stream: bool = False, ip: str | None = None
    ) -> tuple[Call, list[Route]]:
        """The call to the model named `name` and its OpenAI-dialect routes (400 when it has none)."""
        call, routes, _ = self.gateway.exchange.begin(principal, name, rid, stream, None, ip)
        usable = [r for r in routes if r.upstream.dialect == "openai"]
        if not usable:
            upstream = routes[0].upstream
            raise InvalidRequest(
                f"The model {name!r} is served by the {upstream.dialect!r}-dialect provider {upstream.name!r}, "
                f"which has no /v1{self.path} endpoint; use a model on an OpenAI-dialect provider.",
                param="model",
            )
        call.route = usable[0]
        return call, usable

    def upstream_url(self, route: Route) -> str:
        return route.upstream.url(self.path)


def media_estimate(call: Call, size: int, output: int, units: Units) -> int:
    """The most a media call may cost: its input bound (the body's bytes) and `output` tokens like a model call's,
    and its priced `units`."""
    return call_estimate(call.price, size, output, call.principal.multiplier_ppm, units)
