"""Responses SSE streams <-> canonical stream events.

`ToCanonical` reads an upstream's events (as `weir._native.SseFramer` frames them) into sequential blocks: every
output_text (or refusal) part of a message item is a Text block, a function_call or custom_tool_call item a ToolUse
(a custom call's freeform input streams as ToolInputDelta fragments), a reasoning item a Thinking block whose text is
the summary (parts joined by a blank line) and whose signature is the item's `encrypted_content`. Items of other
types (web_search_call...) are skipped and later blocks renumbered, so canonical indexes stay positions.

The stream is whole only with `response.completed` (or `response.incomplete`); `response.failed` and `error` are a
Failure, and a stream that ends with none of them ends in a Failure too, so a truncated answer never looks whole.
Upstreams that send an item or part only in its `.done` event (or only in `response.completed`) are read as well.

`FromCanonical`, the client side, lives in `stream_out.py`.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw, UnsetType

from weir.canonical.content import Content, Text, Thinking, ToolUse
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
from weir.dialects.openai_responses import content as c
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.errors import status_of
from weir.dialects.openai_responses.response import output_blocks, stop_reason, usage_to_canonical
from weir.dialects.openai_responses.schema import DIALECT
from weir.dialects.openai_responses.stream_out import FromCanonical

__all__ = ["TRUNCATED", "FromCanonical", "ToCanonical"]

TRUNCATED = "The upstream ended the stream before response.completed."
_CALLS = frozenset({"function_call", "custom_tool_call"})
_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta"})
_CALL_DELTAS = frozenset({"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"})
_CALL_DONES = frozenset({"response.function_call_arguments.done", "response.custom_tool_call_input.done"})
_ENDS = frozenset({"response.completed", "response.incomplete"})


class _Item:
    """An upstream output item, by output_index: its kind and the canonical blocks it opened."""

    __slots__ = ("kind", "index", "parts", "sent", "summaries")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.index: int | None = None  # the canonical block of a call or reasoning item
        self.parts: dict[int, int] = {}  # content_index -> canonical block (message items)
        self.sent: set[int] = set()  # canonical blocks of this item that got content
        self.summaries = 0  # reasoning summary parts seen


class ToCanonical:
    def __init__(self) -> None:
        self.started = False
        self.ended = False  # completed, failed or finish(): nothing more is read
        self.next_index = 0
        self.open: list[int] = []  # canonical blocks started and not stopped
        self.items: dict[int, _Item] = {}  # upstream output_index -> item
        self.called = False  # a function or custom tool call was seen

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        if self.ended or not data.strip():
            return []
        try:
            ev = wire.decode_event(data)
        except msgspec.DecodeError:
            return self._fail(502, "upstream_error", f"The upstream sent an unreadable event: {data[:200]!r}")
        kind = ev.type or event or ""
        out: list[StreamEvent] = []
        if not self.started and ev.response is not None:
            self.started = True
            out.append(Start(id=ev.response.id, model=ev.response.model))
        if kind in _TEXT_DELTAS and ev.delta:
            index = self._part(ev.output_index, ev.content_index, out)
            if index is not None:
                self._item(ev.output_index).sent.add(index)
                out.append(TextDelta(index=index, text=ev.delta))
        elif kind in _CALL_DELTAS and ev.delta:
            self._call_text(ev.output_index, ev.delta, out)
        elif kind == "response.reasoning_summary_text.delta" or kind == "response.reasoning_text.delta":
            self._thinking(ev, out)
        elif kind == "response.reasoning_summary_part.added":
            self._summary_part(ev, out)
        elif kind == "response.content_part.added" and not isinstance(ev.part, UnsetType):
            self._part_added(ev.output_index, ev.content_index, ev.part, out)
        elif kind in ("response.output_text.done", "response.refusal.done", "response.content_part.done"):
            self._part_done(ev, out)
        elif kind in _CALL_DONES:
            self._call_text(ev.output_index, ev.arguments or ev.input or "", out, whole=True)
        elif kind == "response.output_item.added" and not isinstance(ev.item, UnsetType):
            self._item_added(ev.output_index, ev.item, out)
        elif kind == "response.output_item.done" and not isinstance(ev.item, UnsetType):
            self._item_done(ev.output_index, ev.item, out)
        elif kind in _ENDS and ev.response is not None:
            self._end(ev.response, out)
        elif kind == "response.failed":
            error = (ev.response.error if ev.response is not None else None) or wire.ErrorDetail()
            out += self._fail(
                status_of(error.code), error.code or "server_error", error.message or "The upstream response failed."
            )
        elif kind == "error":
            message = ev.message or "The upstream reported an error."
            out += self._fail(status_of(ev.code), ev.code or "server_error", message)
        return out  # created, in_progress, annotations, hosted tool progress, newer event types

    def finish(self) -> list[StreamEvent]:
        if self.ended:
            return []
        return self._fail(502, "upstream_error", TRUNCATED)

    # --- items -----------------------------------------------------------------------------------------------------

    def _item(self, output_index: int, kind: str = "message") -> _Item:
        item = self.items.get(output_index)
        if item is None:
            item = self.items[output_index] = _Item(kind)
        return item

    def _item_added(self, output_index: int, raw: Raw, out: list[StreamEvent]) -> None:
        kind = wire.decode_head(raw).type or ""
        item = self._item(output_index, kind)
        if kind in _CALLS:
            self.called = True
            if kind == "function_call":
                call = wire.decode_function_call(raw)
                block = ToolUse(id=call.call_id, name=call.name, input=c.EMPTY_OBJECT)
                given = call.arguments
            else:
                custom = wire.decode_custom_call(raw)
                block = ToolUse(id=custom.call_id, name=custom.name, input=c.EMPTY_STRING, kind="custom")
                given = custom.input
            item.index = self._open(block, out)
            if given:
                self._call_text(output_index, given, out)
        elif kind == "reasoning":
            item.index = self._open(Thinking(origin=DIALECT), out)

    def _item_done(self, output_index: int, raw: Raw, out: list[StreamEvent]) -> None:
        kind = wire.decode_head(raw).type or ""
        if output_index not in self.items:  # sent only whole
            self._item_added(output_index, raw, out)
        item = self._item(output_index, kind)
        if kind == "function_call":
            self._call_text(output_index, wire.decode_function_call(raw).arguments, out, whole=True)
        elif kind == "custom_tool_call":
            self._call_text(output_index, wire.decode_custom_call(raw).input, out, whole=True)
        elif kind == "reasoning" and item.index is not None:
            thinking = c.thinking(wire.decode_reasoning(raw))
            if thinking.text and item.index not in item.sent:
                out.append(ThinkingDelta(index=item.index, text=thinking.text))
            if thinking.signature:
                out.append(SignatureDelta(index=item.index, signature=thinking.signature))
        elif kind == "message" and not item.parts:  # a message sent only whole
            for block in output_blocks(raw, "item"):
                if isinstance(block, Text):
                    whole = self._open(Text(text=""), out)
                    out += [TextDelta(index=whole, text=block.text), BlockStop(index=whole)]
                    self.open.remove(whole)
        for index in [item.index, *item.parts.values()]:
            self._close(index, out)

    # --- message parts ---------------------------------------------------------------------------------------------

    def _part(self, output_index: int, content_index: int, out: list[StreamEvent]) -> int | None:
        item = self._item(output_index)
        if item.kind != "message":
            return None
        index = item.parts.get(content_index)
        if index is None:  # a delta without content_part.added
            index = item.parts[content_index] = self._open(Text(text=""), out)
        return index

    def _part_added(self, output_index: int, content_index: int, part: Raw, out: list[StreamEvent]) -> None:
        index = self._part(output_index, content_index, out)
        block = c.part_block(part, "part")
        if index is not None and isinstance(block, Text) and block.text:
            self._item(output_index).sent.add(index)
            out.append(TextDelta(index=index, text=block.text))

    def _part_done(self, ev: wire.Event, out: list[StreamEvent]) -> None:
        item = self._item(ev.output_index)
        index = self._part(ev.output_index, ev.content_index, out)
        if index is None:
            return
        text = ev.text or ev.refusal
        if text is None and not isinstance(ev.part, UnsetType):
            block = c.part_block(ev.part, "part")
            text = block.text if isinstance(block, Text) else None
        if text and index not in item.sent:
            item.sent.add(index)
            out.append(TextDelta(index=index, text=text))
        if ev.type == "response.content_part.done":
            self._close(index, out)

    # --- calls and reasoning ---------------------------------------------------------------------------------------

    def _call_text(self, output_index: int, text: str, out: list[StreamEvent], *, whole: bool = False) -> None:
        """A fragment of a call's arguments (or freeform input); `whole`: the full text, sent if nothing was."""
        item = self.items.get(output_index)
        if item is None or item.index is None or item.kind not in _CALLS or not text:
            return
        if whole and item.index in item.sent:
            return
        item.sent.add(item.index)
        out.append(ToolInputDelta(index=item.index, partial_json=text))

    def _summary_part(self, ev: wire.Event, out: list[StreamEvent]) -> None:
        item = self.items.get(ev.output_index)
        if item is None or item.index is None:
            return
        if item.summaries and item.index in item.sent:
            out.append(ThinkingDelta(index=item.index, text=c.SUMMARY_JOIN))
        item.summaries += 1

    def _thinking(self, ev: wire.Event, out: list[StreamEvent]) -> None:
        item = self.items.get(ev.output_index)
        if item is None or item.index is None or not ev.delta:
            return
        item.sent.add(item.index)
        out.append(ThinkingDelta(index=item.index, text=ev.delta))

    # --- blocks and the end ----------------------------------------------------------------------------------------

    def _open(self, block: Text | ToolUse | Thinking, out: list[StreamEvent]) -> int:
        index = self.next_index
        self.next_index += 1
        self.open.append(index)
        out.append(BlockStart(index=index, block=block))
        return index

    def _close(self, index: int | None, out: list[StreamEvent]) -> None:
        if index is not None and index in self.open:
            self.open.remove(index)
            out.append(BlockStop(index=index))

    def _close_all(self, out: list[StreamEvent]) -> None:
        out += [BlockStop(index=index) for index in self.open]
        self.open.clear()

    def _end(self, response: wire.ResponseBody, out: list[StreamEvent]) -> None:
        self._close_all(out)
        if not self.items:  # nothing streamed: the final response holds the output
            blocks = [b for i, raw in enumerate(response.output) for b in output_blocks(raw, f"output[{i}]")]
            self._whole(blocks, out)
        if response.usage is not None:
            out.append(UsageUpdate(usage=usage_to_canonical(response.usage)))
        reason = response.incomplete_details.reason if response.incomplete_details is not None else None
        out.append(Finish(stop_reason=stop_reason(response.status, reason, self.called)))
        self.ended = True

    def _whole(self, blocks: list[Content], out: list[StreamEvent]) -> None:
        for block in blocks:
            if isinstance(block, Text):
                index = self._open(Text(text=""), out)
                out.append(TextDelta(index=index, text=block.text))
            elif isinstance(block, ToolUse):
                self.called = True
                start = c.EMPTY_STRING if block.kind == "custom" else c.EMPTY_OBJECT
                index = self._open(ToolUse(id=block.id, name=block.name, input=start, kind=block.kind), out)
                out.append(ToolInputDelta(index=index, partial_json=c.arguments_text(block)))
            elif isinstance(block, Thinking):
                index = self._open(Thinking(origin=block.origin), out)
                if block.text:
                    out.append(ThinkingDelta(index=index, text=block.text))
                if block.signature:
                    out.append(SignatureDelta(index=index, signature=block.signature))
            else:
                continue
            self._close(index, out)

    def _fail(self, status: int, kind: str, message: str) -> list[StreamEvent]:
        self.ended = True
        out: list[StreamEvent] = []
        self._close_all(out)
        out.append(Failure(status=status, type=kind, message=message))
        return out
