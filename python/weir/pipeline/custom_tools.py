"""Custom (freeform) tool calls back from upstreams that only know function tools.

A Responses or Chat client's custom tool (Codex's `apply_patch`) goes to Anthropic and Gemini upstreams as a
function of one string argument, `input` (see their `request.py`). Their calls come back as function calls with
`{"input": "<text>"}`; the client declared a custom tool and must get a custom call with the freeform text. This
restores it, in whole responses and in streams, for calls whose name is one of the request's custom tools.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from weir.canonical.content import Content, ToolUse
from weir.canonical.request import Request
from weir.canonical.stream import BlockStart, BlockStop, StreamEvent, ToolInputDelta

EMPTY_STRING = Raw(b'""')
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def custom_names(req: Request) -> frozenset[str]:
    return frozenset(tool.name for tool in req.tools if tool.kind == "custom")


def freeform_text(arguments: bytes) -> str:
    """The text of `{"input": "<text>"}`; anything else is kept as the text it is."""
    try:
        value = _decode(arguments)
    except msgspec.DecodeError:
        return arguments.decode(errors="replace")
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    if isinstance(value, str):
        return value
    return arguments.decode(errors="replace")


def restore(content: list[Content], customs: frozenset[str]) -> list[Content]:
    """A whole response's content, its function calls to custom tools made custom calls again."""
    if not customs:
        return content
    return [
        ToolUse(
            id=block.id,
            name=block.name,
            input=Raw(_encode(freeform_text(bytes(block.input)))),
            kind="custom",
            signature=block.signature,
        )
        if isinstance(block, ToolUse) and block.kind == "function" and block.name in customs
        else block
        for block in content
    ]


class StreamRestorer:
    """The same for a canonical stream: the call's argument deltas are held until its block ends, then sent as one
    delta of freeform text (a custom call's deltas are raw text, not JSON)."""

    def __init__(self, customs: frozenset[str]) -> None:
        self.customs = customs
        self.held: dict[int, list[str]] = {}  # block index -> argument fragments of a call being restored

    def feed(self, ev: StreamEvent) -> list[StreamEvent]:
        if isinstance(ev, BlockStart):
            block = ev.block
            if isinstance(block, ToolUse) and block.kind == "function" and block.name in self.customs:
                self.held[ev.index] = [] if bytes(block.input) in (b"", b"{}") else [bytes(block.input).decode()]
                custom = ToolUse(
                    id=block.id, name=block.name, input=EMPTY_STRING, kind="custom", signature=block.signature
                )
                return [BlockStart(index=ev.index, block=custom)]
        elif isinstance(ev, ToolInputDelta) and ev.index in self.held:
            self.held[ev.index].append(ev.partial_json)
            return []
        elif isinstance(ev, BlockStop) and ev.index in self.held:
            text = freeform_text("".join(self.held.pop(ev.index)).encode())
            return [ToolInputDelta(index=ev.index, partial_json=text), ev] if text else [ev]
        return [ev]
