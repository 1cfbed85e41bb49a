"""The openai SDK's `responses` methods through a running `weir serve`, against an upstream of every dialect: an
OpenAI Responses upstream is passed through, the others are translated through the canonical form."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, UPSTREAM_DIALECTS, Weir
from tests.e2e.test_openai_chat import balance, expected_cost, wait_balance
from tests.support import mock_upstream as mock

REPLY = "".join(mock.REPLY_WORDS)
CALLS = [(name, orjson.loads("".join(args))) for _, name, args in mock.TOOL_CALLS]
UPSTREAM = {  # upstream dialect -> (the path the mock sees, how the provider key reaches it)
    "openai_chat": ("/v1/chat/completions", {"authorization": f"Bearer {PROVIDER_KEY}"}),
    "anthropic_messages": ("/v1/messages", {"x-api-key": PROVIDER_KEY}),
    "openai_responses": ("/v1/responses", {"authorization": f"Bearer {PROVIDER_KEY}"}),
    "gemini": ("/v1beta/models/mock-model:", {"x-goog-api-key": PROVIDER_KEY}),
}
DIALECTS = list(UPSTREAM_DIALECTS)
TOOLS = [
    {
        "type": "function",
        "name": name,
        "description": f"{name} of a place",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "tz": {"type": "string"}}},
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("responses-user", "5")


@pytest.fixture(scope="module")
def client(weir: Weir, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)


def upstream_saw(weir: Weir, dialect: str, key: str) -> list[dict[str, object]]:
    """The mock's requests since the last clear, each checked: the right path, the provider's key, never ours."""
    seen = weir.upstream_requests()
    path, credentials = UPSTREAM[dialect]
    assert seen, "the mock upstream received nothing"
    for request in seen:
        assert str(request["path"]).startswith(path), request["path"]
        headers = request["headers"]
        assert isinstance(headers, dict)
        assert {name: headers.get(name) for name in credentials} == credentials
        assert key not in orjson.dumps(request).decode(), "the client's key reached the upstream"
        assert "key=" not in str(request.get("query", "")), "a key in the upstream URL"
    return seen


@pytest.mark.parametrize("dialect", DIALECTS)
def test_create_answers_text_with_usage_and_cost(weir: Weir, client: openai.OpenAI, key: str, dialect: str) -> None:
    httpx.delete(f"{weir.upstream}/_mock/requests")
    raw = client.responses.with_raw_response.create(model=UPSTREAM_DIALECTS[dialect][0], input="hi")
    response = raw.parse()
    assert response.output_text == REPLY
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (mock.PROMPT_TOKENS, mock.COMPLETION_TOKENS)
    assert response.usage.input_tokens_details.cached_tokens == mock.CACHED_TOKENS
    assert raw.headers["x-weir-cost-microcents"] == str(expected_cost())
    body = upstream_saw(weir, dialect, key)[0]["body"]
    assert "hi" in orjson.dumps(body).decode()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_stream_helper_gets_the_whole_sequence_and_cost(weir: Weir, client: openai.OpenAI, dialect: str) -> None:
    account = f"responses-stream-{dialect}"
    key = weir.new_key(account, "1")
    before = balance(weir, account)
    streamer = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    deltas: list[str] = []
    kinds: list[str] = []
    with streamer.responses.stream(model=UPSTREAM_DIALECTS[dialect][0], input="hi") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == REPLY == final.output_text
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    for required in ("response.output_item.added", "response.content_part.added", "response.output_item.done"):
        assert required in kinds
    assert final.usage is not None and final.usage.output_tokens == mock.COMPLETION_TOKENS
    assert (final.usage.model_extra or {}).get("cost_microcents") == expected_cost()
    assert wait_balance(weir, account, before - expected_cost()) == before - expected_cost()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_function_calls_come_back_as_function_call_items(
    weir: Weir, client: openai.OpenAI, key: str, dialect: str
) -> None:
    model = UPSTREAM_DIALECTS[dialect][1]
    response = client.responses.create(model=model, input="weather and time in Paris?", tools=TOOLS)  # type: ignore[arg-type]
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.name, orjson.loads(c.arguments)) for c in calls] == CALLS
    assert all(c.call_id for c in calls) and len({c.call_id for c in calls}) == len(calls)

    with client.responses.stream(model=model, input="weather and time in Paris?", tools=TOOLS) as stream:  # type: ignore[arg-type]
        done = [e for e in stream if e.type == "response.function_call_arguments.done"]
        final = stream.get_final_response()
    assert [orjson.loads(e.arguments) for e in done] == [args for _, args in CALLS]
    streamed = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, orjson.loads(c.arguments)) for c in streamed] == CALLS


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "openai_responses"])
def test_custom_tool_calls_stay_custom_through_function_only_upstreams(client: openai.OpenAI, dialect: str) -> None:
    """Codex's apply_patch is a custom (freeform) tool; upstreams without custom tools call it as a function."""
    tools = [{"type": "custom", "name": name, "description": "freeform"} for name in ("get_weather", "get_time")]
    model = UPSTREAM_DIALECTS[dialect][1]
    response = client.responses.create(model=model, input="go", tools=tools)  # type: ignore[arg-type]
    customs = [item for item in response.output if item.type == "custom_tool_call"]
    assert [(c.name, orjson.loads(c.input)) for c in customs] == CALLS
    with client.responses.stream(model=model, input="go", tools=tools) as stream:  # type: ignore[arg-type]
        final = stream.get_final_response()
    streamed = [item for item in final.output if item.type == "custom_tool_call"]
    assert [(c.name, orjson.loads(c.input)) for c in streamed] == CALLS


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_previous_response_id_rebuilds_the_conversation(
    weir: Weir, client: openai.OpenAI, key: str, dialect: str, stream: bool
) -> None:
    model = UPSTREAM_DIALECTS[dialect][0]
    first = client.responses.create(model=model, input="first question", instructions="be brief")
    httpx.delete(f"{weir.upstream}/_mock/requests")
    if stream:
        with client.responses.stream(model=model, input="second question", previous_response_id=first.id) as s:
            second = s.get_final_response()
    else:
        second = client.responses.create(model=model, input="second question", previous_response_id=first.id)
    assert second.output_text == REPLY and second.id != first.id
    sent = orjson.dumps(upstream_saw(weir, dialect, key)[0]["body"]).decode()
    assert sent.index("first question") < sent.index(REPLY) < sent.index("second question")
    assert "previous_response_id" not in sent and "be brief" not in sent  # instructions are not carried over

    httpx.delete(f"{weir.upstream}/_mock/requests")
    third = client.responses.create(model=model, input="third question", previous_response_id=second.id)
    sent = orjson.dumps(upstream_saw(weir, dialect, key)[0]["body"]).decode()
    assert third.output_text == REPLY
    positions = [sent.index(text) for text in ("first question", "second question", "third question")]
    assert positions == sorted(positions)


