"""The mock upstream's OpenAI Responses and Gemini sides against the real SDKs that parse those dialects.

Weir's end-to-end tests trust the mock to answer as api.openai.com and the Gemini API do; these tests earn that
trust: the openai SDK's `responses.create` / `responses.stream` (whose stream helper checks event order and
identities) and google-genai's `generate_content` / `generate_content_stream` (v1beta and v1) parse its text,
function calls, reasoning items and usage, and the raw wire has the framing each dialect's clients require.
Nothing new is started: the session's mock serves them. Requests are found by a marker in their body, so these
tests neither clear nor depend on what other tests left in the mock's record.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.support import mock_gemini, mock_responses
from tests.support import mock_upstream as mock

REPLY = "".join(mock.REPLY_WORDS)
GEMINI_KEY = "gemini-key-canary-9876543210"
CALLS = [(cid, name, orjson.loads("".join(args))) for cid, name, args in mock.TOOL_CALLS]


def marker() -> str:
    return f"marker-{uuid.uuid4().hex}"


def recorded(upstream: str, text: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = httpx.get(f"{upstream}/_mock/requests").json()
    return [r for r in seen if text in orjson.dumps(r["body"]).decode()]


@pytest.fixture(scope="module")
def oai(mock_upstream: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{mock_upstream}/v1", api_key="sk-mock", max_retries=0) as client:
        yield client


def call_triples(output: list[Any]) -> list[tuple[str, str, Any]]:
    return [(item.call_id, item.name, orjson.loads(item.arguments)) for item in output if item.type == "function_call"]


# OpenAI Responses


def test_responses_create_text(oai: openai.OpenAI, mock_upstream: str) -> None:
    ask = marker()
    response = oai.responses.create(model="mock-model", input=ask)
    assert response.output_text == REPLY
    assert response.status == "completed" and response.id.startswith("resp_mock")
    assert [item.type for item in response.output] == ["message"]
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (mock.PROMPT_TOKENS, mock.COMPLETION_TOKENS)
    assert usage.input_tokens_details.cached_tokens == mock.CACHED_TOKENS
    assert usage.output_tokens_details.reasoning_tokens == mock.REASONING_TOKENS
    assert usage.total_tokens == mock.PROMPT_TOKENS + mock.COMPLETION_TOKENS
    [seen] = recorded(mock_upstream, ask)
    assert seen["path"] == "/v1/responses" and seen["headers"]["authorization"] == "Bearer sk-mock"


def test_responses_create_function_calls(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="mock-tools", input=marker())
    assert call_triples(response.output) == CALLS
    assert response.output_text == ""


def test_responses_ids_are_unique(oai: openai.OpenAI) -> None:
    first, second = (oai.responses.create(model="mock-model", input=marker()) for _ in range(2))
    assert first.id != second.id


def test_responses_stream_text(oai: openai.OpenAI) -> None:
    deltas = []
    with oai.responses.stream(model="mock-model", input=marker()) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert deltas == mock.REPLY_WORDS
    assert final.output_text == REPLY
    assert final.usage is not None and final.usage.output_tokens == mock.COMPLETION_TOKENS


def test_responses_stream_function_calls(oai: openai.OpenAI) -> None:
    arguments: dict[str, str] = {}
    with oai.responses.stream(model="mock-tools", input=marker()) as stream:
        for event in stream:
            if event.type == "response.function_call_arguments.delta":
                arguments[event.item_id] = arguments.get(event.item_id, "") + event.delta
        final = stream.get_final_response()
    assert call_triples(final.output) == CALLS
    assert sorted(arguments.values()) == sorted("".join(args) for _, _, args in mock.TOOL_CALLS)


@pytest.mark.parametrize("streamed", [False, True])
def test_responses_reasoning_item(oai: openai.OpenAI, streamed: bool) -> None:
    ask: dict[str, Any] = {
        "model": "mock-model",
        "input": marker(),
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
    }
    if streamed:
        with oai.responses.stream(**ask) as stream:
            kinds = {event.type for event in stream}
            response = stream.get_final_response()
        assert "response.reasoning_summary_text.delta" in kinds
    else:
        response = oai.responses.create(**ask)
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert reasoning.encrypted_content == mock_responses.ENCRYPTED_REASONING
    assert [s.text for s in reasoning.summary] == ["".join(mock_responses.REASONING_SUMMARY)]
    assert response.output_text == REPLY


def test_responses_encrypted_reasoning_only_when_included(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="mock-model", input=marker(), reasoning={"effort": "low"})
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content is None and reasoning.summary == []


def sse_frames(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    frames = []
    for block in body.decode().split("\n\n"):
        if block:
            event, data = block.split("\n")
            assert event.startswith("event: ") and data.startswith("data: "), block
            frames.append((event.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return frames


def test_responses_stream_wire(mock_upstream: str) -> None:
    ask = {"model": "mock-model", "input": marker(), "stream": True}
    answer = httpx.post(f"{mock_upstream}/v1/responses", json=ask, timeout=10)
    assert answer.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(answer.content)
    assert all(name == data["type"] for name, data in frames)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    kinds = [name for name, _ in frames]
    deltas = ["response.output_text.delta"] * len(mock.REPLY_WORDS)
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert frames[0][1]["response"]["usage"] is None
    assert frames[-1][1]["response"]["usage"] == mock_responses.USAGE


def test_responses_cut_stream_never_completes(oai: openai.OpenAI, mock_upstream: str) -> None:
    ask = {"model": "mock-cut", "input": marker(), "stream": True}
    frames = sse_frames(httpx.post(f"{mock_upstream}/v1/responses", json=ask, timeout=10).content)
    assert frames[-1][0] == "response.output_text.delta" and frames[-1][1]["delta"] == " the"
    with pytest.raises(RuntimeError, match="response.completed"):
        with oai.responses.stream(model="mock-cut", input=marker()) as stream:
            stream.get_final_response()


def test_responses_error_500(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="upstream exploded"):
        oai.responses.create(model="mock-error-500", input=marker())


# Gemini


@pytest.fixture(scope="module", params=["v1beta", "v1"])
def gemini_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def gemini(gemini_version: str, mock_upstream: str) -> Iterator[genai.Client]:
    options = genai_types.HttpOptions(base_url=mock_upstream, api_version=gemini_version)
    client = genai.Client(api_key=GEMINI_KEY, http_options=options)
    yield client
    client.close()


def gemini_calls(response: genai_types.GenerateContentResponse) -> list[tuple[str | None, Any]]:
    return [(call.name, call.args) for call in response.function_calls or []]


def test_gemini_generate_text(gemini: genai.Client, gemini_version: str, mock_upstream: str) -> None:
    ask = marker()
    response = gemini.models.generate_content(model="mock-model", contents=ask)
    assert response.text == REPLY
    candidate = (response.candidates or [])[0]
    assert candidate.finish_reason == genai_types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == mock.PROMPT_TOKENS
    assert usage.cached_content_token_count == mock.CACHED_TOKENS
    # Canonical output = candidates + thoughts, the same as the other sides' completion tokens.
    assert (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) == mock.COMPLETION_TOKENS
    assert usage.total_token_count == mock.PROMPT_TOKENS + mock.COMPLETION_TOKENS
    assert response.model_version == "mock-model" and response.response_id
    [seen] = recorded(mock_upstream, ask)
    assert seen["path"] == f"/{gemini_version}/models/mock-model:generateContent"
    assert seen["headers"]["x-goog-api-key"] == GEMINI_KEY and GEMINI_KEY not in seen["query"]


def test_gemini_generate_function_calls(gemini: genai.Client) -> None:
    response = gemini.models.generate_content(model="mock-tools", contents=marker())
    assert gemini_calls(response) == [(name, args) for _, name, args in CALLS]
    parts = (response.candidates or [])[0].content.parts or []  # type: ignore[union-attr]
    assert parts[0].thought_signature == base64.b64decode(mock_gemini.THOUGHT_SIGNATURE)
    assert parts[1].thought_signature is None


def test_gemini_stream_text(gemini: genai.Client, gemini_version: str, mock_upstream: str) -> None:
    ask = marker()
    chunks = list(gemini.models.generate_content_stream(model="mock-model", contents=ask))
    assert len(chunks) > 1
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    finishes = [(chunk.candidates or [])[0].finish_reason for chunk in chunks]
    assert finishes == [None] * (len(chunks) - 1) + [genai_types.FinishReason.STOP]
    assert all(chunk.usage_metadata is not None for chunk in chunks)
    assert chunks[0].usage_metadata.candidates_token_count is None  # type: ignore[union-attr]
    assert chunks[-1].usage_metadata.thoughts_token_count == mock.REASONING_TOKENS  # type: ignore[union-attr]
    [seen] = recorded(mock_upstream, ask)
    assert seen["path"] == f"/{gemini_version}/models/mock-model:streamGenerateContent" and seen["query"] == "alt=sse"


def test_gemini_stream_function_calls(gemini: genai.Client) -> None:
    chunks = list(gemini.models.generate_content_stream(model="mock-tools", contents=marker()))
    calls = [call for chunk in chunks for call in gemini_calls(chunk)]
    assert calls == [(name, args) for _, name, args in CALLS]
    first = ((chunks[0].candidates or [])[0].content.parts or [])[0]  # type: ignore[union-attr]
    assert first.thought_signature == base64.b64decode(mock_gemini.THOUGHT_SIGNATURE)


def test_gemini_cut_stream_has_no_finish_reason(gemini: genai.Client) -> None:
    chunks = list(gemini.models.generate_content_stream(model="mock-cut", contents=marker()))
    text = "".join(chunk.text or "" for chunk in chunks)
    assert REPLY.startswith(text) and " the" in text and text != REPLY
    assert all((chunk.candidates or [])[0].finish_reason is None for chunk in chunks)


def test_gemini_error_500(gemini: genai.Client) -> None:
    with pytest.raises(genai_errors.ServerError) as caught:
        gemini.models.generate_content(model="mock-error-500", contents=marker())
    assert (caught.value.code, caught.value.status, caught.value.message) == (500, "INTERNAL", "upstream exploded")


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_gemini_stream_wire(mock_upstream: str, version: str) -> None:
    url = f"{mock_upstream}/{version}/models/mock-model:streamGenerateContent"
    headers = {"x-goog-api-key": GEMINI_KEY}
    ask = {"contents": [{"role": "user", "parts": [{"text": marker()}]}]}
    body = httpx.post(url, params={"alt": "sse"}, json=ask, headers=headers, timeout=10).content
    assert body.endswith(b"\r\n\r\n")
    blocks = body.split(b"\r\n\r\n")[:-1]
    assert all(block.startswith(b"data: ") and b"\n" not in block for block in blocks)
    chunks = [orjson.loads(block.removeprefix(b"data: ")) for block in blocks]
    assert [chunk["usageMetadata"] for chunk in chunks] == [mock_gemini.PROMPT_USAGE] * (len(chunks) - 1) + [
        mock_gemini.USAGE
    ]
    assert len({chunk["responseId"] for chunk in chunks}) == 1
    # Without alt=sse Google answers the same chunks as one JSON array.
    array = httpx.post(url, json=ask, headers=headers, timeout=10).json()
    assert [c["candidates"] for c in array] == [c["candidates"] for c in chunks]


def test_gemini_without_key_is_refused(mock_upstream: str) -> None:
    url = f"{mock_upstream}/v1beta/models/mock-model:generateContent"
    answer = httpx.post(url, json={"contents": [{"role": "user", "parts": [{"text": marker()}]}]}, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"]["status"] == "PERMISSION_DENIED"


def test_gemini_count_tokens(gemini: genai.Client) -> None:
    counted = gemini.models.count_tokens(model="mock-model", contents=marker())
    assert counted.total_tokens == mock_gemini.COUNT_TOKENS
