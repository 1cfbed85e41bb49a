"""Money at admission through the official SDKs (SQLite and PostgreSQL): a call whose estimate the account cannot
cover gets 402 insufficient_balance with the figures, a call whose estimate passes X-Weir-Max-Price-Microcents
gets 402 max_price_exceeded, each in its client's dialect, before any upstream is asked. (The concurrency proof
across replicas: tests/e2e/test_scale_out.py.)"""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import Weir

HI = [{"role": "user", "content": "hi"}]
KEY_CACHE_TTL = 1  # the gateway's auth.key_cache_ttl_seconds (conftest)


def upstream_calls(weir: Weir) -> int:
    return len(weir.upstream_requests())


def test_an_estimate_the_balance_cannot_cover_is_refused_in_each_dialect(weir: Weir) -> None:
    key = weir.new_key("money-short", "0.01")  # 1,000,000 microcents
    httpx.delete(f"{weir.upstream}/_mock/requests")
    with openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="gpt-test", messages=HI, max_tokens=1_000_000)  # type: ignore[arg-type]
        assert caught.value.status_code == 402
        body = caught.value.body
        assert isinstance(body, dict) and body["code"] == "insufficient_balance"
        assert "its balance is $0.010000" in body["message"] and "lower max_tokens" in body["message"]
        answer = client.chat.completions.create(model="gpt-test", messages=HI, max_tokens=100)  # type: ignore[arg-type]
        assert answer.choices[0].message.content
    with anthropic.Anthropic(base_url=weir.url, api_key=key, max_retries=0) as claude:
        with pytest.raises(anthropic.APIStatusError) as refused:
            claude.messages.create(model="claude-test", max_tokens=20_000, messages=HI)  # type: ignore[arg-type]
        assert refused.value.status_code == 402 and "insufficient balance" in refused.value.message
    options = types.HttpOptions(base_url=weir.url, retry_options=types.HttpRetryOptions(attempts=1))
    google = genai.Client(api_key=key, http_options=options)
    try:
        with pytest.raises(errors.ClientError) as gemini:
            google.models.generate_content(
                model="gemini-test", contents="hi", config=types.GenerateContentConfig(max_output_tokens=1_000_000)
            )
        assert gemini.value.code == 402 and "insufficient balance" in (gemini.value.message or "")
    finally:
        google.close()
    assert upstream_calls(weir) == 1  # only the call that fitted


def test_the_price_cap_header_refuses_a_call_that_may_cost_more(weir: Weir) -> None:
    key = weir.new_key("money-capped", "5")
    httpx.delete(f"{weir.upstream}/_mock/requests")
    with openai.OpenAI(
        base_url=f"{weir.url}/v1", api_key=key, max_retries=0, default_headers={"X-Weir-Max-Price-Microcents": "5000"}
    ) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="gpt-test", messages=HI, max_tokens=4000)  # type: ignore[arg-type]
        assert caught.value.status_code == 402
        body = caught.value.body
        assert isinstance(body, dict) and body["code"] == "max_price_exceeded"
        assert "more than its cap of 5000 microcents" in body["message"]
        assert client.chat.completions.create(model="gpt-test", messages=HI, max_tokens=5).choices  # type: ignore[arg-type]
    with anthropic.Anthropic(
        base_url=weir.url, api_key=key, max_retries=0, default_headers={"X-Weir-Max-Price-Microcents": "1"}
    ) as claude:
        with pytest.raises(anthropic.APIStatusError) as refused:
            claude.messages.create(model="claude-test", max_tokens=100, messages=HI)  # type: ignore[arg-type]
        assert refused.value.status_code == 402 and "cap of 1 microcents" in refused.value.message
    bad = httpx.post(
        f"{weir.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}", "x-weir-max-price-microcents": "0.5"},
        json={"model": "gpt-test", "messages": HI},
    )
    assert bad.status_code == 400 and "whole number of microcents" in bad.json()["error"]["message"]
    assert upstream_calls(weir) == 1


def test_a_keys_own_price_cap(weir: Weir) -> None:
    key = weir.new_key("money-key-cap", "5")
    key_id = key.split("_")[1]
    shown = weir.cli("keys", "update", key_id, "--max-price-usd", "0.00005").stdout
    assert '"max_price_microcents": 5000' in shown
    time.sleep(KEY_CACHE_TTL + 0.3)
    chat = {"model": "gpt-test", "messages": HI, "max_tokens": 4000}
    auth = {"authorization": f"Bearer {key}"}
    refused = httpx.post(f"{weir.url}/v1/chat/completions", headers=auth, json=chat)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "max_price_exceeded"
    assert "this key's max price" in refused.json()["error"]["message"]
    header = {**auth, "x-weir-max-price-microcents": "1000000"}  # the client's own cap overrides the key's
    assert httpx.post(f"{weir.url}/v1/chat/completions", headers=header, json=chat).status_code == 200
    weir.cli("keys", "update", key_id, "--max-price-usd", "none")
    time.sleep(KEY_CACHE_TTL + 0.3)
    assert httpx.post(f"{weir.url}/v1/chat/completions", headers=auth, json=chat).status_code == 200
    bad = weir.cli("keys", "update", key_id, "--max-price-usd", "cheap", check=False)
    assert bad.returncode == 1 and "--max-price-usd" in bad.stderr


