"""Failover, breakers, key rotation, provider pause and the upstream-error rules, end to end: a real `weir serve`
(SQLite) whose models have several routes into real loopback upstreams that refuse connections, answer 500 or
429, hang, drop the connection, echo credentials, never end a stream or trickle a body (tests/support/
mock_faults.py), driven through the official openai and anthropic SDKs with their own retries off."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import HASHED_ADMIN_TOKEN, PROVIDER_KEY, Weir
from tests.support.mock_upstream import COMPLETION_TOKENS, PROMPT_TOKENS, REPLY_WORDS
from tests.support.processes import free_port, start, stop, wait_http
from weir.admin.tokens import digest

PRICE = {"input": 0.5, "output": 1.5}  # USD per 1M tokens
PRIMARY_KEY = "sk-primary-canary-abcdef0123456789"
COOL_KEYS = ["sk-cool-a-0123456789abcdef", "sk-cool-b-0123456789abcdef"]
REPLY = "".join(REPLY_WORDS)
ROUTES: dict[str, list[tuple[str, str]]] = {  # model -> routes in priority order: (provider, upstream model)
    "fo-refused": [("dead", "mock-model"), ("backup", "mock-model")],
    "fo-500": [("primary", "fault-500-a"), ("backup", "mock-model")],
    "fo-429": [("limited", "fault-429-a"), ("backup", "mock-model")],
    "fo-cool": [("two-keys", "fault-429-cool"), ("backup", "mock-model")],
    "fo-hang": [("impatient", "fault-hang-a"), ("backup", "mock-model")],
    "fo-die": [("primary", "fault-die-a"), ("backup", "mock-model")],
    "fo-anthropic-down": [("claude", "fault-500-m"), ("backup", "mock-model")],
    "fo-openai-down": [("primary", "fault-500-n"), ("claude", "mock-model")],
    "fo-breaker": [("primary", "fault-500-breaker"), ("backup", "mock-model")],
    "fo-solo": [("primary", "fault-500-solo")],
    "fo-all-fail": [("primary", "fault-500-x"), ("backup", "fault-500-y")],
    "fo-auth": [("rejected", "fault-401echo-a")],
    "fo-auth-claude": [("rejected-too", "fault-401echo-b")],
    "fo-echo400": [("primary", "fault-400echo-a"), ("backup", "mock-model")],
    "fo-endless": [("short", "fault-endless-a")],
    "fo-trickle": [("short", "fault-trickle-a")],
    "fo-notjson": [("primary", "fault-notjson-a")],
    "fo-slow": [("backup", "fault-hang-slow")],
    "fo-paused": [("pausable-a", "mock-model"), ("pausable-b", "mock-model")],
}
EXPECTED_COST = -(-(PROMPT_TOKENS * 50_000_000 + COMPLETION_TOKENS * 150_000_000) // 1_000_000)  # microcents


@dataclass
class Gateway:
    weir: Weir
    key: str
    db: Path
    log: Path

    def __post_init__(self) -> None:
        self._openai = openai.OpenAI(base_url=f"{self.weir.url}/v1", api_key=self.key, max_retries=0, timeout=20)
        self._anthropic = anthropic.Anthropic(base_url=self.weir.url, api_key=self.key, max_retries=0, timeout=20)

    def openai(self) -> openai.OpenAI:
        return self._openai

    def anthropic(self) -> anthropic.Anthropic:
        return self._anthropic

    def close(self) -> None:
        self._openai.close()
        self._anthropic.close()

    def record(self, request_id: str, wait: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while True:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
                conn.row_factory = sqlite3.Row
                rows = conn.execute("SELECT * FROM usage_records WHERE request_id = ?", (request_id,)).fetchall()
            if rows or time.monotonic() > deadline:
                assert len(rows) == 1, f"{len(rows)} usage records for {request_id}"
                return dict(rows[0])
            time.sleep(0.05)

    def provider(self, name: str, shows: Callable[[dict[str, Any]], bool], wait: float = 5.0) -> dict[str, Any]:
        """GET /admin/v1/providers/{name}, once it `shows` what is expected (the worker publishes its health every
        key_cache_ttl_seconds)."""
        deadline = time.monotonic() + wait
        while True:
            found = httpx.get(
                f"{self.weir.url}/admin/v1/providers/{name}",
                headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"},
                timeout=10,
            )
            assert found.status_code == 200, found.text
            shown: dict[str, Any] = found.json()
            if shows(shown) or time.monotonic() > deadline:
                return shown
            time.sleep(0.1)

    def seen(self, upstream_model: str, marker: str | None = None) -> int:
        """Requests the mock received for `upstream_model` (whose messages contain `marker`, if given)."""
        requests = self.weir.upstream_requests()
        return sum(
            1
            for r in requests
            if isinstance(r["body"], dict)
            and r["body"].get("model") == upstream_model
            and (marker is None or marker in json.dumps(r["body"]))
        )


def _config(path: Path, port: int, upstream: str, data: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    providers = [
        ("primary", "openai", f"{upstream}/v1", [PRIMARY_KEY], ""),
        ("backup", "openai", f"{upstream}/v1", [PROVIDER_KEY], ""),
        ("dead", "openai", dead, ["unused-key-0123456789"], ""),
        ("impatient", "openai", f"{upstream}/v1", [PROVIDER_KEY], "first_byte_timeout_seconds = 0.5"),
        ("two-keys", "openai", f"{upstream}/v1", COOL_KEYS, ""),
        ("limited", "openai", f"{upstream}/v1", [PROVIDER_KEY], ""),
        ("rejected", "openai", f"{upstream}/v1", [PRIMARY_KEY], ""),
        ("rejected-too", "openai", f"{upstream}/v1", [PRIMARY_KEY], ""),
        ("short", "openai", f"{upstream}/v1", [PROVIDER_KEY], "max_stream_seconds = 1\nrequest_timeout_seconds = 1"),
        ("claude", "anthropic", upstream, [PROVIDER_KEY], ""),
        ("pausable-a", "openai", f"{upstream}/v1", [PROVIDER_KEY], ""),
        ("pausable-b", "openai", f"{upstream}/v1", [PROVIDER_KEY], ""),
    ]
    text = f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data}"
count_tokens_per_minute = 5
count_tokens_max_bytes = 4096

[storage]
url = "sqlite://{data / "weir.db"}"

[auth]
pepper = "failover-pepper-0123456789abcdef"
key_cache_ttl_seconds = 0.5

[admin]
tokens = ["{digest(HASHED_ADMIN_TOKEN)}"]

[routing]
breaker_failures = 3
breaker_open_seconds = 2
retry_budget_minimum = 100  # these tests fail over more often than a real 10 s window would allow
"""
    for name, dialect, base, keys, extra in providers:
        text += f"""
[[providers]]
name = "{name}"
dialect = "{dialect}"
base_url = "{base}"
api_keys = {json.dumps(keys)}
{extra}
"""
    for model, routes in ROUTES.items():
        listed = ", ".join(f'{{ provider = "{p}", model = "{m}", priority = {i} }}' for i, (p, m) in enumerate(routes))
        text += f"""
[[models]]
id = "{model}"
price = {{ input = {PRICE["input"]}, output = {PRICE["output"]} }}
routes = [{listed}]
"""
    path.write_text(text)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str) -> Iterator[Gateway]:
    home = tmp_path_factory.mktemp("failover")
    port = free_port()
    config = home / "weir.toml"
    _config(config, port, mock_upstream, home / "data")
    log = home / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log)
    weir = Weir(f"http://127.0.0.1:{port}", config, {}, mock_upstream)
    try:
        wait_http(f"{weir.url}/healthz", proc, log)
        key = weir.new_key("failover", "100")
        gateway = Gateway(weir, key, home / "data" / "weir.db", log)
        yield gateway
        gateway.close()
    finally:
        assert stop(proc) == 0, log.read_text()[-4000:]


