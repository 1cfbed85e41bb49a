"""Who is signed in to the console, checked on every request: an owner session's management key must still be
active (not revoked, not expired, the same key), its account enabled; an operator session's admin token must still
be configured. Sign-in checks a management key with the gateway's Authenticator (as the management API does) and
an admin token with weir.admin.tokens."""

from __future__ import annotations

import hashlib

import msgspec

from weir import keys
from weir.admin.tokens import AdminTokens
from weir.console.session import Session, Sessions
from weir.errors import GatewayError, Unauthorized
from weir.pipeline.authenticate import Authenticator
from weir.service import Service
from weir.service.errors import NotFound
from weir.store._common import now_ms
from weir.store.records import Account


class Viewer(msgspec.Struct, frozen=True):
    session: Session
    account: Account | None = None  # an owner's account, as it is now

    @property
    def is_owner(self) -> bool:
        return self.session.kind == "owner"


async def sign_in(
    presented: str, ip: str | None, auth: Authenticator, service: Service, tokens: AdminTokens, sessions: Sessions
) -> Session:
    """The session for a management key or an admin token; raises GatewayError (401/403) for anything else."""
    presented = presented.strip()
    if keys.parse(presented) is not None:
        principal = await auth.authenticate(presented, "management", ip)
        key = await service.keys.get(principal.key_id, principal.account_id)
        return sessions.owner(key.id, key.account_id, key.secret_hmac)
    if tokens.enabled and tokens.check(presented):
        return sessions.operator(hashlib.sha256(presented.encode()).hexdigest())
    raise Unauthorized("That is neither a valid management key (mk-weir_...) nor an admin token.")


async def current(session: Session, service: Service, sessions: Sessions, operators: AdminTokens) -> Viewer | None:
    """The viewer of a session whose key or token is still valid; None ends the session."""
    if session.kind == "operator":
        return Viewer(session) if operators.has_digest(session.digest) else None
    if session.key_id is None or session.account_id is None:
        return None
    try:
        key = await service.keys.get(session.key_id, session.account_id)
        account = await service.accounts.get_by_id(session.account_id)
    except (NotFound, GatewayError):
        return None
    if key.kind != "management" or key.revoked_at is not None or account.disabled:
        return None
    if key.expires_at is not None and key.expires_at <= now_ms():
        return None
    if sessions.key_digest(key.secret_hmac) != session.digest:
        return None
    return Viewer(session, account)
