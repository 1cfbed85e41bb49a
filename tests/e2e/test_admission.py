"""Admission end to end: a real `weir serve` (SQLite, in-process limits) with tiers, behind a trusted proxy
(loopback), driven through the official openai, anthropic and google-genai SDKs and the CLI: the limit headers
every client reads, 429s in each dialect with an accurate Retry-After that the SDKs wait out, model access by
tier, disabled models, IP allow-lists and max_ips behind a proxy, expiry, and per-key model lists."""

from __future__ import annotations

import gc
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import HASHED_ADMIN_TOKEN, PROVIDER_KEY, Weir
from tests.support import mock_upstream as mock
from tests.support.mock_upstream import COMPLETION_TOKENS, PROMPT_TOKENS
from tests.support.processes import free_port, start, stop, wait_http
from weir.admin.tokens import digest

HI = [{"role": "user", "content": "hi"}]
CALL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS
TIERS = f"""
[[tiers]]
name = "free"
description = "Three models, 4 calls a minute"
models = ["gpt-*", "claude-test", "gemini-test"]
requests_per_minute = 4
requests_per_day = 50

[[tiers]]
name = "all"
requests_per_day = 1000

[[tiers]]
name = "tokens"
tokens_per_minute = {CALL_TOKENS + 200}

[[tiers]]
name = "single"
max_concurrent = 1

[[tiers]]
name = "roaming"
max_ips = 2

[[tiers]]
name = "double"
price_multiplier = 2.0

[[tiers]]
name = "editable"
description = "changed by test_a_tier_changed_over_the_api_reaches_the_gateway"
requests_per_minute = 1000
"""
MODELS = [  # (id, provider, upstream model, extra)
    ("gpt-test", "mock", "mock-model", 'aliases = ["gpt-alias"]'),
    ("gpt-held", "mock", "mock-hold-1500-admission", ""),
    ("claude-test", "anthropic-mock", "mock-model", ""),
    ("gemini-test", "gemini-mock", "mock-model", ""),
    ("other-test", "mock", "mock-model", ""),
    ("switchable", "mock", "mock-model", ""),
    ("off-test", "mock", "mock-model", "enabled = false"),
]


@dataclass
class Gate:
    weir: Weir
    clients: list[openai.OpenAI | anthropic.Anthropic | genai.Client] = field(default_factory=list)

    def close(self) -> None:
        """Close every SDK client a test made, so that none leaves a socket for the garbage collector."""
        while self.clients:
            self.clients.pop().close()

    def key(self, account: str, *flags: str) -> str:
        self.weir.cli("accounts", "create", account, "--balance-usd", "5")
        return self.weir.cli("keys", "create", "--account", account, *flags).stdout.strip().splitlines()[-1]

    def openai(self, key: str, retries: int = 0, **headers: str) -> openai.OpenAI:
        client = openai.OpenAI(
            base_url=f"{self.weir.url}/v1", api_key=key, max_retries=retries, timeout=20, default_headers=headers
        )
        self.clients.append(client)
        return client

    def anthropic(self, key: str) -> anthropic.Anthropic:
        client = anthropic.Anthropic(base_url=self.weir.url, api_key=key, max_retries=0, timeout=20)
        self.clients.append(client)
        return client

    def genai(self, key: str) -> genai.Client:
        options = types.HttpOptions(base_url=self.weir.url, retry_options=types.HttpRetryOptions(attempts=1))
        client = genai.Client(api_key=key, http_options=options)
        self.clients.append(client)
        return client

    def chat(self, key: str, model: str = "gpt-test", **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.weir.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", **headers},
            json={"model": model, "messages": HI},
            timeout=20,
        )


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str) -> Iterator[Gate]:
    home = tmp_path_factory.mktemp("admission")
    port = free_port()
    models = "".join(
        f'\n[[models]]\nid = "{mid}"\n{extra}\nprice = {{ input = 0.5, output = 1.5 }}\n'
        f'routes = [{{ provider = "{provider}", model = "{upstream}" }}]\n'
        for mid, provider, upstream, extra in MODELS
    )
    config = home / "weir.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{home / "data"}"