def test_a_calls_generation_record_is_read_back_by_its_accounts_management_key(weir: Weir) -> None:
    key = weir.new_key("money-lookup", "5")
    manager = weir.cli("keys", "create", "--account", "money-lookup", "--management").stdout.strip().splitlines()[-1]
    stranger = weir.new_key("money-stranger", "5", "--management")
    answer = httpx.post(
        f"{weir.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": HI, "max_tokens": 50},
    )
    assert answer.status_code == 200
    rid = answer.headers["x-weir-request-id"]
    url = f"{weir.url}/v1/generations/{rid}"
    record = weir.generation(rid, manager, wait=5)  # committed within moments of the answer
    assert record["id"] == rid and record["model"] == "gpt-test"  # (a 200: generation() checks it)
    assert record["cost_microcents"] == int(answer.headers["x-weir-cost-microcents"])
    assert record["input_tokens"] == int(answer.headers["x-weir-input-tokens"]) and record["status"] == 200
    theirs = httpx.get(url, headers={"authorization": f"Bearer {stranger}"})
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "generation_not_found"
    inference = httpx.get(url, headers={"authorization": f"Bearer {key}"})
    assert inference.status_code == 403
    missing = httpx.get(f"{weir.url}/v1/generations/req_nope", headers={"authorization": f"Bearer {manager}"})
    assert missing.status_code == 404 and "committed" in missing.json()["error"]["message"]


def test_a_keys_spend_limit(weir: Weir) -> None:
    key = weir.new_key("money-spend", "5")
    key_id = key.split("_")[1]
    shown = weir.cli("keys", "update", key_id, "--spend-limit-usd", "0.000001", "--spend-period", "day").stdout
    assert '"spend_limit_microcents": 100' in shown and '"spend_period": "day"' in shown
    time.sleep(KEY_CACHE_TTL + 0.3)
    auth = {"authorization": f"Bearer {key}"}
    chat = {"model": "gpt-test", "messages": HI, "max_tokens": 50}
    assert httpx.post(f"{weir.url}/v1/chat/completions", headers=auth, json=chat).status_code == 200
    refused = httpx.post(f"{weir.url}/v1/chat/completions", headers=auth, json=chat)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "key_spend_limit_reached" and "resets at" in error["message"]
    bad = weir.cli("keys", "update", key_id, "--spend-period", "fortnight", check=False)
    assert bad.returncode == 1 and "--spend-period" in bad.stderr
    weir.cli("keys", "update", key_id, "--spend-limit-usd", "none")
    time.sleep(KEY_CACHE_TTL + 0.3)
    assert httpx.post(f"{weir.url}/v1/chat/completions", headers=auth, json=chat).status_code == 200


