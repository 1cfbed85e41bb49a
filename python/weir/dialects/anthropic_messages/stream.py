"""Anthropic Messages SSE <-> canonical stream events.

`ToCanonical` reads an Anthropic upstream's events (as `weir._native.SseFramer` frames them); `FromCanonical`
writes canonical events as the stream an Anthropic client expects (protocols.md 3.3).
"""

from __future__ import annotations

import msgspec

from weir.canonical import tool_ids
from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.response import StopReason
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Failure,
    Finish,
    SignatureDelta,
    Start,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import ZERO, Usage
from weir.dialects.anthropic_messages import schema as s
from weir.dialects.anthropic_messages.content import custom_input, foreign_signature
from weir.dialects.anthropic_messages.errors import status_of, stream_error_type
from weir.dialects.anthropic_messages.response import (
    message_id,
    stop_reason_from_canonical,
    stop_reason_to_canonical,
    usage_from_canonical,
    usage_to_canonical,
)

NO_INPUT = msgspec.Raw(b"{}")  # a tool_use BlockStart's input: the arguments come only as ToolInputDelta
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


class ToCanonical:
    """Upstream events -> canonical events. Block types the canonical stream does not model (server tool use and
    results) are skipped and the later blocks renumbered, so canonical indexes stay positions."""

    def __init__(self) -> None:
        self.indexes: dict[int, int] = {}  # upstream block index -> canonical index (modelled blocks only)
        self.open: list[int] = []  # canonical indexes started and not yet stopped
        self.usage = s.Usage()  # Anthropic's counts so far: message_start's, overridden by message_delta's
        self.finished = False  # message_delta (the stop reason) seen
        self.ended = False  # message_stop or an error seen: the stream is over

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        if self.ended:
            return []
        try:
            wire = s.decode_event(data)
        except msgspec.DecodeError:
            if not data.strip():
                return []
            return self._fail(502, "api_error", f"The upstream sent an unreadable event: {data[:200]!r}")
        kind = wire.type or event or ""
        if kind == "content_block_delta":
            return self._delta(wire)
        if kind == "content_block_start":
            return self._block_start(wire)
        if kind == "content_block_stop":
            index = self.indexes.get(wire.index)
            if index is None or index not in self.open:
                return []
            self.open.remove(index)
            return [BlockStop(index=index)]
        if kind == "message_start" and wire.message is not None:
            self.usage = wire.message.usage or s.Usage()
            usage = usage_to_canonical(self.usage)
            return [Start(id=wire.message.id, model=wire.message.model, usage=None if usage == ZERO else usage)]
        if kind == "message_delta":
            return self._message_delta(wire)
        if kind == "message_stop":
            return self._end()
        if kind == "error":
            error = wire.error or s.ErrorDetail()
            return self._fail(status_of(error.type), error.type, error.message)
        return []  # ping, and event types newer than this code

    def finish(self) -> list[StreamEvent]:
        """The end of the upstream's bytes. A stream cut before its stop reason must not look complete."""
        if self.ended:
            return []
        if self.finished:
            return self._end()
        closing = self._close_all()
        self.ended = True
        return [
            *closing,
            Failure(status=502, type="api_error", message="The upstream stream ended before message_stop"),
        ]

    def _block_start(self, wire: s.StreamEvent) -> list[StreamEvent]:
        raw = s.present(wire.content_block)
        if raw is None:
            return []
        kind = s.decode_head(raw).type
        block: Text | ToolUse | Thinking
        given = ""  # a tool input sent whole in the start block (some Anthropic-compatible upstreams do)
        if kind == "text":
            block = Text(text=s.decode_text(raw).text)
        elif kind == "tool_use":
            use = s.decode_tool_use(raw)
            block = ToolUse(id=use.id, name=use.name, input=NO_INPUT)
            given = "" if not s.decode_object(use.input) else bytes(use.input).decode()
        elif kind == "thinking":
            thinking = s.decode_thinking_block(raw)
            block = Thinking(text=thinking.thinking, signature=thinking.signature or None, origin=s.ORIGIN)
        elif kind == "redacted_thinking":
            block = Thinking(redacted=s.decode_redacted(raw).data, origin=s.ORIGIN)
        else:
            return []  # server_tool_use, web_search_tool_result, ...: not in the canonical stream
        index = len(self.indexes)
        self.indexes[wire.index] = index
        self.open.append(index)
        events: list[StreamEvent] = [BlockStart(index=index, block=block)]
        if given:
            events.append(ToolInputDelta(index=index, partial_json=given))
        return events

    def _delta(self, wire: s.StreamEvent) -> list[StreamEvent]:
        index = self.indexes.get(wire.index)
        delta = wire.delta
        if index is None or delta is None:
            return []
        if delta.type == "text_delta" and delta.text:
            return [TextDelta(index=index, text=delta.text)]
        if delta.type == "input_json_delta" and delta.partial_json:
            return [ToolInputDelta(index=index, partial_json=delta.partial_json)]
        if delta.type == "thinking_delta" and delta.thinking:
            return [ThinkingDelta(index=index, text=delta.thinking)]
        if delta.type == "signature_delta" and delta.signature:
            return [SignatureDelta(index=index, signature=delta.signature)]
        return []  # citations_delta, empty fragments

    def _message_delta(self, wire: s.StreamEvent) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if wire.usage is not None:
            # Cumulative counts; a count left out keeps its message_start value (SDK accumulate_event).
            new, old = wire.usage, self.usage
            self.usage = s.Usage(
                input_tokens=_first(new.input_tokens, old.input_tokens),
                cache_creation_input_tokens=_first(new.cache_creation_input_tokens, old.cache_creation_input_tokens),
                cache_read_input_tokens=_first(new.cache_read_input_tokens, old.cache_read_input_tokens),
                output_tokens=_first(new.output_tokens, old.output_tokens),
                output_tokens_details=new.output_tokens_details or old.output_tokens_details,
            )
            events.append(UsageUpdate(usage=usage_to_canonical(self.usage)))
        delta = wire.delta or s.Delta()
        self.finished = True
        reason = stop_reason_to_canonical(delta.stop_reason)
        events.append(Finish(stop_reason=reason, stop_sequence=delta.stop_sequence))
        return events

    def _end(self) -> list[StreamEvent]:
        events = self._close_all()
        if not self.finished:
            events.append(Finish(stop_reason=None))  # message_stop without message_delta: over, reason unknown
        self.finished = self.ended = True
        return events

    def _close_all(self) -> list[StreamEvent]:
        events: list[StreamEvent] = [BlockStop(index=index) for index in self.open]
        self.open.clear()
        return events

    def _fail(self, status: int, kind: str, message: str) -> list[StreamEvent]:
        self.ended = True
        return [Failure(status=status, type=kind, message=message)]


