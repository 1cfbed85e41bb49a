"""Canonical stream events -> the Responses stream a client reads (Codex, the openai SDK's `.stream()` helper).

The full sequence, with `event:` lines and one increasing `sequence_number`:

    response.created, response.in_progress
    per Text block:     output_item.added (message) -> content_part.added -> output_text.delta...
                        -> output_text.done -> content_part.done -> output_item.done
    per ToolUse block:  output_item.added (function_call, arguments "") -> function_call_arguments.delta...
                        -> .done -> output_item.done          (custom tools: custom_tool_call_input.*)
    per Thinking block: output_item.added (reasoning) -> reasoning_summary_part.added -> reasoning_summary_text.delta...
                        -> .done -> reasoning_summary_part.done -> output_item.done (encrypted_content)
    response.completed  (every output item, usage with both detail objects, Weir's cost)

Every block is its own output item with its own output_index; every lifecycle event carries the same response id.
A canonical Finish is required for `response.completed`: a stream that ends without one, or with a Failure, ends in
`response.failed` and nothing after it. A max_tokens (or refusal) stop still ends in `response.completed`, whose
response has `status: "incomplete"` and `incomplete_details`: Codex and the SDK helper both require a completed event.
"""

from __future__ import annotations

import time
from typing import TypedDict

from msgspec import Raw

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
)
from weir.canonical.usage import Usage
from weir.dialects.openai_responses import content as c
from weir.dialects.openai_responses import events as e
from weir.dialects.openai_responses import schema as wire
from weir.dialects.openai_responses.response import (
    failure_error,
    new_item_id,
    reasoning_item,
    response_id,
    status_of_stop,
    usage_from_canonical,
)

TRUNCATED = "The upstream ended the stream before it was complete."
_KINDS = {"function": "function_call", "custom": "custom_tool_call"}


class _Open:
    """An output item being streamed: what it is and what it got so far."""

    __slots__ = ("kind", "output_index", "item_id", "block", "parts", "signatures", "summary_open")

    def __init__(self, kind: str, output_index: int, block: Text | ToolUse | Thinking) -> None:
        self.kind = kind  # message | function_call | custom_tool_call | reasoning
        self.output_index = output_index
        self.item_id = new_item_id(kind)
        self.block = block
        self.parts: list[str] = []  # text, arguments, freeform input or summary text
        self.signatures: list[str] = []
        self.summary_open = False

    def fields(self) -> _Fields:
        """The fields that place an event on this item (the writer sets sequence_number)."""
        return {"item_id": self.item_id, "output_index": self.output_index, "sequence_number": 0}


class _Fields(TypedDict):
    item_id: str
    output_index: int
    sequence_number: int