def test_a_stream_that_would_pass_its_cap_ends_with_a_length_stop_and_costs_no_more(weir: Weir) -> None:
    """The mock's long stream ignores max_tokens (1,200 words): the cap stops it mid-way, cleanly."""
    key = weir.new_key("money-midstream", "5")
    cap = 20_000  # microcents: a few hundred output tokens of long-test, well above the call's estimate
    with openai.OpenAI(
        base_url=f"{weir.url}/v1", api_key=key, max_retries=0, default_headers={"X-Weir-Max-Price-Microcents": str(cap)}
    ) as client:
        stream = client.chat.completions.create(
            model="long-test",
            messages=HI,  # type: ignore[arg-type]
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage = [], None, None
        for chunk in stream:
            for choice in chunk.choices:
                text.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
    assert finish == "length" and usage is not None
    assert 0 < usage.completion_tokens < 1200 and "".join(text)
    cost = getattr(usage, "cost_microcents", None) or usage.model_extra["cost_microcents"]  # type: ignore[index]
    assert 0 < cost <= cap


def test_responses_and_gemini_streams_stop_at_their_cap_too(weir: Weir) -> None:
    key = weir.new_key("money-midstream-others", "5")
    cap = 20_000
    with openai.OpenAI(
        base_url=f"{weir.url}/v1", api_key=key, max_retries=0, default_headers={"X-Weir-Max-Price-Microcents": str(cap)}
    ) as client:
        events = list(client.responses.create(model="resp-long", input="hi", max_output_tokens=16, stream=True))
    last = events[-1]
    assert last.type == "response.incomplete", [e.type for e in events[-3:]]
    assert (
        last.response.incomplete_details is not None and last.response.incomplete_details.reason == "max_output_tokens"
    )
    usage = last.response.usage
    assert usage is not None and 0 < usage.output_tokens and (usage.model_extra or {}).get("cost_microcents", 0) <= cap
    options = types.HttpOptions(
        base_url=weir.url,
        retry_options=types.HttpRetryOptions(attempts=1),
        headers={"X-Weir-Max-Price-Microcents": str(cap)},
    )
    google = genai.Client(api_key=key, http_options=options)
    try:
        chunks = list(
            google.models.generate_content_stream(
                model="gemini-long", contents="hi", config=types.GenerateContentConfig(max_output_tokens=16)
            )
        )
    finally:
        google.close()
    final = chunks[-1]
    assert final.candidates and final.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert final.usage_metadata is not None and 0 < (final.usage_metadata.candidates_token_count or 0)
    text = "".join(c.text or "" for c in chunks)
    assert text and len(text) < 1200 * 4


def test_an_anthropic_stream_stops_at_its_cap_with_max_tokens(weir: Weir) -> None:
    key = weir.new_key("money-midstream-claude", "5")
    cap = 20_000
    with anthropic.Anthropic(
        base_url=weir.url, api_key=key, max_retries=0, default_headers={"X-Weir-Max-Price-Microcents": str(cap)}
    ) as claude:
        with claude.messages.stream(model="claude-long", max_tokens=16, messages=HI) as stream:  # type: ignore[arg-type]
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and text and len(text) < 1200 * 4
    assert 0 < final.usage.output_tokens and final.usage.input_tokens > 1000  # the upstream's own input count
    manager = weir.cli("keys", "create", "--account", "money-midstream-claude", "--management").stdout.split()[-1]
    records = httpx.get(
        f"{weir.url}/v1/account/usage", headers={"authorization": f"Bearer {manager}"}, params={"model": "claude-long"}
    ).json()["data"]
    deadline = time.monotonic() + 10
    while not records and time.monotonic() < deadline:
        time.sleep(0.1)
        records = httpx.get(
            f"{weir.url}/v1/account/usage",
            headers={"authorization": f"Bearer {manager}"},
            params={"model": "claude-long"},
        ).json()["data"]
    assert records and records[0]["usage_estimated"] is True and 0 < records[0]["cost_microcents"] <= cap


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"model": "claude-long", "max_tokens": 100, "messages": HI, "stream": True}),
        ("/v1/responses", {"model": "resp-long", "input": "hi", "stream": True}),
        (
            "/v1beta/models/gemini-long:streamGenerateContent?alt=sse",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ),
    ],
    ids=["anthropic", "responses", "gemini"],
)
def test_a_client_that_leaves_is_billed_what_it_was_sent_on_other_dialects(
    weir: Weir, path: str, body: dict[str, object]
) -> None:
    account = f"money-leaving-{path.rsplit('/', 1)[1].split(':')[0]}"
    key = weir.new_key(account, "5")
    manager = weir.cli("keys", "create", "--account", account, "--management")
    headers = {"authorization": f"Bearer {key}", "x-goog-api-key": key, "anthropic-version": "2023-06-01"}
    marker = '"text"' if "gemini" in path else '"delta"'  # a chunk with words in it
    with httpx.stream("POST", f"{weir.url}{path}", json=body, headers=headers, timeout=30) as r:
        rid = r.headers["x-weir-request-id"]
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data: ") and marker in line:
                seen += 1
                if seen == 5:
                    break  # a few words, then hang up
    got = weir.generation(rid, manager.stdout.strip().splitlines()[-1])
    assert (got["status"], got["usage_estimated"]) == (499, True), got
    assert 5 <= got["output_tokens"] < 200 and got["input_tokens"] > 0 and got["cost_microcents"] > 0


def test_translated_streams_stop_at_their_cap_and_bill_a_client_that_leaves(weir: Weir) -> None:
    """The client's dialect is not the upstream's: the cap and the hang-up work on the canonical events."""
    key = weir.new_key("money-translated", "5")
    cap = 20_000
    headers = {"X-Weir-Max-Price-Microcents": str(cap)}
    with openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0, default_headers=headers) as client:
        chunks = list(
            client.chat.completions.create(
                model="claude-long",
                messages=HI,
                max_tokens=16,
                stream=True,  # type: ignore[arg-type]
            )
        )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"], finishes
    with anthropic.Anthropic(base_url=weir.url, api_key=key, max_retries=0, default_headers=headers) as claude:
        with claude.messages.stream(model="long-test", max_tokens=16, messages=HI) as stream:  # type: ignore[arg-type]
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and text and len(text) < 1200 * 4
    manager = weir.cli("keys", "create", "--account", "money-translated", "--management").stdout.split()[-1]
    auth = {"authorization": f"Bearer {manager}"}
    body = {"model": "claude-long", "messages": HI, "stream": True}
    with httpx.stream(
        "POST", f"{weir.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    ) as r:
        rid = r.headers["x-weir-request-id"]
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                seen += 1
                if seen == 5:
                    break
    got = weir.generation(rid, manager)
    assert (got["status"], got["usage_estimated"]) == (499, True), got
    assert 5 <= got["output_tokens"] < 200 and got["input_tokens"] > 0
    capped = httpx.get(f"{weir.url}/v1/account/usage", headers=auth, params={"model": "claude-long"}).json()["data"]
    assert all(r["cost_microcents"] <= cap for r in capped if r["status"] == 200)
