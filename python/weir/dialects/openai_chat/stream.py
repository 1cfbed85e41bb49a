"""OpenAI chat.completion.chunk streams <-> canonical stream events.

`ToCanonical` reads an upstream's chunks (only choice 0) into sequential blocks: a text, thinking or tool block opens
when its first delta arrives and closes when another block starts or the choice finishes. A stream is complete only
when it carried a finish_reason or `[DONE]`: anything else ends in a Failure, so a truncated answer never looks
whole. Custom tool calls stream their freeform input as the fragments of a ToolInputDelta.

`FromCanonical` writes chunks from prebuilt byte templates: one `data: <json>\\n\\n` per event, never `event:`, `id:`
or `retry:` lines (openai-python chokes on data-less events).
"""

from __future__ import annotations

import time

import msgspec
import orjson
from msgspec import Raw

from weir.canonical.content import Text, Thinking, ToolUse
from weir.canonical.stream import (
    BlockStart,
    BlockStop,
    Failure,
    Finish,
    Start,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.openai_chat import schema as wire
from weir.dialects.openai_chat.content import DIALECT, EMPTY_OBJECT
from weir.dialects.openai_chat.errors import UpstreamError, stream_error
from weir.dialects.openai_chat.response import FINISH_REASONS, completion_id, stop_reason, usage_from_canonical
from weir.dialects.openai_chat.response import usage_to_canonical as usage_of
from weir.errors import UpstreamStreamError

EMPTY_STRING = Raw(b'""')  # the input a custom tool call starts with
TRUNCATED = "The upstream ended the stream before it was complete."


class ToCanonical:
    def __init__(self) -> None:
        self.started = False
        self.finished = False  # a finish_reason (or [DONE]) was seen
        self.ended = False  # [DONE], a failure or finish(): nothing more is read
        self.next_index = 0  # canonical index of the next block
        self.open_index: int | None = None
        self.open_kind: str | None = None  # "text" | "thinking" | "tool"
        self.tools: dict[int, int] = {}  # upstream tool_calls index -> canonical block index
        self.last_tool = 0  # upstream index of the latest tool call (for deltas that leave `index` out)

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        if self.ended or not data.strip():
            return []
        if data.startswith(b"[DONE]"):
            return self._done()
        try:
            chunk = wire.decode_chunk(data)
        except msgspec.DecodeError:
            return self._fail(502, "upstream_error", "The upstream sent a malformed stream chunk.")
        if chunk.error is not None:
            return self._upstream_error(chunk.error)
        if event == "error":
            return self._fail(502, "upstream_error", data.decode("utf-8", "replace"))
        out: list[StreamEvent] = []
        if not self.started and (chunk.choices or chunk.usage is not None):  # skips Azure's prompt_filter chunk
            self.started = True
            out.append(Start(id=chunk.id, model=chunk.model))
        for choice in chunk.choices or ():
            if choice.index == 0 and not self.finished:
                self._choice(choice, out)
        if chunk.usage is not None:
            out.append(UsageUpdate(usage=usage_of(chunk.usage)))
        return out

    def finish(self) -> list[StreamEvent]:
        if self.ended:
            return []
        if self.finished:
            self.ended = True
            return self._close([])
        return self._fail(502, "upstream_error", TRUNCATED)

    def _choice(self, choice: wire.ChunkChoice, out: list[StreamEvent]) -> None:
        delta = choice.delta
        if delta is not None:
            reasoning = delta.reasoning_content if delta.reasoning_content is not None else delta.reasoning
            if reasoning:
                self._text("thinking", reasoning, out)
            if delta.content:
                self._text("text", delta.content, out)
            if delta.refusal:
                self._text("text", delta.refusal, out)
            for call in delta.tool_calls or ():
                self._tool(call, out)
        if choice.finish_reason is not None:
            self.finished = True
            self._close(out).append(Finish(stop_reason=stop_reason(choice.finish_reason, bool(self.tools))))

    def _text(self, kind: str, text: str, out: list[StreamEvent]) -> None:
        index = self.open_index
        if index is None or self.open_kind != kind:
            index = self._open(kind, out)
            block = Text(text="") if kind == "text" else Thinking(origin=DIALECT)
            out.append(BlockStart(index=index, block=block))
        out.append(TextDelta(index=index, text=text) if kind == "text" else ThinkingDelta(index=index, text=text))

    def _tool(self, call: wire.ToolCallDelta, out: list[StreamEvent]) -> None:
        key = call.index
        if key is None:  # a new call if it has an id, else more of the latest one
            key = max(self.tools, default=-1) + 1 if call.id else self.last_tool
        self.last_tool = key
        fn, custom = call.function, call.custom
        index = self.tools.get(key)
        if index is None:
            index = self.tools[key] = self._open("tool", out)
            is_custom = call.type == "custom" or (fn is None and custom is not None)
            name = (custom.name if is_custom and custom is not None else fn.name if fn is not None else None) or ""
            tool_id = call.id or f"call_{index}"
            if is_custom:
                block = ToolUse(id=tool_id, name=name, input=EMPTY_STRING, kind="custom")
            else:
                block = ToolUse(id=tool_id, name=name, input=EMPTY_OBJECT)
            out.append(BlockStart(index=index, block=block))
        # A fragment for a call that is no longer the open block (interleaved calls, which no known upstream sends)
        # still goes to that call's index.
        fragment = fn.arguments if fn is not None else custom.input if custom is not None else None
        if fragment:
            out.append(ToolInputDelta(index=index, partial_json=fragment))

    def _open(self, kind: str, out: list[StreamEvent]) -> int:
        self._close(out)
        index = self.open_index = self.next_index
        self.open_kind = kind
        self.next_index += 1
        return index

    def _close(self, out: list[StreamEvent]) -> list[StreamEvent]:
        if self.open_index is not None:
            out.append(BlockStop(index=self.open_index))
            self.open_index = self.open_kind = None
        return out

    def _done(self) -> list[StreamEvent]:
        """`[DONE]`: the upstream says the answer is whole, even if it sent no finish_reason."""
        self.ended = True
        out = self._close([])
        if not self.finished:
            self.finished = True
            out.append(Finish(stop_reason="tool_use" if self.tools else "end_turn"))
        return out

    def _fail(self, status: int, type_: str, message: str) -> list[StreamEvent]:
        self.ended = True
        out = self._close([])
        out.append(Failure(status=status, type=type_, message=message))
        return out

    def _upstream_error(self, error: wire.ErrorBody | str) -> list[StreamEvent]:
        if isinstance(error, str):
            return self._fail(502, "upstream_error", error or "The upstream reported an error.")
        code = str(error.code)  # OpenRouter puts the HTTP status there; OpenAI a name like "server_error"
        status = int(code) if code.isdigit() and 400 <= int(code) < 600 else 502
        return self._fail(
            status,
            error.type or "upstream_error",
            error.message or "The upstream reported an error.",
        )


class FromCanonical:
    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())
        self.started = False
        self.finished = False  # a Finish was written
        self.ended = False  # a failure or finish(): nothing more is written
        self.tool_calls: dict[int, int] = {}  # canonical block index -> tool_calls index (0, 1, 2...)
        self.custom: set[int] = set()  # canonical indexes of custom tool calls
        self.silent: set[int] = set()  # canonical indexes of function calls that sent no arguments yet
        self._choices = b""  # `data: {"id":...,"model":...,"choices":` once started
        self._delta = b""  # ..._choices + `[{"index":0,"delta":`
        self._content = b""  # ..._delta + `{"content":`
        self._reasoning = b""  # ..._delta + `{"reasoning_content":`

    def feed(self, ev: StreamEvent) -> bytes:
        if self.ended:
            return b""
        head = b"" if self.started or isinstance(ev, Start) else self._start("")
        if isinstance(ev, TextDelta):
            return head + self._content + orjson.dumps(ev.text) + _FIELD_TAIL
        if isinstance(ev, ToolInputDelta):
            return head + self._arguments(ev.index, ev.partial_json)
        if isinstance(ev, ThinkingDelta):
            return head + self._reasoning + orjson.dumps(ev.text) + _FIELD_TAIL
        if isinstance(ev, BlockStart):
            return head + self._block_start(ev.index, ev.block)
        if isinstance(ev, BlockStop):
            if ev.index in self.silent:  # a call without arguments: clients parse "{}", not ""
                return head + self._arguments(ev.index, "{}")
            return head
        if isinstance(ev, Start):
            return b"" if self.started else self._start(ev.id)
        if isinstance(ev, Finish):
            self.finished = True
            reason = orjson.dumps(FINISH_REASONS.get(ev.stop_reason, "stop"))
            return head + self._delta + b'{},"finish_reason":' + reason + b"}]}\n\n"
        if isinstance(ev, Failure):
            self.ended = True
            return head + stream_error(UpstreamError(ev.message, status=ev.status, type=ev.type))
        return head  # UsageUpdate (finish() gets the final usage), SignatureDelta (nothing in this dialect)

    def finish(self, usage: Usage, cost_microcents: int | None) -> bytes:
        if self.ended:
            return b""
        self.ended = True
        if not self.finished:  # never let a truncated answer look complete
            return stream_error(UpstreamStreamError(TRUNCATED))
        out = b""
        if self.include_usage:
            body = wire.encode(usage_from_canonical(usage, cost_microcents))
            out = self._choices + b'[],"usage":' + body + b"}\n\n"
        return out + b"data: [DONE]\n\n"

    def _start(self, upstream_id: str) -> bytes:
        self.started = True
        self._choices = (
            b'data: {"id":'
            + orjson.dumps(completion_id(upstream_id))
            + b',"object":"chat.completion.chunk","created":'
            + str(self.created).encode()
            + b',"model":'
            + orjson.dumps(self.model)
            + b',"choices":'
        )
        self._delta = self._choices + b'[{"index":0,"delta":'
        self._content = self._delta + b'{"content":'
        self._reasoning = self._delta + b'{"reasoning_content":'
        return self._delta + b'{"role":"assistant","content":""}' + _TAIL

    def _block_start(self, index: int, block: Text | ToolUse | Thinking) -> bytes:
        if isinstance(block, Text):  # blocks start empty; a producer that filled one still gets its text out
            return self._content + orjson.dumps(block.text) + _FIELD_TAIL if block.text else b""
        if isinstance(block, Thinking):
            return self._reasoning + orjson.dumps(block.text) + _FIELD_TAIL if block.text else b""
        position = self.tool_calls[index] = len(self.tool_calls)
        kind = "custom" if block.kind == "custom" else "function"
        if kind == "custom":
            self.custom.add(index)
            call = {"index": position, "id": block.id, "type": kind, "custom": {"name": block.name, "input": ""}}
        else:
            self.silent.add(index)
            call = {"index": position, "id": block.id, "type": kind, "function": {"name": block.name, "arguments": ""}}
        return self._delta + b'{"tool_calls":[' + orjson.dumps(call) + b"]}" + _TAIL

    def _arguments(self, index: int, fragment: str) -> bytes:
        position = self.tool_calls.get(index)
        if position is None or not fragment:
            return b""
        self.silent.discard(index)
        field = b'"custom":{"input":' if index in self.custom else b'"function":{"arguments":'
        call = b'{"tool_calls":[{"index":' + str(position).encode() + b"," + field + orjson.dumps(fragment) + b"}}]}"
        return self._delta + call + _TAIL


_TAIL = b',"finish_reason":null}]}\n\n'  # after a whole delta object
_FIELD_TAIL = b"}" + _TAIL  # after the one field of a delta object