trusted_proxies = ["127.0.0.1/32"]

[storage]
url = "sqlite://{home / "weir.db"}"

[auth]
pepper = "admission-pepper-0123456789abcdef"
key_cache_ttl_seconds = 0.5
default_tier = "free"

[admin]
tokens = ["{digest(HASHED_ADMIN_TOKEN)}"]
{TIERS}
[[providers]]
name = "mock"
dialect = "openai"
base_url = "{mock_upstream}/v1"
api_keys = ["{PROVIDER_KEY}"]

[[providers]]
name = "anthropic-mock"
dialect = "anthropic"
base_url = "{mock_upstream}"
api_keys = ["{PROVIDER_KEY}"]

[[providers]]
name = "gemini-mock"
dialect = "gemini"
base_url = "{mock_upstream}/v1beta"
api_keys = ["{PROVIDER_KEY}"]
{models}"""
    )
    log = home / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, {})
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc, log)
    yield Gate(Weir(url, config, {}, mock_upstream))
    assert stop(proc) == 0, log.read_text()[-4000:]


@pytest.fixture(autouse=True)
def close_clients(gate: Gate) -> Iterator[None]:
    """Close the test's clients and collect its garbage (an SDK error's traceback keeps a client in a cycle), so
    that a socket left open fails the test that left it rather than a later one."""
    yield
    gate.close()
    gc.collect()


def settle_cache() -> None:
    """Long enough for every worker to see a change in the store (key_cache_ttl_seconds = 0.5)."""
    time.sleep(1.2)


def test_openai_clients_read_the_limits_and_a_429_they_can_act_on(gate: Gate) -> None:
    key = gate.key("rl-openai")
    client = gate.openai(key)
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=HI)  # type: ignore[arg-type]
    h = raw.headers
    now = time.time()
    assert (h["x-ratelimit-limit"], h["x-ratelimit-remaining"]) == ("4", "3")
    assert now + 55 <= int(h["x-ratelimit-reset"]) <= now + 61  # a minute after this call, in Unix seconds
    assert (h["x-ratelimit-daily-limit"], h["x-ratelimit-daily-remaining"]) == ("50", "49")
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("4", "3")
    assert re.fullmatch(r"(60s|59s|1m0s)", h["x-ratelimit-reset-requests"])  # a Go duration, as OpenAI sends it
    assert "anthropic-ratelimit-requests-limit" not in h and "x-ratelimit-warning" not in h
    for _ in range(3):
        last = client.chat.completions.with_raw_response.create(model="gpt-test", messages=HI)  # type: ignore[arg-type]
    assert last.headers["x-ratelimit-remaining"] == "0" and "4 of its 4" in last.headers["x-ratelimit-warning"]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-test", messages=HI)  # type: ignore[arg-type]
    refused = caught.value.response
    error = refused.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "requests")
    assert "requests_per_minute" in error["message"] and re.search(r"Please try again in \d+s\.$", error["message"])
    wait = int(refused.headers["retry-after"])
    assert 50 <= wait <= 60 and refused.headers["retry-after-ms"] == str(wait * 1000)
    assert refused.headers["x-should-retry"] == "true" and refused.headers["x-ratelimit-remaining"] == "0"
    # A streamed call is refused the same way, before its stream starts; token counting is not rate-limited
    stream = httpx.post(
        f"{gate.weir.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": HI, "stream": True},
    )
    assert stream.status_code == 429 and stream.headers["content-type"].startswith("application/json")
    counted = httpx.post(
        f"{gate.weir.url}/v1/messages/count_tokens",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-test", "messages": HI},
    )
    assert counted.status_code == 200, counted.text


def test_the_openai_sdk_waits_out_a_concurrency_refusal(gate: Gate) -> None:
    """max_concurrent refuses with Retry-After 1 s; the SDK's own retry waits that long and gets through once the
    call in flight has ended."""
    key = gate.key("rl-single", "--tier", "single")
    first = threading.Thread(target=lambda: gate.openai(key).chat.completions.create(model="gpt-held", messages=HI))  # type: ignore[arg-type]
    first.start()
    time.sleep(0.4)
    refused = gate.chat(key)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_concurrent"
    assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("1", "1000")
    began = time.monotonic()
    answer = gate.openai(key, retries=4).chat.completions.create(model="gpt-test", messages=HI)  # type: ignore[arg-type]
    assert answer.choices[0].message.content and time.monotonic() - began >= 0.9
    first.join(10)


def test_anthropic_clients_read_their_own_headers(gate: Gate) -> None:
    key = gate.key("rl-anthropic")
    client = gate.anthropic(key)
    raw = client.messages.with_raw_response.create(model="claude-test", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    h = raw.headers
    assert (h["anthropic-ratelimit-requests-limit"], h["anthropic-ratelimit-requests-remaining"]) == ("4", "3")
    reset = h["anthropic-ratelimit-requests-reset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", reset)  # RFC 3339, as Anthropic sends it
    assert h["x-ratelimit-limit"] == "4" and "x-ratelimit-limit-requests" not in h
    for _ in range(3):
        client.messages.create(model="claude-test", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-test", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60


def test_gemini_clients_get_resource_exhausted_with_the_wait(gate: Gate) -> None:
    key = gate.key("rl-gemini")
    client = gate.genai(key)
    for _ in range(4):
        assert client.models.generate_content(model="gemini-test", contents="hi").text
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-test", contents="hi")
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert re.search(r"Please retry in \d+s\.$", caught.value.message or "")  # what Gemini CLI reads
    details = caught.value.details["error"]["details"]
    retry = next(d for d in details if d["@type"].endswith("RetryInfo"))
    assert re.fullmatch(r"\d+s", retry["retryDelay"])
    quota = next(d for d in details if d["@type"].endswith("QuotaFailure"))
    assert quota["violations"][0]["quotaId"] == "RequestsPerMinute"


def test_token_limits_count_settled_usage(gate: Gate) -> None:
    key = gate.key("rl-tokens", "--tier", "tokens")
    first = gate.chat(key)
    assert first.status_code == 200 and first.headers["x-ratelimit-limit-tokens"] == str(CALL_TOKENS + 200)
    assert first.headers["x-ratelimit-remaining-tokens"] == str(CALL_TOKENS + 200)  # counted once it settles
    deadline = time.monotonic() + 5
    while (second := gate.chat(key)).status_code == 200 and time.monotonic() < deadline:
        pass  # one call may overshoot by its own size; the next is refused
    error = second.json()["error"]
    assert second.status_code == 429 and error["type"] == "tokens" and "tokens_per_minute" in error["message"]


def test_models_outside_the_tier_and_disabled_models(gate: Gate) -> None:
    key = gate.key("access-free")
    client = gate.openai(key)
    with pytest.raises(openai.PermissionDeniedError) as outside:
        client.chat.completions.create(model="other-test", messages=HI)  # type: ignore[arg-type]
    error = outside.value.response.json()["error"]
    assert error["code"] == "model_not_allowed" and "tier 'free'" in error["message"]
    assert client.chat.completions.create(model="gpt-alias", messages=HI).choices  # type: ignore[arg-type]

    everything = gate.key("access-all", "--tier", "all")
    assert gate.chat(everything, "switchable").status_code == 200
    assert "disabled switchable" in gate.weir.cli("models", "disable", "switchable", "--reason", "maintenance").stdout
    settle_cache()
    off = gate.chat(everything, "switchable")
    error = off.json()["error"]
    assert off.status_code == 403 and error["code"] == "model_disabled"
    assert "maintenance" in error["message"] and "GET /v1/models" in error["message"]
    listed = {m["id"] for m in httpx.get(f"{gate.weir.url}/v1/models").json()["data"]}
    assert "switchable" not in listed and "off-test" not in listed and "other-test" in listed
    gate.weir.cli("models", "enable", "switchable")
    settle_cache()
    assert gate.chat(everything, "switchable").status_code == 200
    configured_off = gate.chat(everything, "off-test")
    assert configured_off.status_code == 403 and "disabled in the configuration" in configured_off.text
    refused = gate.weir.cli("models", "enable", "off-test", check=False)
    assert refused.returncode == 1 and "enabled = false" in refused.stderr
    with pytest.raises(anthropic.PermissionDeniedError) as anth:
        gate.anthropic(key).messages.create(model="other-test", max_tokens=8, messages=HI)  # type: ignore[arg-type]
    assert anth.value.response.json()["error"]["type"] == "permission_error"


def test_model_lists_hold_what_the_key_may_use(gate: Gate) -> None:
    key = gate.key("lists-free")
    expected = {"gpt-test", "gpt-alias", "gpt-held", "claude-test", "gemini-test"}
    assert {m.id for m in gate.openai(key).models.list()} == expected
    assert {m.id for m in gate.anthropic(key).models.list().data} == expected
    google = gate.genai(key)
    assert {m.name for m in google.models.list()} == {f"models/{n}" for n in expected}
    with pytest.raises(openai.PermissionDeniedError):
        gate.openai(key).models.retrieve("other-test")
    everything = {m["id"] for m in httpx.get(f"{gate.weir.url}/v1/models").json()["data"]}
    assert everything >= expected | {"other-test", "switchable"} and "off-test" not in everything


def test_ip_allow_list_behind_a_trusted_proxy(gate: Gate) -> None:
    key = gate.key("ip-fenced", "--tier", "all", "--ip-allow", "203.0.113.0/24,2001:db8::/32")
    assert gate.chat(key, **{"x-forwarded-for": "203.0.113.7"}).status_code == 200
    assert gate.chat(key, **{"x-forwarded-for": "2001:db8::5"}).status_code == 200
    outside = gate.chat(key, **{"x-forwarded-for": "198.51.100.1"})
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "ip_not_allowed"
    assert "198.51.100.1" in outside.json()["error"]["message"]
    # A client cannot pass for an allowed address by writing it first: the nearest untrusted hop is the client
    spoofed = gate.chat(key, **{"x-forwarded-for": "203.0.113.7, 198.51.100.1"})
    assert spoofed.status_code == 403
    assert gate.chat(key).status_code == 403  # no proxy header: the peer (127.0.0.1) is the client
    gemini = gate.genai(key)
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model="gemini-test", contents="hi")
    assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"


def test_max_ips_counts_distinct_addresses_per_day(gate: Gate) -> None:
    key = gate.key("ip-roaming", "--tier", "roaming")
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
        assert gate.chat(key, **{"x-forwarded-for": address}).status_code == 200
    third = gate.chat(key, **{"x-forwarded-for": "192.0.2.3"})
    assert third.status_code == 403 and third.json()["error"]["code"] == "ip_limit_reached"
    assert gate.chat(key, **{"x-forwarded-for": "192.0.2.2"}).status_code == 200  # a known one still passes


def test_key_updates_reach_the_gateway(gate: Gate) -> None:
    key = gate.key("updated")
    key_id = key.split("_")[1]
    assert gate.chat(key, "other-test").status_code == 403
    shown = gate.weir.cli("keys", "update", key_id, "--tier", "all", "--requests-per-minute", "2").stdout
    assert '"tier": "all"' in shown and '"requests_per_minute": 2' in shown
    settle_cache()
    assert [gate.chat(key, "other-test").status_code for _ in range(3)] == [200, 200, 429]
    gate.weir.cli("keys", "update", key_id, "--expires", "2020-01-01T00:00:00Z")
    settle_cache()
    expired = gate.chat(key)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "key_expired"
    assert "2020-01-01T00:00:00Z" in expired.json()["error"]["message"]
    bad = gate.weir.cli("keys", "update", key_id, "--tier", "gold", check=False)
    assert bad.returncode == 1 and "--tier: no tier named 'gold'" in bad.stderr


def test_an_owner_gives_its_keys_only_the_tiers_and_limits_the_operator_allows(gate: Gate) -> None:
    """POST and PATCH /v1/account/keys: a tier the operator allowed the account (PATCH /admin/v1/accounts/{id}
    allowed_tiers), limits no higher than the key's tier's; a refused key is not made; the operator may set any."""
    admin = httpx.Client(
        base_url=f"{gate.weir.url}/admin/v1", headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"}, timeout=10
    )
    with admin:
        account = admin.post("/accounts", json={"name": "owner-tiers", "balance_usd": "5"}).json()
        made = admin.post(f"/accounts/{account['id']}/keys", json={"kind": "management"})
        assert made.status_code == 201, made.text
        me = httpx.Client(
            base_url=f"{gate.weir.url}/v1/account", headers={"authorization": f"Bearer {made.json()['key']}"}
        )
        with me:

            def refused(answer: httpx.Response, param: str, says: str) -> None:
                assert answer.status_code == 400, answer.text
                error = answer.json()["error"]
                assert (error["code"], error["param"]) == ("invalid_request", param) and says in error["message"], error

            refused(me.post("/keys", json={"tier": "all"}), "tier", "may not give its keys the tier 'all'")
            refused(me.post("/keys", json={"limits": {"requests_per_minute": 5}}), "limits.requests_per_minute", "4")
            refused(me.post("/keys", json={"kind": "management", "tier": "free"}), "tier", "management keys")
            assert len(me.get("/keys").json()["data"]) == 1  # none of those was made: only the management key

            narrowed = me.post("/keys", json={"name": "narrow", "limits": {"requests_per_minute": 2}})
            assert narrowed.status_code == 201, narrowed.text
            key, key_id = narrowed.json()["key"], narrowed.json()["id"]
            answer = gate.chat(key)
            assert answer.status_code == 200 and answer.headers["x-ratelimit-limit-requests"] == "2"
            assert gate.chat(key, "other-test").status_code == 403  # not in the default tier (free)

            refused(me.patch(f"/keys/{key_id}", json={"tier": "all"}), "tier", "allowed: none: ask the operator")
            allowed = admin.patch(f"/accounts/{account['id']}", json={"allowed_tiers": ["all"]})
            assert allowed.json()["allowed_tiers"] == ["all"]
            moved = me.patch(f"/keys/{key_id}", json={"tier": "all", "limits": None})
            assert moved.status_code == 200 and moved.json()["tier"] == "all", moved.text
            refused(me.patch(f"/keys/{key_id}", json={"tier": "single"}), "tier", "(allowed: all)")
            refused(
                me.patch(f"/keys/{key_id}", json={"limits": {"requests_per_day": 1001}}),
                "limits.requests_per_day",
                "1000",
            )
            settle_cache()
            assert gate.chat(key, "other-test").status_code == 200  # the tier "all" has every model

            by_operator = admin.patch(f"/accounts/{account['id']}/keys/{key_id}", json={"tier": "single"})
            assert by_operator.status_code == 200 and by_operator.json()["tier"] == "single", by_operator.text
            assert me.get("/keys").json()["data"][0]["tier"] == "single"


def test_tiers_are_listed(gate: Gate) -> None:
    listed = gate.weir.cli("tiers", "list").stdout
    assert '"name": "free"' in listed and '"default": true' in listed and '"requests_per_minute": 4' in listed


def test_config_with_limits_and_workers_needs_redis(tmp_path: Path) -> None:
    config = tmp_path / "weir.toml"
    config.write_text(f'[server]\nworkers = 2\ndata_dir = "{tmp_path}"\n{TIERS}')
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], tmp_path / "log", {})
    assert proc.wait(30) == 2
    assert "need storage.redis_url" in (tmp_path / "log").read_text()


def test_the_account_and_tier_multipliers_price_every_call(gate: Gate) -> None:
    gate.weir.cli("accounts", "create", "multiplied", "--balance-usd", "5", "--rate-multiplier", "1.5")
    key = gate.weir.cli("keys", "create", "--account", "multiplied", "--tier", "double").stdout.strip().split()[-1]
    manager = gate.weir.cli("keys", "create", "--account", "multiplied", "--management").stdout.strip().split()[-1]
    answer = gate.chat(key)
    assert answer.status_code == 200
    usage = mock.PROMPT_TOKENS * 50_000_000 + mock.COMPLETION_TOKENS * 150_000_000  # $0.5 and $1.5 per 1M, scaled
    assert int(answer.headers["x-weir-cost-microcents"]) == -(-usage * 3 // 1_000_000)  # 1.5 x 2, rounded once
    found = gate.weir.generation(answer.headers["x-weir-request-id"], manager)
    assert found["multiplier"] == 3.0
    assert found["cost_microcents"] == int(answer.headers["x-weir-cost-microcents"])
    streamed = httpx.post(
        f"{gate.weir.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": HI, "stream": True, "stream_options": {"include_usage": True}},
        timeout=20,
    )
    chunks = [orjson.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    in_stream = next(c["usage"] for c in reversed(chunks) if c.get("usage"))
    assert in_stream["cost_microcents"] == -(-usage * 3 // 1_000_000)  # the stream's own usage: multiplied too
    shown = gate.weir.cli("accounts", "update", "multiplied", "--rate-multiplier", "1.2345", check=False)
    assert shown.returncode == 1 and "--rate-multiplier" in shown.stderr and "3 decimal" in shown.stderr


def test_a_tier_changed_over_the_api_reaches_the_gateway(gate: Gate) -> None:
    """PATCH /admin/v1/tiers/{name}: a key of the tier is held to the new limit and pays the new multiplier once its
    cached access expires; `weir tiers list` shows the settings in effect; reset brings the configured ones back."""
    admin = httpx.Client(
        base_url=f"{gate.weir.url}/admin/v1", headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"}, timeout=10
    )
    key = gate.key("retiered", "--tier", "editable")

    def limit() -> str:
        answer = gate.chat(key)
        assert answer.status_code in (200, 429), answer.text
        return answer.headers["x-ratelimit-limit-requests"]

    def pricing() -> float:
        listed = httpx.get(f"{gate.weir.url}/v1/models", headers={"authorization": f"Bearer {key}"}).json()
        return float(next(m for m in listed["data"] if m["id"] == "gpt-test")["pricing"]["per_1m_tokens"]["input"])

    with admin:
        assert limit() == "1000" and pricing() == 0.5
        refused = admin.patch("/tiers/editable", json={"requests_per_minute": 0})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "requests_per_minute"
        refused = admin.patch("/tiers/editable", json={"models": ["no-such-*"], "max_ips": "two"})
        assert refused.status_code == 400 and "max_ips" in refused.json()["error"]["message"]
        assert admin.patch("/tiers/gold", json={"max_ips": 2}).json()["error"]["code"] == "tier_not_found"
        try:
            changed = admin.patch("/tiers/editable", json={"requests_per_minute": 3, "price_multiplier": 1.5})
            assert changed.status_code == 200, changed.text
            assert changed.json()["limits"] == {"requests_per_minute": 3} and changed.json()["settings_set"] is True
            deadline = time.monotonic() + 10
            while limit() != "3":
                assert time.monotonic() < deadline, "the new limit did not reach the gateway"
                time.sleep(0.1)
            assert pricing() == 0.75  # $0.5 per 1M input tokens times 1.5
            statuses = [gate.chat(key).status_code for _ in range(4)]
            assert statuses.count(429) >= 1, statuses  # at most 3 a minute now
            listed = orjson.loads(gate.weir.cli("tiers", "list").stdout)
            shown = next(t for t in listed if t["name"] == "editable")
            assert (shown["price_multiplier"], shown["settings_set"]) == (1.5, True)
            page = admin.get("/tiers", params={"limit": 2}).json()
            assert len(page["data"]) == 2 and page["has_more"] is True
        finally:
            reset = admin.post("/tiers/editable/reset")
        assert reset.status_code == 200 and reset.json()["settings_set"] is False
        assert reset.json()["limits"] == {"requests_per_minute": 1000}
        deadline = time.monotonic() + 10
        while pricing() != 0.5:
            assert time.monotonic() < deadline, "the reset did not reach the gateway"
            time.sleep(0.1)
