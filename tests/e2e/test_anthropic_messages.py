"""Anthropic Messages through a running Weir: the official anthropic SDK (api_key and auth_token) against the
Anthropic-dialect mock (passthrough) and the OpenAI-dialect mock (translated), and the openai SDK against the
Anthropic-dialect mock (translated the other way). Stream and non-stream, text and tool use, tool_result
round trips, count_tokens, errors in the caller's dialect, exact cost."""

from __future__ import annotations

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir
from tests.e2e.test_openai_chat import collect_tool_calls, expected_cost, wait_balance
from tests.support import mock_anthropic
from tests.support import mock_upstream as mock

REPLY = "".join(mock.REPLY_WORDS)
ASK = [{"role": "user", "content": "hi"}]
TOOLS = [
    {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}},
    {"name": "get_time", "description": "Time", "input_schema": {"type": "object", "properties": {}}},
]
# Anthropic-dialect upstream (passthrough for Anthropic clients) and OpenAI-dialect upstream (translated).
MODELS = {"anthropic-upstream": ("claude-test", "claude-tools"), "openai-upstream": ("gpt-test", "tools-test")}


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("anthropic-user", "5")


@pytest.fixture(scope="module", params=["api_key", "auth_token"])
def client(request: pytest.FixtureRequest, weir: Weir, key: str) -> anthropic.Anthropic:
    credentials = {request.param: key}
    return anthropic.Anthropic(base_url=weir.url, max_retries=0, **credentials)  # type: ignore[arg-type]


@pytest.mark.parametrize("upstream", MODELS)
def test_non_stream_text(weir: Weir, client: anthropic.Anthropic, upstream: str) -> None:
    model = MODELS[upstream][0]
    raw = client.messages.with_raw_response.create(model=model, max_tokens=100, messages=ASK)  # type: ignore[arg-type]
    message = raw.parse()
    assert [b.text for b in message.content if b.type == "text"] == [REPLY]
    assert message.stop_reason == "end_turn"
    # The same tokens cost the same whichever dialect the upstream speaks.
    assert raw.headers["x-weir-cost-microcents"] == str(expected_cost())
    assert message.usage.output_tokens == mock.COMPLETION_TOKENS
    assert message.usage.input_tokens == mock.PROMPT_TOKENS - mock.CACHED_TOKENS
    assert message.usage.cache_read_input_tokens == mock.CACHED_TOKENS


@pytest.mark.parametrize("upstream", MODELS)
def test_stream_text_carries_the_cost(client: anthropic.Anthropic, upstream: str) -> None:
    model = MODELS[upstream][0]
    deltas = []
    with client.messages.stream(model=model, max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
        for event in stream:
            if event.type == "message_delta":
                deltas.append(event)
        final = stream.get_final_message()
    assert [b.text for b in final.content if b.type == "text"] == [REPLY]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == mock.COMPLETION_TOKENS
    # The SDK's accumulated message keeps only the usage fields it knows; the cost rides on message_delta.
    (delta,) = deltas
    extra = delta.usage.model_extra or {}
    assert extra["cost_microcents"] == expected_cost()
    assert extra["cost"] == pytest.approx(expected_cost() / 100_000_000)


@pytest.mark.parametrize("upstream", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_and_tool_result_round_trip(
    weir: Weir, client: anthropic.Anthropic, upstream: str, stream: bool
) -> None:
    model = MODELS[upstream][1]
    if stream:
        with client.messages.stream(model=model, max_tokens=100, messages=ASK, tools=TOOLS) as s:  # type: ignore[arg-type]
            message = s.get_final_message()
    else:
        message = client.messages.create(model=model, max_tokens=100, messages=ASK, tools=TOOLS)  # type: ignore[arg-type]
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        (name, orjson.loads("".join(args))) for _, name, args in mock.TOOL_CALLS
    ]
    assert message.stop_reason == "tool_use"
    # Send the results back: one user turn with both tool_result blocks.
    httpx.delete(f"{weir.upstream}/_mock/requests")
    follow = [
        *ASK,
        {"role": "assistant", "content": [u.model_dump(exclude_none=True) for u in uses]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": f"result {i}"} for i, u in enumerate(uses)
            ],
        },
    ]
    reply = client.messages.create(model=MODELS[upstream][0], max_tokens=100, messages=follow, tools=TOOLS)  # type: ignore[arg-type]
    assert [b.text for b in reply.content if b.type == "text"] == [REPLY]
    (seen,) = weir.upstream_requests()
    body = seen["body"]
    assert isinstance(body, dict)
    if upstream == "openai-upstream":  # one `tool` message per result, in order, ids kept
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
            (u.id, f"result {i}") for i, u in enumerate(uses)
        ]
        calls = body["messages"][1]["tool_calls"]
        assert [c["id"] for c in calls] == [u.id for u in uses]
    else:  # passthrough: the upstream got the turn as sent
        assert body["messages"][2]["content"][1]["tool_use_id"] == uses[1].id


