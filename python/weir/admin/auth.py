"""Who calls the management API: a key owner, with a management key of the account (`mk-weir_...`, checked by
the gateway's Authenticator, cached as inference keys are), or an operator, with a token from `[admin] tokens`.
Both are read from `Authorization: Bearer` only: never from a query string, which ends up in logs."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from weir import keys
from weir.admin.tokens import AdminTokens
from weir.errors import PermissionDenied, Unauthorized
from weir.pipeline.authenticate import Authenticator, Principal


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def owner(request: Request, auth: Callable[[], Authenticator]) -> Principal:
    """The management key's principal: 401 without a valid key, 403 for an inference key or a disabled account."""
    presented = bearer(request)
    if presented is None:
        raise Unauthorized("Missing management key. Send it as 'Authorization: Bearer mk-weir_...'.")
    return await auth().authenticate(presented, "management")


def operator(request: Request, tokens: AdminTokens) -> None:
    """An operator's request: 401 without a valid admin token, 403 when the operator API is off or a Weir key was
    sent instead of a token."""
    if not tokens.enabled:
        raise PermissionDenied(
            "The operator API is off: no admin tokens are configured ([admin] tokens in the configuration)."
        )
    presented = bearer(request)
    if presented is None:
        raise Unauthorized("Missing admin token. Send it as 'Authorization: Bearer <token>'.")
    if not tokens.check(presented):
        if keys.parse(presented) is not None:
            raise PermissionDenied("Weir API keys cannot use the operator API; use an admin token ([admin] tokens).")
        raise Unauthorized("Invalid admin token.")
