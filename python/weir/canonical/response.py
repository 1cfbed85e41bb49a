"""A finished model answer in the canonical form."""

from __future__ import annotations

from typing import Literal

import msgspec

from weir.canonical.content import Content
from weir.canonical.usage import ZERO, Usage

StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn", "error"]


class Response(msgspec.Struct, kw_only=True):
    id: str
    model: str
    content: list[Content]
    stop_reason: StopReason | None = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = ZERO
