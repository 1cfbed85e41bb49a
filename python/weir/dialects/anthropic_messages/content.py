"""Content blocks: Anthropic wire <-> canonical, shared by requests and responses."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Raw, UnsetType

from weir.canonical import tool_ids
from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.dialects.anthropic_messages import schema as s
from weir.errors import InvalidRequest

_EMPTY_OBJECT = Raw(b"{}")

# ---- thinking from other dialects, carried through Anthropic clients ----
#
# Anthropic clients (Claude Code) drop thinking blocks that have no signature, and some upstreams (DeepSeek, Kimi)
# need their reasoning back on the next turn. So reasoning from a non-Anthropic upstream reaches the client with a
# signature that says where it came from: `weir:v1:<origin>:<that upstream's own signature, if any>`. When the
# client replays it, `parse_signature` restores the origin, so it is never sent to Anthropic (which would reject it)
# and goes back, signature and all, to an upstream of the dialect that produced it.

_MARK = "weir:v1:"


def foreign_signature(origin: str | None, signature: str | None) -> str:
    return f"{_MARK}{origin or ''}:{signature or ''}"


def parse_signature(signature: str | None) -> tuple[str | None, str | None]:
    """(origin, signature) of a thinking block read from the wire."""
    if not signature:
        return s.ORIGIN, None
    if not signature.startswith(_MARK):
        return s.ORIGIN, signature
    origin, _, inner = signature[len(_MARK) :].partition(":")
    return origin or None, inner or None


# ---- wire -> canonical ----


def blocks_to_canonical(content: str | list[Raw], where: str) -> list[Content]:
    if isinstance(content, str):
        return [Text(text=content)] if content else []
    return [block_to_canonical(raw, f"{where}[{i}]") for i, raw in enumerate(content)]


def block_to_canonical(raw: Raw, where: str) -> Content:
    try:
        kind = s.decode_head(raw).type
        if kind == "text":
            text = s.decode_text(raw)
            return Text(text=text.text, cache_control=_raw_or_none(text.cache_control))
        if kind == "image":
            image = _image(s.decode_source_image(raw))
            if image is not None:
                return image
        elif kind == "tool_use":
            use = s.decode_tool_use(raw)
            return ToolUse(id=use.id, name=use.name, input=use.input, cache_control=_raw_or_none(use.cache_control))
        elif kind == "tool_result":
            return _tool_result(s.decode_tool_result(raw), where)
        elif kind == "thinking":
            block = s.decode_thinking_block(raw)
            origin, signature = parse_signature(block.signature)
            return Thinking(text=block.thinking, signature=signature, origin=origin)
        elif kind == "redacted_thinking":
            return Thinking(redacted=s.decode_redacted(raw).data, origin=s.ORIGIN)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"{where}: {exc}", param=where) from None
    # document, search_result, server tool blocks, file images, anything newer: carried as is
    return Opaque(dialect=s.DIALECT, raw=raw)


def _image(block: s.ImageIn) -> Image | None:
    source = block.source
    cache = _raw_or_none(block.cache_control)
    if source.type == "base64" and source.data is not None:
        return Image(media_type=source.media_type, data=source.data, cache_control=cache)
    if source.type == "url" and source.url is not None:
        return Image(url=source.url, cache_control=cache)
    return None  # a file_id source or some other kind: kept Opaque


def _tool_result(block: s.ToolResultIn, where: str) -> ToolResult:
    parts: list[Text | Image | Opaque] = []
    content = block.content
    if isinstance(content, str):
        if content:
            parts.append(Text(text=content))
    elif content is not None:
        for i, raw in enumerate(content):
            part = block_to_canonical(raw, f"{where}.content[{i}]")
            if not isinstance(part, Text | Image):
                part = Opaque(dialect=s.DIALECT, raw=raw)  # e.g. tool_reference, search_result, document
            parts.append(part)
    return ToolResult(
        tool_use_id=block.tool_use_id,
        content=parts,
        is_error=bool(block.is_error),
        cache_control=_raw_or_none(block.cache_control),
    )


def _raw_or_none(value: Raw | UnsetType) -> Raw | None:
    return s.present(value)


# ---- canonical -> wire ----


def block_from_canonical(block: Content, dropped: list[str], *, client: bool) -> s.OutBlock | Raw | None:
    """The wire block for `block`, or None (and a note in `dropped`) when Anthropic cannot carry it.

    `client`: the block goes to an Anthropic client (a response), not to an Anthropic upstream (a request). It
    changes one thing, thinking from other upstreams: an upstream would reject it, a client keeps it (see
    `foreign_signature`)."""
    if isinstance(block, Text):
        if not block.text:
            return None  # Anthropic rejects empty text blocks
        return s.TextBlock(text=block.text, cache_control=_unset_or_raw(block.cache_control))
    if isinstance(block, ToolUse):
        return s.ToolUseBlock(
            id=tool_ids.sanitize(block.id),
            name=block.name,
            input=tool_input(block, dropped),
            cache_control=_unset_or_raw(block.cache_control),
        )
    if isinstance(block, Thinking):
        return _thinking(block, dropped, client=client)
    if isinstance(block, Image):
        return _image_out(block, dropped)
    if isinstance(block, ToolResult):
        return _tool_result_out(block, dropped)
    if block.dialect == s.DIALECT:
        return block.raw
    dropped.append(f"{block.dialect} content")
    return None


def tool_input(block: ToolUse, dropped: list[str]) -> Raw:
    """Anthropic wants a JSON object; a custom (freeform) tool's text becomes {"input": text}."""
    try:
        if block.kind == "custom":
            value = s.decode_any(block.input)
            if isinstance(value, str):
                return s.raw_of({"input": value})
        s.decode_object(block.input)
        return block.input
    except msgspec.DecodeError:
        dropped.append("tool_use.input")  # not valid JSON: sending it would corrupt the whole body
        return _EMPTY_OBJECT


