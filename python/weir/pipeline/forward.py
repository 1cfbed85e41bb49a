"""Send a request to an upstream and classify transport failures into gateway errors."""

from __future__ import annotations

import httpx

from weir.errors import GatewayError, UpstreamTimeout, UpstreamUnreachable
from weir.pipeline.route import RouteTarget


def classify(exc: httpx.HTTPError, provider: str) -> GatewayError:
    """httpx (and the aiohttp transport under it) -> 502 unreachable or 504 timeout."""
    cause = exc.__cause__
    timed_out = isinstance(cause, TimeoutError) if cause is not None else isinstance(exc, httpx.TimeoutException)
    if timed_out:
        return UpstreamTimeout(f"The upstream provider {provider!r} did not answer in time.")
    return UpstreamUnreachable(f"The upstream provider {provider!r} could not be reached.")


async def open_upstream(target: RouteTarget, path: str, body: bytes, request_id: str) -> httpx.Response:
    """POST `body` to the upstream; the response body is left unread for the caller to stream."""
    upstream = target.upstream
    request = upstream.client.build_request(
        "POST", upstream.url(path), content=body, headers=upstream.headers(request_id)
    )
    try:
        return await upstream.client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise classify(exc, upstream.name) from exc
