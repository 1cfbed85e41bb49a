"""Custom (freeform) tool calls restored from upstreams that call them as functions of one `input` string."""

from __future__ import annotations

import msgspec
from msgspec import Raw

from weir.canonical.content import Text, ToolUse
from weir.canonical.request import Message, Request, Tool
from weir.canonical.stream import BlockStart, BlockStop, StreamEvent, TextDelta, ToolInputDelta
from weir.pipeline.custom_tools import StreamRestorer, custom_names, freeform_text, restore

PATCH = '*** Begin Patch\n*** Add File: a.txt\n+hi "there"\n*** End Patch'
CUSTOMS = frozenset({"apply_patch"})


def test_custom_names_are_the_custom_tools_only() -> None:
    req = Request(
        model="m",
        messages=[Message(role="user", content=[Text(text="hi")])],
        tools=[Tool(name="apply_patch", kind="custom"), Tool(name="shell", input_schema=Raw(b"{}"))],
    )
    assert custom_names(req) == CUSTOMS


def test_freeform_text_unwraps_input_and_keeps_anything_else() -> None:
    assert freeform_text(b'{"input": "a\\nb"}') == "a\nb"
    assert freeform_text(b'"plain"') == "plain"
    assert freeform_text(b'{"other": 1}') == '{"other": 1}'
    assert freeform_text(b"not json") == "not json"


def test_whole_responses_get_custom_calls_back() -> None:
    wrapped = ToolUse(id="t1", name="apply_patch", input=Raw(msgspec.json.encode({"input": PATCH})))
    other = ToolUse(id="t2", name="shell", input=Raw(b'{"cmd": "ls"}'))
    restored = restore([Text(text="ok"), wrapped, other], CUSTOMS)
    call = restored[1]
    assert isinstance(call, ToolUse) and call.kind == "custom" and call.id == "t1"
    assert msgspec.json.decode(bytes(call.input)) == PATCH
    assert restored[0] == Text(text="ok") and restored[2] is other
    assert restore([wrapped], frozenset()) == [wrapped]


def feed_all(restorer: StreamRestorer, events: list[StreamEvent]) -> list[StreamEvent]:
    return [out for ev in events for out in restorer.feed(ev)]


def test_streams_hold_the_arguments_and_send_the_text_once() -> None:
    arguments = msgspec.json.encode({"input": PATCH}).decode()
    cut = [arguments[i : i + 7] for i in range(0, len(arguments), 7)]
    events: list[StreamEvent] = [
        BlockStart(index=0, block=Text(text="")),
        TextDelta(index=0, text="patching"),
        BlockStop(index=0),
        BlockStart(index=1, block=ToolUse(id="t1", name="apply_patch", input=Raw(b""))),
        *(ToolInputDelta(index=1, partial_json=part) for part in cut),
        BlockStop(index=1),
        BlockStart(index=2, block=ToolUse(id="t2", name="shell", input=Raw(b""))),
        ToolInputDelta(index=2, partial_json='{"cmd": "ls"}'),
        BlockStop(index=2),
    ]
    out = feed_all(StreamRestorer(CUSTOMS), events)
    assert out[:3] == events[:3]
    start = out[3]
    assert isinstance(start, BlockStart) and isinstance(start.block, ToolUse)
    assert (start.block.kind, bytes(start.block.input)) == ("custom", b'""')
    assert out[4:6] == [ToolInputDelta(index=1, partial_json=PATCH), BlockStop(index=1)]
    assert out[6:] == events[-3:]  # function tools pass untouched
