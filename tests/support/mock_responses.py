"""The OpenAI Responses side of the mock upstream: POST /v1/responses, as api.openai.com serves it.

Same behaviour-by-model-name and the same fixed usage as the Chat side, so a test computes the same exact cost
whichever dialect the upstream speaks. A stream is the full event sequence the real API sends (`event:` lines,
a `sequence_number` on every event, `response.created` ... `response.completed`), because the openai SDK's stream
helper and Codex check its order and identities; anything Weir passes through must survive them.

A request that asks for `reasoning` gets a reasoning item first (its `encrypted_content` only when `include` asks
for "reasoning.encrypted_content", a summary only when `reasoning.summary` is set), as the real API answers Codex.
Ids are unique per response (resp_mock<n>, msg_mock<n>, fc_mock<n>_<i>, rs_mock<n>).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tests.support import mock_upstream as m

USAGE = {
    "input_tokens": m.PROMPT_TOKENS,
    "input_tokens_details": {"cached_tokens": m.CACHED_TOKENS, "cache_write_tokens": 0},
    "output_tokens": m.COMPLETION_TOKENS,
    "output_tokens_details": {"reasoning_tokens": m.REASONING_TOKENS},
    "total_tokens": m.PROMPT_TOKENS + m.COMPLETION_TOKENS,
}
ENCRYPTED_REASONING = "gAAAAABmock-encrypted-reasoning-0123456789"
REASONING_SUMMARY = ["Thinking", " it", " over."]

_numbers = itertools.count(1)


async def responses(request: Request) -> Response:
    body = orjson.loads(await request.body())
    m.record(request, body)
    model = body.get("model", "")
    if model == "mock-error-500":
        error = {"error": {"message": "upstream exploded", "type": "server_error", "param": None, "code": None}}
        return Response(orjson.dumps(error), status_code=500, media_type="application/json")
    if model == "mock-error-400":
        error = {"error": {"message": "bad thing", "type": "invalid_request_error", "param": "x", "code": "bad"}}
        return Response(orjson.dumps(error), status_code=400, media_type="application/json")
    if model == "mock-slow":
        await asyncio.sleep(5)
    turn = _Turn(body, next(_numbers))
    if not body.get("stream"):
        return Response(orjson.dumps(turn.response("completed", turn.items(), USAGE)), media_type="application/json")
    return StreamingResponse(_stream(turn), media_type="text/event-stream; charset=utf-8")


class _Turn:
    """One answer: its ids, the request fields the real API echoes, and its finished output items."""

    def __init__(self, body: dict[str, Any], number: int) -> None:
        self.body = body
        self.model: str = body.get("model", "")
        self.id = "resp_repeated" if self.model == "mock-repeat-id" else f"resp_mock{number}"  # some upstreams repeat
        self.number = number
        self.created_at = int(time.time())
        self.reasoning: dict[str, Any] | None = body.get("reasoning")
        self.encrypted = "reasoning.encrypted_content" in (body.get("include") or [])
        self.words = m.REPLY_WORDS * (200 if self.model == "mock-long" else 1)  # mock-long: ~6 s streamed

    def reasoning_item(self, summary: list[str]) -> dict[str, Any]:
        return {
            "id": f"rs_mock{self.number}",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "".join(summary)}] if summary else [],
            "encrypted_content": ENCRYPTED_REASONING if self.encrypted else None,
        }

    def summary(self) -> list[str]:
        return REASONING_SUMMARY if self.reasoning and self.reasoning.get("summary") else []

    def message_item(self, text: str | None, status: str = "completed") -> dict[str, Any]:
        content = [] if text is None else [_text_part(text)]
        return {
            "id": f"msg_mock{self.number}",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def call_item(self, index: int, arguments: str, status: str = "completed") -> dict[str, Any]:
        call_id, name, _ = m.TOOL_CALLS[index]
        item_id = f"fc_mock{self.number}_{index}"
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": call_id,
            "name": name,
        }

    def items(self) -> list[dict[str, Any]]:
        out = [self.reasoning_item(self.summary())] if self.reasoning else []
        if self.model == "mock-tools":
            return out + [self.call_item(i, "".join(args)) for i, (_, _, args) in enumerate(m.TOOL_CALLS)]
        return [*out, self.message_item("".join(self.words))]

    def response(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        body = self.body
        reasoning = self.reasoning or {}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "safety_identifier": None,
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": body.get("metadata") or {},
        }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class _Events:
    """Frames events as the real API does: an `event:` line naming the type, then the JSON with sequence_number."""

    def __init__(self) -> None:
        self.sequence = itertools.count()

    def __call__(self, kind: str, **fields: Any) -> bytes:
        obj = {"type": kind, "sequence_number": next(self.sequence), **fields}
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


async def _stream(turn: _Turn) -> AsyncIterator[bytes]:
    event = _Events()
    yield event("response.created", response=turn.response("in_progress", [], None))
    yield event("response.in_progress", response=turn.response("in_progress", [], None))
    done: list[dict[str, Any]] = []
    if turn.reasoning:
        async for frame in _reasoning_events(turn, event, len(done)):
            yield frame
        done.append(turn.reasoning_item(turn.summary()))
    if turn.model == "mock-tools":
        for index, (_, _, args) in enumerate(m.TOOL_CALLS):
            async for frame in _call_events(turn, event, len(done), index, args):
                yield frame
            done.append(turn.call_item(index, "".join(args)))
    else:
        output_index = len(done)
        item_id = f"msg_mock{turn.number}"
        where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
        yield event(
            "response.output_item.added", output_index=output_index, item=turn.message_item(None, "in_progress")
        )
        yield event("response.content_part.added", **where, part=_text_part(""))
        for word in turn.words:
            yield event("response.output_text.delta", **where, delta=word, logprobs=[])
            await asyncio.sleep(0.005 if turn.model == "mock-long" else 0.001)
            if turn.model == "mock-cut" and word == " the":
                return  # no response.completed: a truncated answer
            if turn.model == "mock-pause" and word == " from":
                await asyncio.sleep(1.5)  # a silent upstream, for keepalives
        text = "".join(turn.words)
        yield event("response.output_text.done", **where, text=text, logprobs=[])
        yield event("response.content_part.done", **where, part=_text_part(text))
        yield event("response.output_item.done", output_index=output_index, item=turn.message_item(text))
        done.append(turn.message_item(text))
    yield event("response.completed", response=turn.response("completed", done, USAGE))


async def _reasoning_events(turn: _Turn, event: _Events, output_index: int) -> AsyncIterator[bytes]:
    item_id = f"rs_mock{turn.number}"
    yield event("response.output_item.added", output_index=output_index, item=turn.reasoning_item([]))
    summary = turn.summary()
    if summary:
        where = {"item_id": item_id, "output_index": output_index, "summary_index": 0}
        yield event("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""})
        for piece in summary:
            yield event("response.reasoning_summary_text.delta", **where, delta=piece)
            await asyncio.sleep(0.001)
        text = "".join(summary)
        yield event("response.reasoning_summary_text.done", **where, text=text)
        yield event("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text})
    yield event("response.output_item.done", output_index=output_index, item=turn.reasoning_item(summary))


async def _call_events(
    turn: _Turn, event: _Events, output_index: int, index: int, args: list[str]
) -> AsyncIterator[bytes]:
    where = {"item_id": f"fc_mock{turn.number}_{index}", "output_index": output_index}
    yield event("response.output_item.added", output_index=output_index, item=turn.call_item(index, "", "in_progress"))
    for part in args:
        yield event("response.function_call_arguments.delta", **where, delta=part)
        await asyncio.sleep(0.001)
    arguments = "".join(args)
    yield event("response.function_call_arguments.done", **where, arguments=arguments)
    yield event("response.output_item.done", output_index=output_index, item=turn.call_item(index, arguments))
