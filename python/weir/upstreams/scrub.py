"""Upstream error text made safe to show a client: capped in size, and without the provider's credentials.

Some providers echo the key they were sent in their authentication errors, and a proxy in front of one may
echo request headers; a gateway that relays such a body word for word hands the operator's provider key to
every client. The provider's own configured keys are replaced wherever they appear, and so is anything shaped
like a credential: `Bearer <token>`, `sk-…`-style keys, Google API keys, and the value after `x-api-key`,
`api_key`, `x-goog-api-key` or `authorization`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_MESSAGE_CHARS = 1000
REDACTED = "[redacted]"

_PATTERNS = re.compile(
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{6,}"  # Authorization: Bearer <token>
    r"|\b(?:sk|pk|rk|mk|ak)-[A-Za-z0-9_-]{8,}"  # sk-..., sk-ant-..., sk-weir_..., mk-weir_...
    r"|\bAIza[0-9A-Za-z_-]{20,}"  # Google API keys
    r"|(?i:x-api-key|x-goog-api-key|api[_-]?key|authorization|access[_-]?token)"
    r"[\"']?\s*[:=]\s*[\"']?(?:(?i:bearer)\s+)?[^\s\"',;}]{6,}"
)


def _redact(match: re.Match[str]) -> str:
    text = match.group(0)
    for sep in (":", "="):  # keep the name of a `name: value` pair, so the message still says what was wrong
        head, found, _ = text.partition(sep)
        if found and not text.lower().startswith("bearer"):
            return f"{head}{sep} {REDACTED}"
    if text.lower().startswith("bearer"):
        return f"Bearer {REDACTED}"
    return REDACTED


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret in `secrets` and every credential-shaped token replaced, capped in size."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS.sub(_redact, text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "… (truncated)"
    return text
