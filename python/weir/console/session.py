"""The console's session: a signed, expiring cookie that names the principal (never holds a key or a token), and
the CSRF token every form carries, derived from the session.

Owner sessions hold the management key's id, its account's id and a digest of the key's stored HMAC (so a key
re-made under the same id does not carry an old session); operator sessions hold the SHA-256 digest of the admin
token. Both are checked again on every request (weir.console.principal)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

import msgspec
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "weir_console"
LOGIN_COOKIE = "weir_console_login"  # the sign-in form's own CSRF nonce, before there is a session
MAX_AGE_SECONDS = 12 * 3600
LOGIN_MAX_AGE_SECONDS = 3600
Kind = Literal["owner", "operator"]


class Session(msgspec.Struct, frozen=True, kw_only=True):
    kind: Kind
    sid: str  # random per sign-in: what the CSRF token is derived from
    digest: str  # owner: of the key's stored HMAC; operator: the admin token's SHA-256 (hex)
    key_id: str | None = None  # owner: the management key's id
    account_id: int | None = None  # owner: its account


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Session).decode


def session_secret(pepper: bytes) -> bytes:
    """The console's signing key, derived from the key pepper (so it is as secret, and as stable, as the pepper)."""
    return hmac.new(pepper, b"weir console session v1", hashlib.sha256).digest()


class Sessions:
    """Signs and reads the session cookie and the sign-in nonce; makes and checks CSRF tokens."""

    def __init__(self, secret: bytes, max_age: int = MAX_AGE_SECONDS) -> None:
        self._secret = secret
        self.max_age = max_age
        self._signer = URLSafeTimedSerializer(secret, salt="weir-console-session")
        self._login = URLSafeTimedSerializer(secret, salt="weir-console-login")

    def key_digest(self, secret_hmac: bytes) -> str:
        """What an owner session keeps of its key: a keyed digest of the key's stored HMAC."""
        return hmac.new(self._secret, b"key|" + secret_hmac, hashlib.sha256).hexdigest()[:32]

    def owner(self, key_id: str, account_id: int, secret_hmac: bytes) -> Session:
        sid = secrets.token_urlsafe(16)
        return Session(kind="owner", sid=sid, key_id=key_id, account_id=account_id, digest=self.key_digest(secret_hmac))

    def operator(self, token_sha256_hex: str) -> Session:
        return Session(kind="operator", sid=secrets.token_urlsafe(16), digest=token_sha256_hex)

    def sign(self, session: Session) -> str:
        return self._signer.dumps(_encode(session).decode())

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie whose signature holds and that is younger than `max_age`; else None."""
        if not cookie:
            return None
        try:
            text = self._signer.loads(cookie, max_age=self.max_age)
            return _decode(text) if isinstance(text, str) else None
        except (BadSignature, msgspec.DecodeError, msgspec.ValidationError):
            return None

    def csrf(self, sid: str) -> str:
        return hmac.new(self._secret, b"csrf|" + sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str | None, presented: object) -> bool:
        if not sid or not isinstance(presented, str) or not presented:
            return False
        return hmac.compare_digest(self.csrf(sid), presented)

    def login_nonce(self) -> tuple[str, str]:
        """A fresh sign-in nonce: (its signed cookie value, the nonce)."""
        nonce = secrets.token_urlsafe(16)
        return self._login.dumps(nonce), nonce

    def read_login_nonce(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            nonce = self._login.loads(cookie, max_age=LOGIN_MAX_AGE_SECONDS)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None
