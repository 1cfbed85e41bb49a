"""Refusals as errors, rendered by each dialect and read by the official SDKs (decision.py, weir/errors.py)."""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction
from typing import Any

import httpx
import httpx2
import pytest

from tests.limits.test_headers import DAY_END, HOUR_END, NOW, a_decision
from weir import errors
from weir.dialects.registry import DIALECTS
from weir.limits import FAMILIES, Decision, Limits, refusal
from weir.limits.base import CONCURRENT, IPS, RPD, RPM, TPM, Window
from weir.limits.decision import decide

# What the clients that read a delay out of the message look for (see decision.refusal).
CODEX = re.compile(r"(?i)try again in\s*(\d+(?:\.\d+)?)\s*(s|ms|seconds?)")
GEMINI_CLI = re.compile(r"Please retry in ([0-9.]+(?:ms|s))")

CHAT_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
MESSAGE_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def minute_refusal(wait_ms: int = 3000) -> Decision:
    """requests_per_minute = 2 spent; the older call leaves the window in `wait_ms`."""
    return a_decision(Limits(requests_per_minute=2), fail=RPM, rm_n=2, rm_old=NOW - 60_000 + wait_ms, rm_new=NOW)


def day_refusal() -> Decision:
    return a_decision(Limits(requests_per_day=100), fail=RPD, day_n=100)


