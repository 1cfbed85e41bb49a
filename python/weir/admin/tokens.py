"""Operator tokens (`[admin] tokens`): kept as SHA-256 digests from the moment they are read, and compared in
constant time with every configured one (no early exit), so neither a timing nor the order of the list tells
anything. A token is high-entropy (at least 24 characters, config.MIN_ADMIN_TOKEN), so one fast hash suffices."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256:"


def digest(token: str) -> str:
    """What `[admin] tokens` may hold instead of the token: `sha256:` and its hex digest."""
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


class AdminTokens:
    def __init__(self, configured: Sequence[str]) -> None:
        self._digests = [
            bytes.fromhex(t.removeprefix(PREFIX)) if t.startswith(PREFIX) else hashlib.sha256(t.encode()).digest()
            for t in configured
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, presented: str) -> bool:
        return self._known(hashlib.sha256(presented.encode()).digest())

    def has_digest(self, hex_digest: str) -> bool:
        """Whether a token whose SHA-256 is `hex_digest` is still configured (a console session names its token so)."""
        try:
            return self._known(bytes.fromhex(hex_digest))
        except ValueError:
            return False

    def _known(self, candidate: bytes) -> bool:
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(candidate, known)
        return found
