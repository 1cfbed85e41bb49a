"""Who a console session is, checked again on each request: admin tokens as `[admin] tokens` holds them."""

from __future__ import annotations

import hashlib

from weir.admin.tokens import AdminTokens, digest
from weir.console.principal import token_digests


def test_token_digests_match_the_admin_apis_reading() -> None:
    plain, hashed = "plain-token-0123456789abcdef", "hashed-token-0123456789abcdef"
    configured = [plain, digest(hashed)]
    found = token_digests(configured)
    tokens = AdminTokens(configured)
    for token in (plain, hashed):
        assert tokens.check(token)
        assert hashlib.sha256(token.encode()).hexdigest() in found
    assert hashlib.sha256(b"other").hexdigest() not in found
    assert token_digests([]) == frozenset()
