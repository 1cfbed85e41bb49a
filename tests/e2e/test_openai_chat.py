"""The official openai SDK through a running `weir serve` against the mock upstream on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal

import httpx
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.e2e.conftest import PRICE, PROVIDER_KEY, Weir
from tests.support import mock_upstream as mock


def balance(weir: Weir, account: str) -> int:
    return int(orjson.loads(weir.cli("accounts", "show", account).stdout)["balance_microcents"])


def wait_balance(weir: Weir, account: str, want: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    got = balance(weir, account)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = balance(weir, account)
    return got


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("sdk-user", "5")


@pytest.fixture(scope="module")
def client(weir: Weir, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)


MESSAGES = [{"role": "user", "content": "hi"}]


def exact_cost() -> Decimal:
    per_token = {k: Decimal(str(v)) * 100_000_000 / 1_000_000 for k, v in PRICE.items()}  # microcents
    return (
        (mock.PROMPT_TOKENS - mock.CACHED_TOKENS) * per_token["input"]
        + mock.CACHED_TOKENS * per_token["cached_input"]
        + mock.COMPLETION_TOKENS * per_token["output"]
    )


def expected_cost() -> int:
    """Computed independently of Weir: Decimal USD prices, rounded up once."""
    return int(exact_cost().to_integral_value(rounding=ROUND_CEILING))


def test_the_test_prices_make_rounding_matter() -> None:
    assert exact_cost() != exact_cost().to_integral_value()


def test_non_stream_returns_upstream_body_and_cost_headers(weir: Weir, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(mock.REPLY_WORDS)
    assert completion.usage is not None and completion.usage.prompt_tokens == mock.PROMPT_TOKENS
    assert raw.headers["x-weir-cost-microcents"] == str(expected_cost())
    assert raw.headers["x-weir-input-tokens"] == str(mock.PROMPT_TOKENS)
    assert raw.headers["x-weir-output-tokens"] == str(mock.COMPLETION_TOKENS)
    assert raw.headers["x-weir-request-id"] == raw.headers["x-request-id"]


def test_wallet_decreases_by_exactly_the_cost(weir: Weir) -> None:
    key = weir.new_key("wallet-user", "1")
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    before = balance(weir, "wallet-user")
    assert before == 100_000_000
    client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "".join(mock.REPLY_WORDS)
    assert wait_balance(weir, "wallet-user", before - 2 * expected_cost()) == before - 2 * expected_cost()


def test_a_repeated_client_request_id_is_charged_every_time(weir: Weir) -> None:
    key = weir.new_key("repeat-user", "1")
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "the-same-id"}
    ids = set()
    for _ in range(2):
        r = httpx.post(
            f"{weir.url}/v1/chat/completions", json={"model": "gpt-test", "messages": MESSAGES}, headers=headers
        )
        assert r.status_code == 200
        ids.add(r.headers["x-weir-request-id"])
    assert len(ids) == 2 and "the-same-id" not in ids
    assert wait_balance(weir, "repeat-user", 100_000_000 - 2 * expected_cost()) == 100_000_000 - 2 * expected_cost()


def test_stream_without_include_usage_hides_the_usage_chunk(weir: Weir, client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(mock.REPLY_WORDS)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks), "the usage chunk (empty choices) must not reach this client"
    assert chunks[-1].choices[0].finish_reason == "stop"
    # Weir asked the upstream for usage anyway, so it could bill the call.
    seen = weir.upstream_requests()[-1]["body"]
    assert seen["stream_options"] == {"include_usage": True}  # type: ignore[index]


def test_stream_with_include_usage_carries_the_cost(weir: Weir, client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == mock.PROMPT_TOKENS
    assert last.usage.completion_tokens == mock.COMPLETION_TOKENS
    extra = last.usage.model_extra or {}
    assert extra["cost_microcents"] == expected_cost()
    assert extra["cost"] == pytest.approx(expected_cost() / 100_000_000)


def collect_tool_calls(chunks: Iterable[ChatCompletionChunk]) -> tuple[list[dict[str, str]], str | None]:
    """Tool calls put together from their stream deltas the way the SDK's accumulator does, and the finish reason."""
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += tc.id or ""
                entry["name"] += (tc.function.name or "") if tc.function else ""
                entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
    return [calls[i] for i in sorted(calls)], finish