def ask(marker: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"hello {marker}"}]


@pytest.mark.parametrize("model", ["fo-refused", "fo-500", "fo-429", "fo-hang", "fo-die"])
def test_a_failed_route_fails_over_and_the_client_sees_one_clean_answer(gw: Gateway, model: str) -> None:
    raw = gw.openai().chat.completions.with_raw_response.create(model=model, messages=ask(uuid.uuid4().hex))
    completion = raw.parse()
    assert completion.choices[0].message.content == REPLY
    assert int(raw.headers["x-weir-cost-microcents"]) == EXPECTED_COST
    record = gw.record(raw.headers["x-weir-request-id"])
    assert (record["provider"], record["status"], record["cost_microcents"]) == ("backup", 200, EXPECTED_COST)


def test_no_failover_once_the_stream_began_and_a_broken_stream_costs_nothing(gw: Gateway) -> None:
    marker = uuid.uuid4().hex
    stream = gw.openai().chat.completions.with_raw_response.create(model="fo-die", messages=ask(marker), stream=True)
    texts = []
    with pytest.raises(openai.APIError), stream.parse() as chunks:
        for chunk in chunks:
            texts.extend(choice.delta.content or "" for choice in chunk.choices)
    assert texts == ["partial"]
    assert gw.seen("mock-model", marker) == 0  # the backup never saw this call
    record = gw.record(stream.headers["x-weir-request-id"])
    assert (record["provider"], record["status"], record["cost_microcents"]) == ("primary", 502, 0)


