"""Tool call ids that every dialect accepts. Anthropic requires ^[a-zA-Z0-9_-]+$; ids from other upstreams
(e.g. `functions.Read:0`, MCP names) are mapped deterministically, so a tool_use and its tool_result that carry
the same id before still carry the same id after."""

from __future__ import annotations

import hashlib
import re

_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def sanitize(tool_id: str) -> str:
    if tool_id and _BAD.search(tool_id) is None:
        return tool_id
    cleaned = _BAD.sub("_", tool_id)
    # A short digest keeps two ids that differ only in replaced characters apart.
    digest = hashlib.sha256(tool_id.encode()).hexdigest()[:8]
    return f"{cleaned}_{digest}" if cleaned else f"toolu_{digest}"