def test_previous_response_id_is_private_to_its_account_and_store_false_keeps_nothing(
    weir: Weir, client: openai.OpenAI
) -> None:
    first = client.responses.create(model="gpt-test", input="secret")
    stranger = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=weir.new_key("stranger", "1"), max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        stranger.responses.create(model="gpt-test", input="what did they say?", previous_response_id=first.id)
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"

    unstored = client.responses.create(model="gpt-test", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-test", input="again", previous_response_id=unstored.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-test", input="again", previous_response_id="resp_does_not_exist")


def sse_events(body: bytes) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in lines:
            events.append((lines.get(b"event", b"").decode(), orjson.loads(lines[b"data"])))
    return events


@pytest.mark.parametrize("model", ["cut-test", "claude-cut", "resp-cut", "gemini-cut"])
def test_a_cut_stream_ends_in_response_failed(weir: Weir, key: str, model: str) -> None:
    answer = httpx.post(
        f"{weir.url}/v1/responses",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "input": "hi", "stream": True},
        timeout=30,
    )
    assert answer.status_code == 200
    events = sse_events(answer.content)
    assert events[-1][0] == "response.failed", events[-3:]
    assert not any(name == "response.completed" for name, _ in events)


@pytest.mark.parametrize("model", ["broken-test", "claude-broken", "resp-broken", "gemini-broken"])
def test_upstream_errors_reach_the_client_in_the_responses_shape(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model=model, input="hi")
    assert caught.value.status_code == 500 and isinstance(caught.value.body, dict)


def test_bad_requests_get_clear_errors(weir: Weir, client: openai.OpenAI, key: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="hi")
    assert caught.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-test", input=42)  # type: ignore[arg-type]
    assert bad.value.param == "input"
    answer = httpx.post(f"{weir.url}/v1/responses", headers={"Authorization": f"Bearer {key}"}, content=b"{")
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "invalid_request_error"


def test_the_openai_path_alias(weir: Weir, key: str) -> None:
    aliased = openai.OpenAI(base_url=f"{weir.url}/v1/openai", api_key=key, max_retries=0)
    assert aliased.responses.create(model="claude-test", input="hi").output_text == REPLY
    chat = aliased.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == REPLY


def test_a_passed_through_response_gets_an_id_of_weir_s_even_when_the_upstream_repeats_its_own(
    weir: Weir, client: openai.OpenAI, key: str
) -> None:
    first = client.responses.create(model="resp-repeat", input="first topic")
    with client.responses.stream(model="resp-repeat", input="second topic") as s:
        second = s.get_final_response()
    assert len({first.id, second.id, "resp_repeated"}) == 3 and first.id.startswith("resp_")
    for response, topic in ((first, "first topic"), (second, "second topic")):
        httpx.delete(f"{weir.upstream}/_mock/requests")
        again = client.responses.create(model="resp-repeat", input="and?", previous_response_id=response.id)
        assert again.output_text == REPLY
        sent = orjson.dumps(upstream_saw(weir, "openai_responses", key)[0]["body"]).decode()
        assert topic in sent and "resp_repeated" not in sent
