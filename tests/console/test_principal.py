"""Who a console session is, checked again on each request: an operator's session names its admin token by the
token's SHA-256, found in `[admin] tokens` however the token is kept there."""

from __future__ import annotations

import hashlib

from weir.admin.tokens import AdminTokens, digest


def test_a_session_digest_is_found_for_plain_and_hashed_tokens() -> None:
    plain, hashed = "plain-token-0123456789abcdef", "hashed-token-0123456789abcdef"
    tokens = AdminTokens([plain, digest(hashed)])
    for token in (plain, hashed):
        assert tokens.check(token)
        assert tokens.has_digest(hashlib.sha256(token.encode()).hexdigest())
    assert not tokens.has_digest(hashlib.sha256(b"other").hexdigest())
    assert not tokens.has_digest("not hex")
    assert not AdminTokens([]).has_digest(hashlib.sha256(plain.encode()).hexdigest())
