"""The google-genai SDK through a running `weir serve` (v1beta and v1), against an upstream of every dialect: a
Gemini upstream is passed through, the others are translated through the canonical form."""

from __future__ import annotations

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import UPSTREAM_DIALECTS, Weir
from tests.e2e.test_openai_chat import balance, expected_cost, wait_balance
from tests.e2e.test_openai_responses import CALLS, REPLY, upstream_saw
from tests.support import mock_upstream as mock

DIALECTS = list(UPSTREAM_DIALECTS)
VERSIONS = ["v1beta", "v1"]
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name=name,
            description=f"{name} of a place",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"city": types.Schema(type=types.Type.STRING), "tz": types.Schema(type=types.Type.STRING)},
            ),
        )
        for name in ("get_weather", "get_time")
    ]
)


def client_for(weir: Weir, key: str, version: str = "v1beta") -> genai.Client:
    options = types.HttpOptions(
        base_url=weir.url, api_version=version, retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("genai-user", "5")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_generate_content_answers_text_with_usage(weir: Weir, key: str, dialect: str, version: str) -> None:
    account = f"genai-{dialect}-{version}"
    own_key = weir.new_key(account, "1")
    before = balance(weir, account)
    httpx.delete(f"{weir.upstream}/_mock/requests")
    client = client_for(weir, own_key, version)  # kept: a collected Client closes its connection pool
    response = client.models.generate_content(model=UPSTREAM_DIALECTS[dialect][0], contents="hi")
    assert response.text == REPLY
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_token_count == mock.PROMPT_TOKENS
    assert usage.cached_content_token_count == mock.CACHED_TOKENS
    assert (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0) == mock.COMPLETION_TOKENS
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    upstream_saw(weir, dialect, own_key)
    assert wait_balance(weir, account, before - expected_cost()) == before - expected_cost()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_generate_content_stream(weir: Weir, key: str, dialect: str, version: str) -> None:
    client = client_for(weir, key, version)
    chunks = list(client.models.generate_content_stream(model=UPSTREAM_DIALECTS[dialect][0], contents="hi"))
    assert "".join(c.text or "" for c in chunks) == REPLY
    assert len(chunks) > 1, "the answer streamed as one chunk"
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.prompt_token_count == mock.PROMPT_TOKENS


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_function_calls(weir: Weir, key: str, dialect: str, version: str) -> None:
    client = client_for(weir, key, version)
    config = types.GenerateContentConfig(tools=[WEATHER])
    model = UPSTREAM_DIALECTS[dialect][1]
    response = client.models.generate_content(model=model, contents="weather and time in Paris?", config=config)
    assert [(c.name, c.args) for c in response.function_calls or []] == CALLS
    streamed = [
        (call.name, call.args)
        for chunk in client.models.generate_content_stream(model=model, contents="weather?", config=config)
        for call in chunk.function_calls or []
    ]
    assert streamed == CALLS


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_function_response_turn_reaches_the_upstream(weir: Weir, key: str, dialect: str) -> None:
    """The answer to a call goes back as functionResponse and arrives upstream in the upstream's own form."""
    client = client_for(weir, key)
    config = types.GenerateContentConfig(tools=[WEATHER])
    model = UPSTREAM_DIALECTS[dialect][1]
    first = client.models.generate_content(model=model, contents="weather in Paris?", config=config)
    assert first.candidates and first.candidates[0].content
    call_turn = first.candidates[0].content
    answers = types.Content(
        role="user",
        parts=[
            types.Part.from_function_response(name=c.name or "", response={"result": f"sunny-{c.name}"})
            for c in first.function_calls or []
        ],
    )
    httpx.delete(f"{weir.upstream}/_mock/requests")
    contents = [types.Content(role="user", parts=[types.Part.from_text(text="weather in Paris?")]), call_turn, answers]
    second = client.models.generate_content(model=UPSTREAM_DIALECTS[dialect][0], contents=contents, config=config)
    assert second.text == REPLY
    sent = orjson.dumps(upstream_saw(weir, dialect, key)[0]["body"]).decode()
    assert "sunny-get_weather" in sent and "sunny-get_time" in sent
    if dialect == "gemini":  # Gemini 3 wants its thought signature back on the call it came with
        assert "thoughtSignature" in sent


@pytest.mark.parametrize("model", ["broken-test", "claude-broken", "resp-broken", "gemini-broken"])
def test_upstream_errors_in_googles_shape(weir: Weir, key: str, model: str) -> None:
    client = client_for(weir, key)
    with pytest.raises(errors.ServerError) as caught:
        client.models.generate_content(model=model, contents="hi")
    assert caught.value.code == 500


def test_refusals_in_googles_shape(weir: Weir, key: str) -> None:
    client, stranger = client_for(weir, key), client_for(weir, "sk-weir_not_a_real_key")
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="no-such-model", contents="hi")
    assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError) as unauthorized:
        stranger.models.generate_content(model="gpt-test", contents="hi")
    assert unauthorized.value.code == 401 and unauthorized.value.status == "UNAUTHENTICATED"
    url = f"{weir.url}/v1beta/models/gpt-test:streamGenerateContent"
    no_sse = httpx.post(url, params={"key": key}, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert no_sse.status_code == 400 and no_sse.json()["error"]["status"] == "INVALID_ARGUMENT"
    empty = httpx.post(f"{weir.url}/v1beta/models/gpt-test:generateContent", params={"key": key}, json={})
    assert empty.status_code == 400 and "contents" in empty.json()["error"]["message"]
    unknown = httpx.post(f"{weir.url}/v1beta/models/gpt-test:explode", params={"key": key}, json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_key_in_the_query_string_works_and_never_goes_upstream(weir: Weir, key: str) -> None:
    httpx.delete(f"{weir.upstream}/_mock/requests")
    answer = httpx.post(
        f"{weir.url}/v1beta/models/gemini-test:streamGenerateContent",
        params={"alt": "sse", "key": key},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert answer.status_code == 200
    blocks = answer.content.split(b"\r\n\r\n")
    assert blocks[-1] == b"" and all(block.startswith(b"data: ") for block in blocks[:-1])
    upstream_saw(weir, "gemini", key)


def test_count_tokens_and_model_lists(weir: Weir, key: str) -> None:
    client = client_for(weir, key)
    local = client.models.count_tokens(model="gpt-test", contents="hello there, how are you today?")
    assert local.total_tokens is not None and 5 <= local.total_tokens <= 20  # counted by Weir with o200k_base
    asked = client.models.count_tokens(model="gemini-test", contents="hi")
    assert asked.total_tokens == 4321  # the Gemini mock's own answer, passed on
    names = [m.name for m in client.models.list()]
    assert "models/gpt-test" in names and "models/gemini-test" in names
    one = client.models.get(model="claude-test")
    assert one.name == "models/claude-test" and "generateContent" in (one.supported_actions or [])
