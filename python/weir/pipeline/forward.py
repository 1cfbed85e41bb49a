"""Send a request to an upstream and classify transport failures into gateway errors."""

from __future__ import annotations

import aiohttp

from weir.errors import GatewayError, UpstreamTimeout, UpstreamUnreachable
from weir.upstreams.provider import Upstream
from weir.upstreams.transport import TRANSPORT_ERRORS, is_timeout


def classify(exc: BaseException, provider: str) -> GatewayError:
    """A transport failure -> 504 when it timed out, else 502."""
    if is_timeout(exc):
        return UpstreamTimeout(f"The upstream provider {provider!r} did not answer in time.")
    return UpstreamUnreachable(f"The upstream provider {provider!r} could not be reached.")


async def open_upstream(upstream: Upstream, url: str, body: bytes, headers: dict[str, str]) -> aiohttp.ClientResponse:
    """POST `body`; returns once the response headers arrived, its body left unread."""
    try:
        return await upstream.session.post(url, data=body, headers=headers)
    except TRANSPORT_ERRORS as exc:
        raise classify(exc, upstream.name) from exc