def custom_input(text: str) -> str:
    """The JSON text `tool_input` makes of a custom tool's freeform input (streams send it in one delta)."""
    return s.encode({"input": text}).decode()


def _thinking(block: Thinking, dropped: list[str], *, client: bool) -> s.OutBlock | None:
    anthropic = block.origin in s.ORIGINS
    if anthropic and block.redacted is not None:
        return s.RedactedThinkingBlock(data=block.redacted)
    if anthropic and (block.signature or client):
        return s.ThinkingBlock(thinking=block.text, signature=block.signature or "")
    if client and block.redacted is None and (block.text or block.signature):
        return s.ThinkingBlock(thinking=block.text, signature=foreign_signature(block.origin, block.signature))
    dropped.append("thinking")  # unsigned, or signed by another provider: Anthropic would reject it
    return None


def _image_out(block: Image, dropped: list[str]) -> s.ImageBlock | None:
    cache = _unset_or_raw(block.cache_control)
    data, media_type = block.data, block.media_type
    if data is None and block.url is not None and block.url.startswith("data:"):
        header, _, data = block.url[5:].partition(",")  # data:image/png;base64,....
        media_type = media_type or header.split(";")[0] or None
    if data is not None:
        media_type = media_type or _sniff(data)
        if media_type not in s.IMAGE_TYPES:
            dropped.append(f"image ({media_type or 'unknown type'})")
            return None
        return s.ImageBlock(source=s.Base64Source(media_type=media_type, data=data), cache_control=cache)
    if block.url is not None:
        return s.ImageBlock(source=s.UrlSource(url=block.url), cache_control=cache)
    dropped.append("image (no data)")
    return None


_MAGIC = {"iVBORw0KGgo": "image/png", "/9j/": "image/jpeg", "R0lGOD": "image/gif", "UklGR": "image/webp"}


def _sniff(data: str) -> str | None:
    return next((media for magic, media in _MAGIC.items() if data.startswith(magic)), None)


def _tool_result_out(block: ToolResult, dropped: list[str]) -> s.ToolResultBlock:
    parts: list[s.TextBlock | s.ImageBlock | Raw] = []
    for part in block.content:
        out = block_from_canonical(part, dropped, client=False)
        if isinstance(out, s.TextBlock | s.ImageBlock | Raw):
            parts.append(out)
    content: str | list[s.TextBlock | s.ImageBlock | Raw] | UnsetType = parts if parts else UNSET
    if len(parts) == 1 and isinstance(parts[0], s.TextBlock) and isinstance(parts[0].cache_control, UnsetType):
        content = parts[0].text
    return s.ToolResultBlock(
        tool_use_id=tool_ids.sanitize(block.tool_use_id),
        content=content,
        is_error=True if block.is_error else UNSET,
        cache_control=_unset_or_raw(block.cache_control),
    )


def _unset_or_raw(value: Raw | None) -> Raw | UnsetType:
    return UNSET if value is None else value
