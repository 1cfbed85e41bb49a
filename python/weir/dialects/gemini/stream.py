"""streamGenerateContent?alt=sse <-> canonical stream events.

`ToCanonical` reads an upstream's chunks. Each is a whole GenerateContentResponse (usage cumulative, the last one
with finishReason). Text and thought parts extend the open text or thinking block; a part that carries a
thoughtSignature ends its block with a SignatureDelta, so every signature stays with the text it signed.
functionCall parts arrive whole: BlockStart(ToolUse), one ToolInputDelta (the args JSON), BlockStop. A stream
without finishReason ends in a Failure: a truncated answer never looks whole.

`FromCanonical` writes chunks framed exactly `data: <json>\\r\\n\\r\\n`: google-genai breaks on any other line (a
comment, `event:`), and the legacy JS SDK wants CRLF. Text goes out as it comes; a tool call's input is held until
its BlockStop and sent as one functionCall part with `args` as an object. `finish()` sends the last chunk with
finishReason and usageMetadata.
"""

from __future__ import annotations

import msgspec
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
    UsageUpdate,
)
from weir.canonical.usage import Usage
from weir.dialects.gemini import schema as s
from weir.dialects.gemini.content import Calls, part_to_canonical, tool_args
from weir.dialects.gemini.errors import body as error_body
from weir.dialects.gemini.errors import rpc_status
from weir.dialects.gemini.response import (
    EMPTY_PART,
    finish_reason_from_canonical,
    first_candidate,
    response_id,
    stop_reason_to_canonical,
    usage_from_canonical,
    usage_to_canonical,
)
from weir.errors import InvalidRequest

NO_INPUT = Raw(b"{}")  # a ToolUse BlockStart's input: the arguments follow as a ToolInputDelta
TRUNCATED = "The upstream stream ended before its finishReason"
CRLF2 = b"\r\n\r\n"


class ToCanonical:
    def __init__(self) -> None:
        self.started = False
        self.finished = False  # a finishReason (or a blocked prompt) was seen
        self.ended = False  # a failure or finish(): nothing more is read
        self.next_index = 0  # canonical index of the next block
        self.open_index: int | None = None
        self.open_kind: str | None = None  # "text" | "thinking"
        self.calls = Calls()
        self.tool_used = False
        self.usage: Usage | None = None  # the latest reported, to send UsageUpdate only on change

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        if self.ended or not data.strip():
            return []
        try:
            chunk = s.decode_response(data)
        except msgspec.DecodeError:
            return self._fail(502, "upstream_error", f"The upstream sent an unreadable chunk: {data[:200]!r}")
        if chunk.error is not None:
            error = chunk.error
            return self._fail(error.code, rpc_status(error.code, error.status), error.message or TRUNCATED)
        out: list[StreamEvent] = []
        if not self.started:
            self.started = True
            self.calls = Calls(chunk.response_id)
            out.append(Start(id=chunk.response_id, model=chunk.model_version))
        candidate = first_candidate(chunk)
        if candidate is not None and candidate.content is not None and not self.finished:
            try:
                for raw in candidate.content.parts or ():
                    self._part(raw, out)
            except InvalidRequest as exc:
                return out + self._fail(502, "upstream_error", f"The upstream sent an unreadable part: {exc.message}")
        if chunk.usage_metadata is not None:
            usage = usage_to_canonical(chunk.usage_metadata)
            if usage != self.usage:
                self.usage = usage
                out.append(UsageUpdate(usage=usage))
        if self.finished:
            return out
        if candidate is not None and candidate.finish_reason:
            self._finish(stop_reason_to_canonical(candidate.finish_reason, self.tool_used), out)
        elif candidate is None and chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
            self._finish("refusal", out)  # the prompt was blocked: no candidates at all
        return out

    def finish(self) -> list[StreamEvent]:
        if self.ended:
            return []
        if self.finished:
            self.ended = True
            return []
        return self._fail(502, "upstream_error", TRUNCATED)

    def _part(self, raw: Raw, out: list[StreamEvent]) -> None:
        block = part_to_canonical(raw, "candidates[0].content.parts", self.calls)
        if isinstance(block, Text | Thinking):
            kind = "text" if isinstance(block, Text) else "thinking"
            if block.text or block.signature:
                index = self._open(kind, out)
                if block.text:
                    delta = TextDelta if kind == "text" else ThinkingDelta
                    out.append(delta(index=index, text=block.text))
                if block.signature:
                    out.append(SignatureDelta(index=index, signature=block.signature))
                    self._close(out)  # the signature ends the part it signed
        elif isinstance(block, ToolUse):
            self._close(out)
            self.tool_used = True
            index = self.next_index
            self.next_index += 1
            start = ToolUse(id=block.id, name=block.name, input=NO_INPUT, signature=block.signature)
            out.append(BlockStart(index=index, block=start))
            out.append(ToolInputDelta(index=index, partial_json=bytes(block.input).decode()))
            out.append(BlockStop(index=index))
        # inlineData (generated images), executableCode...: not in the canonical stream

    def _open(self, kind: str, out: list[StreamEvent]) -> int:
        if self.open_index is not None and self.open_kind == kind:
            return self.open_index
        self._close(out)
        index = self.open_index = self.next_index
        self.open_kind = kind
        self.next_index += 1
        out.append(BlockStart(index=index, block=Text(text="") if kind == "text" else Thinking(origin=s.DIALECT)))
        return index

    def _close(self, out: list[StreamEvent]) -> None:
        if self.open_index is not None:
            out.append(BlockStop(index=self.open_index))
            self.open_index = self.open_kind = None

    def _finish(self, reason: StopReason, out: list[StreamEvent]) -> None:
        self.finished = True
        self._close(out)
        out.append(Finish(stop_reason=reason))

    def _fail(self, status: int, kind: str, message: str) -> list[StreamEvent]:
        self.ended = True
        out: list[StreamEvent] = []
        self._close(out)
        out.append(Failure(status=status, type=kind, message=message))
        return out