def test_an_anthropic_client_whose_anthropic_route_is_down_is_served_by_the_openai_route(gw: Gateway) -> None:
    raw = gw.anthropic().messages.with_raw_response.create(
        model="fo-anthropic-down", max_tokens=64, messages=ask(uuid.uuid4().hex)
    )
    message = raw.parse()
    assert message.content[0].text == REPLY  # type: ignore[union-attr]
    record = gw.record(raw.headers["x-weir-request-id"])
    assert (record["provider"], record["cost_microcents"]) == ("backup", EXPECTED_COST)


def test_an_openai_client_whose_openai_route_is_down_is_served_by_the_anthropic_route(gw: Gateway) -> None:
    marker = uuid.uuid4().hex
    raw = gw.openai().chat.completions.with_raw_response.create(model="fo-openai-down", messages=ask(marker))
    assert raw.parse().choices[0].message.content
    record = gw.record(raw.headers["x-weir-request-id"])
    assert record["provider"] == "claude" and record["status"] == 200
    with gw.anthropic().messages.create(
        model="fo-openai-down", max_tokens=64, messages=ask(marker), stream=True
    ) as streamed:
        assert [event.type for event in streamed][-1] == "message_stop"


def test_the_breaker_stops_traffic_to_a_dead_route_then_tries_it_once(gw: Gateway) -> None:
    client = gw.openai()
    for _ in range(6):
        assert client.chat.completions.create(model="fo-breaker", messages=ask("b")).choices[0].message.content
    assert gw.seen("fault-500-breaker") == 3  # breaker_failures = 3: then the route is skipped
    time.sleep(2.2)  # breaker_open_seconds = 2: one trial call
    for _ in range(3):
        client.chat.completions.create(model="fo-breaker", messages=ask("b"))
    assert gw.seen("fault-500-breaker") == 4
    time.sleep(1.5)  # the worker publishes its health every key_cache_ttl_seconds
    listed = json.loads(gw.weir.cli("providers", "list").stdout)
    primary = next(p for p in listed if p["name"] == "primary")
    assert {"model": "fo-breaker", "breaker": "open"} in primary["routes"]
    over_http = gw.provider("primary", lambda p: {"model": "fo-breaker", "breaker": "open"} in p["routes"])
    assert {"model": "fo-breaker", "breaker": "open"} in over_http["routes"]  # GET /admin/v1/providers/{name}
    assert {"model": "fo-openai-down", "breaker": "closed"} in over_http["routes"]  # one failure: still closed


def test_no_usable_route_is_503_no_channel_available_with_retry_after(gw: Gateway) -> None:
    client = gw.openai()
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="fo-solo", messages=ask("s"))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="fo-solo", messages=ask("s"))
    err = info.value
    assert err.status_code == 503 and err.code == "no_channel_available"  # type: ignore[attr-defined]
    assert err.message.endswith("no available channel for model fo-solo")
    assert 1 <= int(err.response.headers["retry-after"]) <= 2
    assert gw.seen("fault-500-solo") == 3


def test_a_429_key_cools_down_for_its_retry_after_and_a_provider_without_usable_keys_is_skipped(
    gw: Gateway,
) -> None:
    client = gw.openai()
    for _ in range(2):  # each of the two keys gets a 429 once, then cools down for the upstream's 2 s
        assert client.chat.completions.create(model="fo-cool", messages=ask("k")).choices[0].message.content
    requests = gw.weir.upstream_requests()
    keys_seen = [r["headers"]["authorization"] for r in requests if r["body"].get("model") == "fault-429-cool"]
    assert sorted(keys_seen) == sorted(f"Bearer {k}" for k in COOL_KEYS)
    for _ in range(3):  # both keys cooling: the provider is skipped without a call
        assert client.chat.completions.create(model="fo-cool", messages=ask("k")).choices[0].message.content
    assert gw.seen("fault-429-cool") == 2
    time.sleep(2.2)
    client.chat.completions.create(model="fo-cool", messages=ask("k"))
    assert gw.seen("fault-429-cool") == 3