class FromCanonical:
    def __init__(self, model: str) -> None:
        self.model = model  # the model the client asked for
        self.response_id = ""
        self.created_at = int(time.time())
        self.sequence = 0  # the next event's sequence_number
        self.started = False
        self.stop_reason: StopReason | None = None
        self.finished = False  # a Finish was seen
        self.ended = False  # response.completed or response.failed was written: nothing more is
        self.open: dict[int, _Open] = {}  # canonical index -> item being streamed
        self.seen: set[int] = set()  # canonical indexes that got an item
        self.output: dict[int, wire.Item | Raw] = {}  # output_index -> completed item
        self.completed: e.ResponseOut | None = None  # the response of response.completed, once written

    def feed(self, ev: StreamEvent) -> bytes:
        if self.ended:
            return b""
        if isinstance(ev, Start):
            return self._start(ev.id)
        head = self._start("")
        if isinstance(ev, TextDelta | ToolInputDelta | ThinkingDelta | SignatureDelta):
            return head + self._delta(ev)
        if isinstance(ev, BlockStart):
            return head + self._block_start(ev.index, ev.block)
        if isinstance(ev, BlockStop):
            return head + self._block_stop(ev.index)
        if isinstance(ev, Finish):
            self.finished, self.stop_reason = True, ev.stop_reason
        elif isinstance(ev, Failure):
            return head + self._failed(failure_error(ev.status, ev.type, ev.message))
        return head  # UsageUpdate: finish() gets the final usage

    def finish(self, usage: Usage, cost_microcents: int | None) -> bytes:
        if self.ended:
            return b""
        out = self._start("") + b"".join(self._block_stop(index) for index in list(self.open))
        if not self.finished:  # never let a truncated answer look complete
            return out + self._failed(failure_error(502, "upstream_stream_error", TRUNCATED))
        self.ended = True
        status, incomplete = status_of_stop(self.stop_reason)
        response = self._response(status, usage_from_canonical(usage, cost_microcents))
        response.incomplete_details = incomplete
        self.completed = response
        return out + self._sse(e.ResponseEvent(type="response.completed", sequence_number=0, response=response))

    # --- lifecycle -------------------------------------------------------------------------------------------------

    def _start(self, upstream_id: str) -> bytes:
        if self.started:
            return b""
        self.started = True
        self.response_id = response_id(upstream_id)
        created = e.ResponseEvent(type="response.created", sequence_number=0, response=self._response("in_progress"))
        progress = e.ResponseEvent(
            type="response.in_progress", sequence_number=0, response=self._response("in_progress")
        )
        return self._sse(created) + self._sse(progress)

    def _response(self, status: str, usage: e.UsageOut | None = None) -> e.ResponseOut:
        output = [self.output[i] for i in sorted(self.output)] if status != "in_progress" else []
        return e.ResponseOut(
            id=self.response_id,
            created_at=self.created_at,
            status=status,
            model=self.model,
            output=output,
            usage=usage,
        )

    def _failed(self, error: e.ErrorOut) -> bytes:
        self.ended = True
        response = self._response("failed")
        response.error = error
        return self._sse(e.ResponseEvent(type="response.failed", sequence_number=0, response=response))

    def _sse(self, event: e.Event) -> bytes:
        event.sequence_number = self.sequence
        self.sequence += 1
        return e.sse(event)

    # --- items -----------------------------------------------------------------------------------------------------

    def _block_start(self, index: int, block: Text | ToolUse | Thinking) -> bytes:
        if index in self.seen:
            return b""
        self.seen.add(index)
        kind = (
            "message" if isinstance(block, Text) else "reasoning" if isinstance(block, Thinking) else _KINDS[block.kind]
        )
        state = self.open[index] = _Open(kind, len(self.seen) - 1, block)
        item: wire.Item
        if isinstance(block, ToolUse):
            item = c.call_item(ToolUse(id=block.id, name=block.name, input=c.EMPTY_STRING, kind=block.kind))
            item.id, item.status = state.item_id, "in_progress"
        elif isinstance(block, Thinking):
            item = wire.ReasoningOut(id=state.item_id, summary=[])
        else:
            item = wire.MessageOut(id=state.item_id, role="assistant", status="in_progress", content=[])
        out = self._sse(
            e.ItemEvent(
                type="response.output_item.added", sequence_number=0, output_index=state.output_index, item=item
            )
        )
        if isinstance(block, Text):
            out += self._part_event("response.content_part.added", state, "")
            if block.text:
                out += self._delta(TextDelta(index=index, text=block.text))
        elif isinstance(block, Thinking):
            if block.signature:
                state.signatures.append(block.signature)
            if block.text:
                out += self._delta(ThinkingDelta(index=index, text=block.text))
        return out

    def _delta(self, ev: TextDelta | ToolInputDelta | ThinkingDelta | SignatureDelta) -> bytes:
        state = self.open.get(ev.index)
        if state is None:
            return b""
        if isinstance(ev, TextDelta) and state.kind == "message" and ev.text:
            state.parts.append(ev.text)
            kind = "response.output_text.delta"
            return self._sse(e.TextDeltaEvent(type=kind, content_index=0, delta=ev.text, logprobs=[], **state.fields()))
        if isinstance(ev, ToolInputDelta) and state.kind in _KINDS.values() and ev.partial_json:
            state.parts.append(ev.partial_json)
            kind = "response.function_call_arguments.delta"
            if state.kind == "custom_tool_call":
                kind = "response.custom_tool_call_input.delta"
            return self._sse(e.CallDeltaEvent(type=kind, delta=ev.partial_json, **state.fields()))
        if isinstance(ev, ThinkingDelta) and state.kind == "reasoning" and ev.text:
            out = b""
            if not state.summary_open:
                state.summary_open = True
                out = self._summary_part("response.reasoning_summary_part.added", state, "")
            state.parts.append(ev.text)
            kind = "response.reasoning_summary_text.delta"
            return out + self._sse(e.SummaryDeltaEvent(type=kind, summary_index=0, delta=ev.text, **state.fields()))
        if isinstance(ev, SignatureDelta) and state.kind == "reasoning":
            state.signatures.append(ev.signature)
        return b""

    def _block_stop(self, index: int) -> bytes:
        state = self.open.pop(index, None)
        if state is None:
            return b""
        text = "".join(state.parts)
        item: wire.Item
        block = state.block
        if state.kind == "message":
            kind = "response.output_text.done"
            out = self._sse(e.TextDoneEvent(type=kind, content_index=0, text=text, logprobs=[], **state.fields()))
            out += self._part_event("response.content_part.done", state, text)
            item = wire.MessageOut(
                id=state.item_id, role="assistant", status="completed", content=[c.output_text(text)]
            )
        elif isinstance(block, ToolUse):
            call = ToolUse(id=block.id, name=block.name, input=Raw(wire.encode(text)), kind=block.kind)
            item = c.call_item(call, state.item_id, "completed")
            if isinstance(item, wire.CustomToolCallOut):
                out = self._sse(
                    e.InputDoneEvent(type="response.custom_tool_call_input.done", input=text, **state.fields())
                )
            else:
                item.arguments = text or "{}"  # a call without arguments: clients parse "{}", not ""
                kind = "response.function_call_arguments.done"
                out = self._sse(e.ArgumentsDoneEvent(type=kind, arguments=item.arguments, **state.fields()))
        else:
            assert isinstance(block, Thinking)
            out = b""
            if state.summary_open:
                kind = "response.reasoning_summary_text.done"
                out = self._sse(e.SummaryDoneEvent(type=kind, summary_index=0, text=text, **state.fields()))
                out += self._summary_part("response.reasoning_summary_part.done", state, text)
            signature = "".join(state.signatures) or None
            thinking = Thinking(text=text, signature=signature, redacted=block.redacted, origin=block.origin)
            item = reasoning_item(thinking, text, state.item_id)
        self.output[state.output_index] = item
        return out + self._item_event("response.output_item.done", state, item)

    def _item_event(self, kind: str, state: _Open, item: wire.Item) -> bytes:
        return self._sse(e.ItemEvent(type=kind, sequence_number=0, output_index=state.output_index, item=item))

    def _part_event(self, kind: str, state: _Open, text: str) -> bytes:
        part = c.output_text(text)
        return self._sse(
            e.PartEvent(
                type=kind,
                sequence_number=0,
                item_id=state.item_id,
                output_index=state.output_index,
                content_index=0,
                part=part,
            )
        )

    def _summary_part(self, kind: str, state: _Open, text: str) -> bytes:
        part = wire.SummaryText(text=text)
        return self._sse(
            e.SummaryPartEvent(
                type=kind,
                sequence_number=0,
                item_id=state.item_id,
                output_index=state.output_index,
                summary_index=0,
                part=part,
            )
        )