def test_streamed_tool_calls_arrive_intact(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="tools-test", messages=MESSAGES, stream=True)
    calls, finish = collect_tool_calls(stream)
    assert finish == "tool_calls"
    assert calls == [{"id": cid, "name": name, "arguments": "".join(args)} for cid, name, args in mock.TOOL_CALLS]


def test_upstream_sees_the_provider_key_and_never_the_clients(weir: Weir, key: str) -> None:
    httpx.delete(f"{weir.upstream}/_mock/requests")
    headers = {"Authorization": f"Bearer {key}", "x-api-key": key, "X-My-API-Key": key, "Cookie": "s=1"}
    body = {"model": "openai/gpt-test", "messages": MESSAGES}
    assert httpx.post(f"{weir.url}/v1/chat/completions", json=body, headers=headers).status_code == 200
    (seen,) = weir.upstream_requests()
    sent = seen["headers"]
    assert isinstance(sent, dict)
    assert sent["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert not any(key in str(v) for v in sent.values())
    assert "cookie" not in sent and "x-api-key" not in sent and "x-my-api-key" not in sent
    assert seen["body"] == {
        "model": "mock-model",
        "messages": MESSAGES,
    }  # alias resolved, nothing else touched


@pytest.mark.parametrize("where", ["x-api-key", "x-goog-api-key", "X-My-API-Key", "query"])
def test_key_accepted_from_every_documented_place(weir: Weir, key: str, where: str) -> None:
    body = {"model": "gpt-test", "messages": MESSAGES}
    if where == "query":
        r = httpx.post(f"{weir.url}/v1/chat/completions", json=body, params={"key": key})
    else:
        r = httpx.post(f"{weir.url}/v1/chat/completions", json=body, headers={where: key})
    assert r.status_code == 200, r.text


def test_missing_and_invalid_keys_get_401(weir: Weir, key: str) -> None:
    body = {"model": "gpt-test", "messages": MESSAGES}
    mangled = key[:-1] + ("A" if key[-1] != "A" else "B")  # checksum no longer matches
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {mangled}"}):
        r = httpx.post(f"{weir.url}/v1/chat/completions", json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{weir.url}/v1", api_key=mangled, max_retries=0).chat.completions.create(
            model="gpt-test", messages=MESSAGES
        )


def test_management_key_cannot_call_inference(weir: Weir) -> None:
    key = weir.new_key("mgmt-user", "1", "--management")
    assert key.startswith("mk-")
    with pytest.raises(openai.PermissionDeniedError):
        openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0).chat.completions.create(
            model="gpt-test", messages=MESSAGES
        )


def test_empty_wallet_gets_402_before_any_upstream_call(weir: Weir) -> None:
    key = weir.new_key("broke-user", "0")
    httpx.delete(f"{weir.upstream}/_mock/requests")
    r = httpx.post(
        f"{weir.url}/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 402, r.text
    assert r.json()["error"]["code"] == "insufficient_balance"
    assert weir.upstream_requests() == []


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert info.value.code == "model_not_found"


def test_body_over_the_cap_is_413(weir: Weir, key: str) -> None:
    big = {"model": "gpt-test", "messages": [{"role": "user", "content": "x" * 300_000}]}
    r = httpx.post(f"{weir.url}/v1/chat/completions", json=big, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "gpt-test"}', "messages"),
        (b'{"model": "gpt-test", "messages": [{"role":"user","content":"x"}], "stream": "yes"}', "stream"),
    ],
)
def test_bad_requests_get_400_naming_the_field(weir: Weir, key: str, body: bytes, param: str | None) -> None:
    r = httpx.post(
        f"{weir.url}/v1/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_upstream_errors_pass_through_with_their_body(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="broken-test", messages=MESSAGES)
    assert info.value.status_code == 500
    assert info.value.body == {
        "message": "upstream exploded",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="bad-test", messages=MESSAGES, stream=True)
    assert bad.value.code == "bad"


def test_unreachable_upstream_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="down-test", messages=MESSAGES)
    assert info.value.status_code == 502
    assert info.value.code == "upstream_unreachable"


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_timeout_is_504(client: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="slow-test", messages=MESSAGES, stream=stream)
    assert info.value.status_code == 504
    assert info.value.code == "upstream_timeout"