def wire(err: errors.GatewayError, dialect: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """What the gateway sends for `err` to a client of `dialect` (http/ingress.py: render + headers)."""
    d = DIALECTS[dialect]
    return err.status, d.render(err, "req_1"), d.headers(err, "req_1")


def test_which_error_for_which_limit() -> None:
    minute = refusal(minute_refusal(), "openai")
    assert isinstance(minute, errors.RateLimitExceeded)
    assert (minute.status, minute.type, minute.code, minute.limit) == (
        429,
        "requests",
        "rate_limit_exceeded",
        "requests_per_minute",
    )
    assert minute.retry_after == 3 and minute.should_retry
    tokens = refusal(
        a_decision(Limits(tokens_per_minute=10), fail=TPM, tm_sum=10, tm_new=NOW, tm_free=NOW + 5000), "openai"
    )
    assert isinstance(tokens, errors.RateLimitExceeded) and tokens.type == "tokens" and tokens.retry_after == 5
    day = refusal(day_refusal(), "openai")
    assert isinstance(day, errors.RateLimitExceeded) and not day.should_retry  # hours away: no SDK retry
    slots = refusal(a_decision(Limits(max_concurrent=3), fail=CONCURRENT), "openai")
    assert isinstance(slots, errors.TooManyConcurrent)
    assert (slots.status, slots.code, slots.retry_after, slots.should_retry) == (429, "too_many_concurrent", 1, True)
    ips = refusal(a_decision(Limits(max_ips=2), fail=IPS), "openai")
    assert isinstance(ips, errors.IpLimitReached) and (ips.status, ips.code) == (403, "ip_limit_reached")
    assert "2 IP addresses" in ips.message and "2027-03-11T00:00:00Z" in ips.message


def test_the_message_names_the_window_and_when_it_resets() -> None:
    message = refusal(day_refusal(), "anthropic").message
    assert message.startswith("Rate limit reached for this key on requests per day (requests_per_day): limit 100.")
    assert "2027-03-11T00:00:00Z" in message


def test_the_delay_clients_read_from_the_message() -> None:
    codex = CODEX.search(refusal(minute_refusal(12_000), "openai").message)
    assert codex is not None and (codex.group(1), codex.group(2)) == ("12", "s")
    gemini = GEMINI_CLI.search(refusal(minute_refusal(12_000), "gemini").message)
    assert gemini is not None and gemini.group(1) == "12s"


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_sends_the_limit_headers_once(dialect: str) -> None:
    err = refusal(minute_refusal(), FAMILIES[dialect])
    status, body, headers = wire(err, dialect)
    names = [name for name, _ in headers]
    assert status == 429
    assert names.count(b"retry-after") == 1 and names.count(b"retry-after-ms") == 1
    assert dict(headers)[b"retry-after"] == b"3" and dict(headers)[b"x-ratelimit-remaining"] == b"0"
    family_header = {"openai": b"x-ratelimit-limit-requests", "anthropic": b"anthropic-ratelimit-requests-limit"}
    if FAMILIES[dialect] in family_header:
        assert family_header[FAMILIES[dialect]] in names
    shapes = {
        "openai_chat": lambda b: b["error"]["code"] == "rate_limit_exceeded" and b["error"]["type"] == "requests",
        "openai_responses": lambda b: b["error"]["code"] == "rate_limit_exceeded",
        "anthropic_messages": lambda b: b["error"]["type"] == "rate_limit_error",
        "gemini": lambda b: b["error"]["status"] == "RESOURCE_EXHAUSTED" and b["error"]["code"] == 429,
    }
    assert shapes[dialect](json.loads(body))


def test_responses_streams_fail_with_rate_limit_exceeded() -> None:
    event = DIALECTS["openai_responses"].stream_error(refusal(minute_refusal(), "openai"))
    assert b'"code":"rate_limit_exceeded"' in event


def test_limits_unavailable_is_a_503_with_retry_after() -> None:
    status, body, headers = wire(errors.LimitsUnavailable(), "openai_chat")
    assert status == 503 and json.loads(body)["error"]["code"] == "service_unavailable"
    assert (b"retry-after", b"1") in headers


class Answers:
    """An httpx(2) transport handler answering the wire bytes given, in turn, and counting the requests."""

    def __init__(self, *answers: tuple[int, bytes, list[tuple[bytes, bytes]]]) -> None:
        self.answers = list(answers)
        self.requests = 0

    def __call__(self, request: Any) -> Any:
        status, body, headers = self.answers[min(self.requests, len(self.answers) - 1)]
        self.requests += 1
        module = httpx2 if isinstance(request, httpx2.Request) else httpx
        return module.Response(status, content=body, headers=[(k.decode(), v.decode()) for k, v in headers])


def openai_client(answers: Answers) -> Any:
    openai = pytest.importorskip("openai")
    http = httpx2.Client(transport=httpx2.MockTransport(answers))
    return openai.OpenAI(api_key="k", base_url="http://weir.test/v1", http_client=http)


def anthropic_client(answers: Answers) -> Any:
    anthropic = pytest.importorskip("anthropic")
    http = httpx2.Client(transport=httpx2.MockTransport(answers))
    return anthropic.Anthropic(api_key="k", base_url="http://weir.test", http_client=http)


def sleeps(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[float]:
    """The waits the SDK's retry takes (recorded, not slept)."""
    waited: list[float] = []
    monkeypatch.setattr(module._base_client.time, "sleep", waited.append)
    return waited


def test_openai_sdk_waits_retry_after_ms_then_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    waited = sleeps(monkeypatch, openai)
    ok = (200, json.dumps(CHAT_OK).encode(), [(b"content-type", b"application/json")])
    answers = Answers(wire(refusal(minute_refusal(3000), "openai"), "openai_chat"), ok)
    client = openai_client(answers)
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "ok"
    assert (answers.requests, waited) == (2, [3.0])


def test_openai_sdk_gives_up_at_once_on_a_daily_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    waited = sleeps(monkeypatch, openai)
    answers = Answers(wire(refusal(day_refusal(), "openai"), "openai_chat"))
    client = openai_client(answers)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert (answers.requests, waited) == (1, [])
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["x-ratelimit-daily-remaining"] == "0"


def test_anthropic_sdk_waits_retry_after_ms_then_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    anthropic = pytest.importorskip("anthropic")
    waited = sleeps(monkeypatch, anthropic)
    ok = (200, json.dumps(MESSAGE_OK).encode(), [(b"content-type", b"application/json")])
    answers = Answers(wire(refusal(minute_refusal(7000), "anthropic"), "anthropic_messages"), ok)
    client = anthropic_client(answers)
    reply = client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "ok"
    assert (answers.requests, waited) == (2, [7.0])


def test_anthropic_sdk_does_not_sleep_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """anthropic-sdk-python honours any positive Retry-After: x-should-retry false keeps it from waiting hours."""
    anthropic = pytest.importorskip("anthropic")
    waited = sleeps(monkeypatch, anthropic)
    answers = Answers(wire(refusal(day_refusal(), "anthropic"), "anthropic_messages"))
    client = anthropic_client(answers)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert (answers.requests, waited) == (1, [])
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_sdks_see_ip_limit_reached_as_permission_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    decision = a_decision(Limits(max_ips=1), fail=IPS)
    answers = Answers(wire(refusal(decision, "openai"), "openai_chat"))
    client = openai_client(answers)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "ip_limit_reached" and answers.requests == 1
    answers = Answers(wire(refusal(decision, "anthropic"), "anthropic_messages"))
    claude = anthropic_client(answers)
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert answers.requests == 1


def test_google_genai_sees_resource_exhausted() -> None:
    genai = pytest.importorskip("google.genai")
    answers = Answers(wire(refusal(minute_refusal(12_000), "gemini"), "gemini"))
    options = genai.types.HttpOptions(
        base_url="http://weir.test", client_args={"transport": httpx.MockTransport(answers)}
    )
    client = genai.Client(api_key="k", http_options=options)
    with pytest.raises(genai.errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert GEMINI_CLI.search(caught.value.message or "") is not None


def test_the_reported_windows_follow_their_definitions_for_any_figures() -> None:
    """decide() is written out window by window for speed; this holds it to the definitions, over random figures:
    the request window reported is the one with the fewest calls left (on a tie the later reset, then the first of
    minute, hour, day), the token window likewise, and the warning is the most used window once one is 80% used."""
    rng = random.Random(20261204)
    names = ("requests_per_minute", "requests_per_hour", "requests_per_day", "tokens_per_minute", "tokens_per_day")
    for _ in range(3000):
        chosen = {name: rng.choice([None, rng.randint(1, 12)]) for name in names}
        limits = Limits(**chosen)
        figures = {k: rng.randint(0, 14) for k in ("rm_n", "hour_n", "day_n", "tm_sum", "td_sum")}
        now = rng.choice([NOW, HOUR_END - 20_000])  # near the hour's end, a minute window can outlast the hour's
        figures |= {"rm_old": now - 50_000, "rm_new": now - rng.choice([0, 30_000, 59_000]), "tm_free": 0}
        figures["tm_new"] = now - rng.choice([0, 59_000, 5_000])
        decision = decide("k1", limits, now, 0, None, **figures)
        windows = [w for w in (decision.requests, decision.daily, decision.tokens) if w is not None]
        every = {w.name: w for w in windows}
        # each limited window, rebuilt from the figures as the README defines it
        used = {"requests_per_minute": "rm_n", "requests_per_hour": "hour_n", "requests_per_day": "day_n"}
        used |= {"tokens_per_minute": "tm_sum", "tokens_per_day": "td_sum"}
        ends = {
            "requests_per_minute": figures["rm_new"] + 60_000 if figures["rm_n"] else now,
            "requests_per_hour": HOUR_END,
            "requests_per_day": DAY_END,
            "tokens_per_minute": figures["tm_new"] + 60_000 if figures["tm_sum"] else now,
            "tokens_per_day": DAY_END,
        }
        expected = [
            Window(name, limit, figures[used[name]], ends[name]) for name, limit in chosen.items() if limit is not None
        ]
        for w in expected:
            if w.name in every:
                assert every[w.name] == w
        requests = [w for w in expected if w.name.startswith("requests")]
        tokens = [w for w in expected if w.name.startswith("tokens")]
        rank = lambda w: (w.remaining, -w.reset_ms)  # noqa: E731
        assert decision.requests == (min(requests, key=rank) if requests else None)
        assert decision.daily == next((w for w in expected if w.name == "requests_per_day"), None)
        assert decision.tokens == (min(tokens, key=rank) if tokens else None)
        hot = [w for w in expected if w.used * 5 >= w.limit * 4]
        assert decision.warning == (max(hot, key=lambda w: Fraction(w.used, w.limit)) if hot else None)
