"""Operator tokens: compared by digest, the hashed form equal to the plain one, every configured one accepted."""

from __future__ import annotations

import hashlib

from weir.admin.tokens import AdminTokens, digest

PLAIN = "plain-admin-token-0123456789abcdef"
HASHED = "hashed-admin-token-0123456789abcdef"


def test_plain_and_hashed_tokens() -> None:
    assert digest(HASHED) == "sha256:" + hashlib.sha256(HASHED.encode()).hexdigest()
    tokens = AdminTokens([PLAIN, digest(HASHED)])
    assert tokens.enabled
    assert tokens.check(PLAIN) and tokens.check(HASHED)
    for wrong in ("", PLAIN[:-1], PLAIN + "x", digest(HASHED), digest(PLAIN), PLAIN.upper()):
        assert not tokens.check(wrong), wrong


def test_no_tokens_no_operator() -> None:
    tokens = AdminTokens([])
    assert not tokens.enabled and not tokens.check(PLAIN) and not tokens.check("")