def test_every_attempt_failed_gives_the_last_failure_once_recorded(gw: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        gw.openai().chat.completions.create(model="fo-all-fail", messages=ask(uuid.uuid4().hex))
    assert info.value.status_code == 500 and "upstream exploded" in info.value.message
    record = gw.record(info.value.response.headers["x-weir-request-id"])
    assert (record["provider"], record["status"], record["cost_microcents"]) == ("backup", 500, 0)


def test_a_rejected_provider_key_is_502_upstream_auth_failed_and_never_leaks(gw: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        gw.openai().chat.completions.create(model="fo-auth", messages=ask("a"))
    err = info.value
    assert err.status_code == 502 and err.code == "upstream_auth_failed"  # type: ignore[attr-defined]
    assert PRIMARY_KEY not in err.response.text and "your key is fine" in err.message
    with pytest.raises(openai.APIStatusError) as retired:  # its only key retired: the provider is skipped
        gw.openai().chat.completions.create(model="fo-auth", messages=ask("a"))
    assert retired.value.status_code == 503 and retired.value.code == "no_channel_available"  # type: ignore[attr-defined]
    with pytest.raises(anthropic.APIStatusError) as claude:  # the same in the Anthropic shape
        gw.anthropic().messages.create(model="fo-auth-claude", max_tokens=8, messages=ask("a"))
    assert claude.value.status_code == 502 and PRIMARY_KEY not in claude.value.response.text
    assert claude.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    log = gw.log.read_text()
    assert "provider rejected: key #0 was rejected" in log and PRIMARY_KEY not in log
    # The operator sees the retired key (GET /admin/v1/providers/{name}); resuming the provider brings it back
    shown = gw.provider("rejected", lambda p: p["key_states"] == ["retired"])
    assert shown["key_states"] == ["retired"] and shown["workers"][0]["keys"] == ["retired"]
    resumed = httpx.post(
        f"{gw.weir.url}/admin/v1/providers/rejected/resume",
        headers={"authorization": f"Bearer {HASHED_ADMIN_TOKEN}"},
        timeout=10,
    )
    assert resumed.status_code == 200 and resumed.json()["keys_reset_at"] > 0, resumed.text
    assert gw.provider("rejected", lambda p: p["key_states"] == ["ok"])["key_states"] == ["ok"]
    with pytest.raises(openai.APIStatusError) as again:  # the key is tried again, and rejected again
        gw.openai().chat.completions.create(model="fo-auth", messages=ask("a"))
    assert again.value.code == "upstream_auth_failed"  # type: ignore[attr-defined]


def test_an_upstream_error_keeps_its_status_and_type_but_not_the_credentials_it_echoes(gw: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gw.openai().chat.completions.create(model="fo-echo400", messages=ask("e"))
    err = info.value
    assert err.status_code == 400 and err.type == "invalid_request_error"  # type: ignore[attr-defined]
    assert "field 'x' is wrong" in err.message and PRIMARY_KEY not in err.response.text


def test_a_never_ending_stream_is_ended_at_max_stream_seconds_and_costs_nothing(gw: Gateway) -> None:
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{gw.weir.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gw.key}"},
        json={"model": "fo-endless", "messages": ask("x"), "stream": True},
        timeout=20,
    ) as response:
        body = b"".join(response.iter_bytes())
        request_id = response.headers["x-weir-request-id"]
    assert 0.9 < time.monotonic() - started < 5
    last = body.strip().split(b"\n\n")[-1]
    assert last.startswith(b'data: {"error"') and b"max_stream_seconds" in last
    record = gw.record(request_id)
    assert (record["status"], record["cost_microcents"]) == (504, 0)


def test_a_trickling_unary_answer_is_cut_at_request_timeout_seconds(gw: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        gw.openai().chat.completions.create(model="fo-trickle", messages=ask("t"))
    assert info.value.status_code == 504 and info.value.code == "upstream_timeout"  # type: ignore[attr-defined]


def test_a_2xx_that_is_not_json_is_502_upstream_invalid_response(gw: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        gw.openai().chat.completions.create(model="fo-notjson", messages=ask("j"))
    assert info.value.status_code == 502 and info.value.code == "upstream_invalid_response"  # type: ignore[attr-defined]


def test_a_non_streaming_call_whose_client_left_is_cancelled_and_recorded_499(gw: Gateway) -> None:
    marker = uuid.uuid4().hex
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gw.weir.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {gw.key}"},
            json={"model": "fo-slow", "messages": ask(marker)},
            timeout=1.0,
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{gw.db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT status FROM usage_records WHERE model = 'fo-slow'").fetchall()
        if rows:
            break
        time.sleep(0.1)
    assert rows == [(499,)]  # recorded within seconds, not after the upstream's 30 s


def test_pause_and_resume_take_effect_on_the_running_gateway(gw: Gateway) -> None:
    client = gw.openai()

    def served_by() -> str:
        raw = client.chat.completions.with_raw_response.create(model="fo-paused", messages=ask("p"))
        return str(gw.record(raw.headers["x-weir-request-id"])["provider"])

    assert served_by() == "pausable-a"
    gw.weir.cli("providers", "pause", "pausable-a", "--reason", "maintenance window")
    time.sleep(1.2)  # key_cache_ttl_seconds = 0.5: every worker applies it within one interval
    assert {served_by() for _ in range(3)} == {"pausable-b"}
    gw.weir.cli("providers", "pause", "pausable-b")
    time.sleep(1.2)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="fo-paused", messages=ask("p"))
    assert info.value.code == "provider_paused"  # type: ignore[attr-defined]
    listed = {p["name"]: p for p in json.loads(gw.weir.cli("providers", "list").stdout)}
    assert listed["pausable-a"]["paused"] and listed["pausable-a"]["reason"] == "maintenance window"
    gw.weir.cli("providers", "resume", "pausable-a")
    gw.weir.cli("providers", "resume", "pausable-b")
    time.sleep(1.2)
    assert served_by() == "pausable-a"
    unknown = gw.weir.cli("providers", "pause", "nope", check=False)
    assert unknown.returncode == 1 and "no provider named 'nope'" in unknown.stderr


def test_the_wallet_moved_by_exactly_what_was_recorded(gw: Gateway) -> None:
    time.sleep(0.3)
    with sqlite3.connect(f"file:{gw.db}?mode=ro", uri=True) as conn:
        charged = conn.execute("SELECT coalesce(sum(cost_microcents), 0) FROM usage_records").fetchone()[0]
    account = json.loads(gw.weir.cli("accounts", "show", "failover").stdout)
    assert account["balance_microcents"] == 100 * 100_000_000 - charged


@pytest.mark.parametrize("client", ["anthropic", "gemini"])
def test_a_stream_the_upstream_breaks_costs_nothing_in_every_dialect(gw: Gateway, client: str) -> None:
    if client == "anthropic":
        raw = gw.anthropic().messages.with_raw_response.create(
            model="fo-die", max_tokens=32, messages=ask("d"), stream=True
        )
        with pytest.raises(anthropic.APIStatusError), raw.parse() as events:
            for _ in events:
                pass
        request_id = raw.headers["x-weir-request-id"]
    else:
        with httpx.stream(
            "POST",
            f"{gw.weir.url}/v1beta/models/fo-die:streamGenerateContent?alt=sse",
            headers={"x-goog-api-key": gw.key},
            json={"contents": [{"role": "user", "parts": [{"text": "d"}]}]},
            timeout=20,
        ) as response:
            body = b"".join(response.iter_bytes())
            request_id = response.headers["x-weir-request-id"]
        assert body.rstrip().split(b"\r\n\r\n")[-1].startswith(b'data: {"error"')
    record = gw.record(request_id)
    assert (record["status"], record["cost_microcents"]) == (502, 0)
    assert record["output_tokens"] > 0  # what was received is recorded, just not charged


def test_counting_tokens_is_admitted_capped_and_bounded_per_key(gw: Gateway) -> None:
    url = f"{gw.weir.url}/v1/messages/count_tokens"
    body = {"model": "fo-refused", "messages": ask("count me")}
    broke = gw.weir.new_key("broke", "0")
    refused = httpx.post(url, headers={"x-api-key": broke}, json=body)
    assert refused.status_code == 402 and refused.json()["error"]["type"] == "billing_error"
    big = httpx.post(url, headers={"x-api-key": gw.key}, json={**body, "system": "x" * 5000})
    assert big.status_code == 413
    answers = [httpx.post(url, headers={"x-api-key": gw.key}, json=body) for _ in range(4)]  # 5 with the 413
    assert {a.status_code for a in answers} == {200} and answers[0].json()["input_tokens"] > 0
    over = httpx.post(url, headers={"x-api-key": gw.key}, json=body)
    assert over.status_code == 429 and over.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(over.headers["retry-after"]) <= 60