class _Block:
    """A block as sent to the client: its kind, and a tool call's parts until its BlockStop."""

    __slots__ = ("call", "kind", "parts", "signed")

    def __init__(self, kind: str, *, signed: bool = False, call: ToolUse | None = None) -> None:
        self.kind = kind  # text | thinking | tool | skip
        self.signed = signed  # its signatures may go out (text, and thinking of Gemini's)
        self.call = call
        self.parts: list[str] = []


class FromCanonical:
    """Canonical events -> the SSE bytes a Gemini client reads."""

    def __init__(self, model: str) -> None:
        self.model = model  # the model the client asked for
        self.response_id = ""
        self.started = False
        self.blocks: dict[int, _Block] = {}
        self.finished = False  # a Finish was seen
        self.stop_reason: StopReason | None = None
        self.done = False  # an error was sent, or finish() ran
        self._head = b""  # `data: {"candidates":[{"content":{"role":"model","parts":[`
        self._tail = b""  # `]},"index":0}],"modelVersion":...,"responseId":...}\r\n\r\n`

    def feed(self, ev: StreamEvent) -> bytes:
        if self.done:
            return b""
        if isinstance(ev, Start):
            self._begin(ev.id)
            return b""
        self._begin("")
        if isinstance(ev, Failure):
            self.done = True
            return b"data: " + s.escaped(error_body(ev.status, ev.type, ev.message)) + CRLF2
        if isinstance(ev, Finish):
            self.finished, self.stop_reason = True, ev.stop_reason
            return b""
        if isinstance(ev, BlockStart):
            return self._block_start(ev.index, ev.block)
        if isinstance(ev, BlockStop):
            return self._flush(ev.index)
        block = self.blocks.get(ev.index) if not isinstance(ev, UsageUpdate) else None
        if block is None:
            return b""  # UsageUpdate (finish() gets the final usage), or a block never sent
        if isinstance(ev, TextDelta) and block.kind == "text" and ev.text:
            return self._chunk(s.PartOut(text=ev.text))
        if isinstance(ev, ThinkingDelta) and block.kind == "thinking" and ev.text:
            return self._chunk(s.PartOut(text=ev.text, thought=True))
        if isinstance(ev, SignatureDelta) and block.signed and ev.signature:
            thought = True if block.kind == "thinking" else msgspec.UNSET
            return self._chunk(s.PartOut(text="", thought=thought, thought_signature=ev.signature))
        if isinstance(ev, ToolInputDelta) and block.kind == "tool":
            block.parts.append(ev.partial_json)
        return b""

    def finish(self, usage: Usage, cost_microcents: int | None) -> bytes:
        if self.done:
            return b""
        self._begin("")
        out = b"".join(self._flush(index) for index in list(self.blocks))
        self.done = True
        if not self.finished:  # never let a truncated answer look complete
            return out + b"data: " + error_body(502, "UNAVAILABLE", TRUNCATED) + CRLF2
        candidate = s.CandidateOut(
            content=s.ContentOut(role="model", parts=[EMPTY_PART]),  # google-genai's chat keeps no part-less chunk
            finish_reason=finish_reason_from_canonical(self.stop_reason),
        )
        last = s.ResponseOut(
            candidates=[candidate],
            usage_metadata=usage_from_canonical(usage, cost_microcents),
            model_version=self.model,
            response_id=self.response_id,
        )
        return out + b"data: " + s.encode(last) + CRLF2

    def _begin(self, upstream_id: str) -> None:
        if self.started:
            return
        self.started = True
        self.response_id = response_id(upstream_id)
        self._head = b'data: {"candidates":[{"content":{"role":"model","parts":['
        self._tail = (
            b']},"index":0}],"modelVersion":'
            + s.encode(self.model)
            + b',"responseId":'
            + s.encode(self.response_id)
            + b"}"
            + CRLF2
        )

    def _chunk(self, part: s.PartOut) -> bytes:
        return self._head + s.escaped(s.encode(part)) + self._tail

    def _block_start(self, index: int, block: Text | ToolUse | Thinking) -> bytes:
        if index in self.blocks:
            return b""
        if isinstance(block, ToolUse):
            self.blocks[index] = _Block("tool", call=block)
            return b""
        if isinstance(block, Text):
            self.blocks[index] = _Block("text", signed=True)  # only the gemini dialect signs text
            signature = block.signature
            part = s.PartOut(text=block.text, thought_signature=signature or msgspec.UNSET)
        elif block.redacted is not None and not block.text:
            self.blocks[index] = _Block("skip")  # another provider's encrypted reasoning: nothing to show
            return b""
        else:
            ours = block.origin == s.DIALECT
            self.blocks[index] = _Block("thinking", signed=ours)
            signature = block.signature if ours else None
            part = s.PartOut(text=block.text, thought=True, thought_signature=signature or msgspec.UNSET)
        return self._chunk(part) if block.text or signature else b""

    def _flush(self, index: int) -> bytes:
        block = self.blocks.pop(index, None)
        if block is None or block.call is None:
            return b""
        call = block.call
        text = "".join(block.parts)
        if call.kind == "custom":
            args = s.raw_of({"input": text})
        else:
            args = tool_args(ToolUse(id=call.id, name=call.name, input=Raw(text.encode() or b"{}")), [])
        function_call = s.FunctionCallOut(name=call.name, args=args, id=call.id)
        return self._chunk(s.PartOut(function_call=function_call, thought_signature=call.signature or msgspec.UNSET))