def test_truncated_stream_ends_with_an_error_not_a_clean_finish(client: openai.OpenAI) -> None:
    received = []
    with pytest.raises(openai.APIError, match="ended the stream"):
        for chunk in client.chat.completions.create(model="cut-test", messages=MESSAGES, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "Hello from the"


def metric(weir: Weir, line: str) -> float:
    for row in httpx.get(f"{weir.url}/metrics").text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


def test_a_client_leaving_mid_stream_closes_the_upstream_and_is_recorded(weir: Weir, key: str) -> None:
    leaving = 'weir_upstream_requests_total{model="long-test",provider="mock",status_class="4xx"}'
    before = metric(weir, leaving)
    body = {"model": "long-test", "messages": MESSAGES, "stream": True}
    with httpx.stream(
        "POST", f"{weir.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        rid = r.headers["x-weir-request-id"]
        for line in r.iter_lines():
            if line.startswith("data: "):
                break  # one event, then hang up: the upstream would go on for ~6 s
    deadline = time.monotonic() + 5
    while metric(weir, leaving) != before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(weir, leaving) == before + 1  # recorded as 499, client closed
    assert metric(weir, 'weir_in_flight_requests{provider="mock"}') == 0
    # Billed for what it was sent: OpenAI reports usage only at the end, so Weir counted it.
    manager = weir.cli("keys", "create", "--account", "sdk-user", "--management").stdout.strip().splitlines()[-1]
    got = weir.generation(rid, manager)
    assert (got["status"], got["usage_estimated"]) == (499, True), got
    assert got["output_tokens"] >= 1 and got["input_tokens"] > 0 and got["cost_microcents"] > 0
    assert got["output_tokens"] < 200 * len(mock.REPLY_WORDS)  # what it was sent, not what the upstream had
    # And the gateway is fine afterwards.
    ok = httpx.post(
        f"{weir.url}/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert ok.status_code == 200


def test_revoked_key_stops_working_within_the_cache_ttl(weir: Weir) -> None:
    key = weir.new_key("revoke-user", "1")
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    key_id = key.split("_")[1]
    assert weir.cli("keys", "revoke", key_id).returncode == 0
    time.sleep(1.2)  # the test config's key_cache_ttl_seconds is 1
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES)


def test_models_lists_ids_and_aliases_without_auth(weir: Weir) -> None:
    r = httpx.get(f"{weir.url}/v1/models")
    assert r.status_code == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert "gpt-test" in ids and "openai/gpt-test" in ids
    assert r.json()["object"] == "list"


def test_health_and_metrics(weir: Weir, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    health = httpx.get(f"{weir.url}/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body.pop("usage_queue")["depth"] in (0, 1)  # the call's own record may still wait for its commit
    assert body == {"status": "ok", "db": "ok", "writes": "ok", "redis": "disabled"}
    text = httpx.get(f"{weir.url}/metrics").text
    assert 'weir_upstream_requests_total{model="gpt-test",provider="mock",status_class="2xx"}' in text
    assert 'weir_tokens_total{model="gpt-test",provider="mock",type="output"}' in text
    assert "weir_cost_usd_total" in text
