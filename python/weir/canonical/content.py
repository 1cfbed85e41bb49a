"""Content blocks: the unit of every message, response and stream in the canonical form."""

from __future__ import annotations

from typing import Literal

import msgspec


class Block(msgspec.Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Base of the tagged union; `type` is the tag."""


class Text(Block, tag="text"):
    text: str
    cache_control: msgspec.Raw | None = None  # Anthropic prompt-caching marker, carried as is
    signature: str | None = None  # Gemini's thoughtSignature on this part: only the gemini dialect reads or writes it


class Image(Block, tag="image"):
    """Either inline base64 `data` with its `media_type`, or a `url`."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    detail: str | None = None  # OpenAI's image_url.detail
    cache_control: msgspec.Raw | None = None


class ToolUse(Block, tag="tool_use"):
    id: str
    name: str
    input: msgspec.Raw  # the arguments as a JSON object, forwarded byte for byte
    kind: Literal["function", "custom"] = "function"  # custom: freeform input (Responses custom tools)
    cache_control: msgspec.Raw | None = None
    signature: str | None = None  # Gemini's thoughtSignature on the functionCall part (Gemini 3 wants it back)


class ToolResult(Block, tag="tool_result"):
    tool_use_id: str
    # Opaque: parts a dialect does not model (Anthropic document, search_result, tool_reference blocks)
    content: list[Text | Image | Opaque] = []
    is_error: bool = False
    cache_control: msgspec.Raw | None = None  # Claude Code marks its cache breakpoint on the last tool_result


class Thinking(Block, tag="thinking"):
    """Model reasoning. `signature` is opaque and only valid for the `origin` dialect that produced it;
    `redacted` carries Anthropic's encrypted redacted_thinking data."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    origin: str | None = None


class Opaque(Block, tag="opaque"):
    """Content a dialect does not model: kept as raw JSON with the dialect it came from, never dropped."""

    dialect: str
    raw: msgspec.Raw


Content = Text | Image | ToolUse | ToolResult | Thinking | Opaque