def test_openai_client_to_anthropic_upstream(weir: Weir, key: str) -> None:
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    httpx.delete(f"{weir.upstream}/_mock/requests")
    raw = client.chat.completions.with_raw_response.create(
        model="claude-test", messages=[{"role": "system", "content": "be brief"}, *ASK]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == mock.PROMPT_TOKENS
    assert raw.headers["x-weir-cost-microcents"] == str(expected_cost())
    (seen,) = weir.upstream_requests()
    assert seen["path"] == "/v1/messages"
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["x-api-key"] == PROVIDER_KEY and "authorization" not in headers
    body = seen["body"]
    assert isinstance(body, dict)
    assert body["system"] == "be brief" and body["max_tokens"] == 4096  # the model's default, Anthropic needs one
    chunks = list(
        client.chat.completions.create(
            model="claude-test", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert (chunks[-1].usage.model_extra or {})["cost_microcents"] == expected_cost()  # type: ignore[union-attr]


def test_openai_client_streamed_tool_calls_from_anthropic_upstream(weir: Weir, key: str) -> None:
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    calls, finish = collect_tool_calls(client.chat.completions.create(model="claude-tools", messages=ASK, stream=True))
    assert finish == "tool_calls"
    assert calls == [{"id": cid, "name": name, "arguments": "".join(args)} for cid, name, args in mock.TOOL_CALLS]


def test_wallet_is_charged_the_same_for_translated_calls(weir: Weir) -> None:
    key = weir.new_key("translated-wallet", "1")
    client = anthropic.Anthropic(base_url=weir.url, api_key=key, max_retries=0)
    client.messages.create(model="gpt-test", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    with client.messages.stream(model="gpt-test", max_tokens=10, messages=ASK) as s:  # type: ignore[arg-type]
        s.get_final_message()
    want = 100_000_000 - 2 * expected_cost()
    assert wait_balance(weir, "translated-wallet", want) == want


def test_betas_and_version_are_forwarded_through_the_allow_list(weir: Weir, key: str) -> None:
    httpx.delete(f"{weir.upstream}/_mock/requests")
    headers = {
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "fine-grained-tool-streaming-2025-05-14,not-allowed-2099-01-01",
    }
    body = {"model": "claude-test", "max_tokens": 10, "messages": ASK}
    r = httpx.post(f"{weir.url}/v1/messages?beta=true", json=body, headers=headers)
    assert r.status_code == 200, r.text
    (seen,) = weir.upstream_requests()
    sent = seen["headers"]
    assert isinstance(sent, dict)
    assert sent["anthropic-version"] == "2023-06-01"
    assert sent["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"
    assert sent["x-api-key"] == PROVIDER_KEY and key not in str(sent)


def test_count_tokens(weir: Weir, client: anthropic.Anthropic) -> None:
    forwarded = client.messages.count_tokens(model="claude-test", messages=ASK)  # type: ignore[arg-type]
    assert forwarded.input_tokens == mock_anthropic.COUNT_TOKENS
    local = client.messages.count_tokens(model="gpt-test", messages=[{"role": "user", "content": "hello world"}])  # type: ignore[arg-type]
    assert local.input_tokens == 2 + 3  # "hello world" is 2 o200k tokens, plus the per-message framing
    bigger = client.messages.count_tokens(
        model="gpt-test",
        system="You are terse.",
        messages=[{"role": "user", "content": "hello world " * 50}],  # type: ignore[arg-type]
    )
    assert bigger.input_tokens > 100


def test_errors_speak_anthropic(weir: Weir, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=weir.url, api_key="sk-weir_nope", max_retries=0).messages.create(
            model="claude-test",
            max_tokens=10,
            messages=ASK,  # type: ignore[arg-type]
        )
    with pytest.raises(anthropic.InternalServerError) as upstream:  # an OpenAI upstream's 500, in Anthropic's shape
        client.messages.create(model="broken-test", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert upstream.value.body["error"]["message"] == "upstream exploded"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model="claude-cut", max_tokens=10, messages=ASK) as s:  # type: ignore[arg-type]
            s.get_final_message()


def test_translated_streams_send_keepalives_while_the_upstream_is_silent(weir: Weir, key: str) -> None:
    """The Anthropic upstream pauses 1.5 s mid-answer; the OpenAI client gets `: keep-alive` comments meanwhile
    (the test config sends one after 0.5 s of silence) and still the whole answer."""
    body = {"model": "claude-pause", "messages": ASK, "stream": True}
    with httpx.stream(
        "POST", f"{weir.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        lines = list(r.iter_lines())
    keepalives = [line for line in lines if line == ": keep-alive"]
    assert 1 <= len(keepalives) <= 4
    chunks = [orjson.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == REPLY
    assert [line for line in lines if line][-1] == "data: [DONE]"