def _first(value: int | None, fallback: int | None) -> int | None:
    return fallback if value is None else value


class _Block:
    """A block as sent to the client."""

    __slots__ = ("index", "kind", "origin", "parts")

    def __init__(self, index: int, kind: str, origin: str | None = None) -> None:
        self.index = index  # position in the client's content
        self.kind = kind  # text | tool_use | custom | thinking | foreign (thinking from another upstream)
        self.origin = origin
        self.parts: list[str] = []  # custom tool input, or a foreign thinking's own signature, sent at the stop


class FromCanonical:
    """Canonical events -> the SSE bytes an Anthropic client reads. Every event carries its `event:` name."""

    def __init__(self, model: str) -> None:
        self.model = model  # the model the client asked for
        self.started = False
        self.blocks: dict[int, _Block | None] = {}  # canonical index -> client block (None: not sent)
        self.sent = 0  # blocks sent: the next one's index
        self.open: int | None = None  # the canonical index of the block open on the wire
        self.tool_used = False
        self.stop_reason: StopReason | None = None
        self.stop_sequence: str | None = None
        self.done = False  # an error was sent, or finish() ran
        # message_start's input_tokens when the upstream counts only at the end (Claude Code shows it as the
        # context used): the caller's local count of the request; the final message_delta has the real count.
        self.input_estimate = 0

    def feed(self, ev: StreamEvent) -> bytes:
        if self.done:
            return b""
        if isinstance(ev, Failure):
            self.done = True
            error = s.ErrorBody(error=s.ErrorDetail(type=stream_error_type(ev.status, ev.type), message=ev.message))
            return s.sse(b"error", error)
        if isinstance(ev, Finish):
            self.stop_reason, self.stop_sequence = ev.stop_reason, ev.stop_sequence  # sent by finish()
            return b""
        if isinstance(ev, UsageUpdate):
            return b""  # finish() gets the final usage
        if isinstance(ev, Start):
            return self._start(ev.id, ev.usage)
        head = self._start("", None)
        if isinstance(ev, BlockStart):
            return head + self._block_start(ev)
        if isinstance(ev, BlockStop):
            return head + self._block_stop(ev.index)
        return head + self._delta(ev)

    def ping(self) -> bytes:
        return b"" if self.done else PING

    def finish(self, usage: Usage, cost_microcents: int | None) -> bytes:
        if self.done:
            return b""
        out = self._start("", None)
        if self.open is not None:
            out += self._block_stop(self.open)
        self.done = True
        reason = stop_reason_from_canonical(self.stop_reason, self.tool_used)
        delta = s.MessageDeltaEvent(
            delta=s.StopDelta(stop_reason=reason, stop_sequence=self.stop_sequence),
            usage=usage_from_canonical(usage, cost_microcents),
        )
        return out + s.sse(b"message_delta", delta) + s.sse(b"message_stop", s.MessageStopEvent())

    def _start(self, upstream_id: str, usage: Usage | None) -> bytes:
        if self.started:
            return b""
        self.started = True
        message = s.MessageOut(
            id=message_id(upstream_id),
            model=self.model,
            content=[],
            stop_reason=None,
            stop_sequence=None,
            usage=usage_from_canonical(self._start_usage(usage), None),
        )
        return s.sse(b"message_start", s.MessageStartEvent(message=message))

    def _start_usage(self, usage: Usage | None) -> Usage:
        if usage is not None and usage.input:
            return usage
        return Usage(input=self.input_estimate) if self.input_estimate else usage or ZERO

    def _block_start(self, ev: BlockStart) -> bytes:
        if ev.index in self.blocks:
            return b""
        out = self._block_stop(self.open) if self.open is not None else b""  # blocks never interleave
        block = ev.block
        wire: s.OutBlock
        if isinstance(block, Text):
            kind, wire = "text", s.TextBlock(text=block.text)
        elif isinstance(block, ToolUse):
            self.tool_used = True
            kind = "custom" if block.kind == "custom" else "tool_use"
            wire = s.ToolUseBlock(id=tool_ids.sanitize(block.id), name=block.name, input=NO_INPUT)
        elif block.origin in s.ORIGINS and block.redacted is not None:
            kind, wire = "redacted", s.RedactedThinkingBlock(data=block.redacted)
        elif block.origin in s.ORIGINS:
            kind, wire = "thinking", s.ThinkingBlock(thinking=block.text, signature=block.signature or "")
        elif block.redacted is None:
            kind, wire = "foreign", s.ThinkingBlock(thinking=block.text, signature="")
        else:
            self.blocks[ev.index] = None  # another provider's encrypted reasoning: nothing a client can show
            return out
        state = _Block(self.sent, kind)
        self.sent += 1
        if kind == "foreign" and isinstance(block, Thinking):
            state.origin = block.origin
            state.parts.extend([block.signature] if block.signature else [])
        self.blocks[ev.index] = state
        self.open = ev.index
        return out + s.sse(b"content_block_start", s.BlockStartEvent(index=state.index, content_block=wire))

    def _delta(self, ev: TextDelta | ToolInputDelta | ThinkingDelta | SignatureDelta) -> bytes:
        state = self.blocks.get(ev.index)
        if state is None:
            return b""
        delta: s.TextDeltaOut | s.InputJsonDeltaOut | s.ThinkingDeltaOut | s.SignatureDeltaOut
        if isinstance(ev, TextDelta) and state.kind == "text" and ev.text:
            delta = s.TextDeltaOut(text=ev.text)
        elif isinstance(ev, ToolInputDelta) and state.kind == "tool_use" and ev.partial_json:
            delta = s.InputJsonDeltaOut(partial_json=ev.partial_json)
        elif isinstance(ev, ThinkingDelta) and state.kind in ("thinking", "foreign") and ev.text:
            delta = s.ThinkingDeltaOut(thinking=ev.text)
        elif isinstance(ev, SignatureDelta) and state.kind == "thinking" and ev.signature:
            delta = s.SignatureDeltaOut(signature=ev.signature)
        else:
            if isinstance(ev, ToolInputDelta) and state.kind == "custom":
                state.parts.append(ev.partial_json)  # freeform text: wrapped as {"input": ...} at the stop
            elif isinstance(ev, SignatureDelta) and state.kind == "foreign":
                state.parts.append(ev.signature)
            return b""
        return s.sse(b"content_block_delta", s.BlockDeltaEvent(index=state.index, delta=delta))

    def _block_stop(self, index: int) -> bytes:
        state = self.blocks.get(index)
        if self.open != index or state is None:
            return b""  # never sent, or already closed when the next block started
        self.open = None
        out = b""
        last: s.InputJsonDeltaOut | s.SignatureDeltaOut | None = None
        if state.kind == "custom":
            last = s.InputJsonDeltaOut(partial_json=custom_input("".join(state.parts)))
        elif state.kind == "foreign":
            last = s.SignatureDeltaOut(signature=foreign_signature(state.origin, "".join(state.parts)))
        if last is not None:
            out = s.sse(b"content_block_delta", s.BlockDeltaEvent(index=state.index, delta=last))
        return out + s.sse(b"content_block_stop", s.BlockStopEvent(index=state.index))
