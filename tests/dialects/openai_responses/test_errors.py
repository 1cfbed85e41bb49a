"""Errors in the Responses dialect: OpenAI's envelope outside a stream, `response.failed` inside one."""

from __future__ import annotations

import json

import pytest

from tests.dialects.openai_responses.support import frames, sdk_events
from weir.dialects.openai_responses.errors import error_code, from_upstream, headers, render, status_of, stream_error
from weir.errors import GatewayError, InsufficientBalance, InvalidRequest, UpstreamStreamError, UpstreamTimeout


def test_render_and_headers() -> None:
    err = InvalidRequest("input[2].role: unknown role 'tool'.", param="input[2].role")
    assert json.loads(render(err)) == {
        "error": {
            "message": "input[2].role: unknown role 'tool'.",
            "type": "invalid_request_error",
            "code": "invalid_request",
            "param": "input[2].role",
        }
    }
    assert dict(headers(err, "req_1")) == {
        b"content-type": b"application/json",
        b"x-weir-request-id": b"req_1",
        b"x-request-id": b"req_1",
        b"x-should-retry": b"false",
    }


def test_stream_error_is_one_response_failed_event() -> None:
    body = stream_error(UpstreamTimeout("The upstream did not answer in 300s."))
    ((name, data),) = frames(body)
    assert name == "response.failed" and body.startswith(b"event: response.failed\ndata: {")
    assert data["type"] == "response.failed" and data["sequence_number"] == 0
    assert data["response"]["status"] == "failed" and data["response"]["output"] == []
    assert data["response"]["error"] == {"code": "upstream_timeout", "message": "The upstream did not answer in 300s."}
    placed = frames(stream_error(UpstreamStreamError("cut"), response_id="resp_7", sequence_number=41))
    assert (placed[0][1]["response"]["id"], placed[0][1]["sequence_number"]) == ("resp_7", 41)


def test_the_sdk_reads_the_failure_after_a_created_event() -> None:
    created = {
        "type": "response.created",
        "sequence_number": 0,
        "response": {"id": "resp_7", "status": "in_progress", "output": []},
    }
    body = b"event: response.created\ndata: " + json.dumps(created).encode() + b"\n\n"
    body += stream_error(UpstreamStreamError("cut"), response_id="resp_7", sequence_number=1)
    failed = [ev for ev in sdk_events(body) if ev.type == "response.failed"]
    assert failed[0].response.error.message == "cut"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "rate_limit_error", "rate_limit_exceeded"),  # Codex waits "try again in Ns" and retries
        (402, "insufficient_balance", "insufficient_quota"),  # Codex stops instead of retrying
        (400, "context_length_exceeded", "context_length_exceeded"),  # Codex compacts the conversation
        (502, "upstream_stream_error", "upstream_stream_error"),
        (500, None, "server_error"),
        (400, None, "invalid_request"),
    ],
)
def test_error_codes(status: int, code: str | None, expected: str) -> None:
    assert error_code(status, code) == expected


def test_gateway_refusals_keep_codex_semantics() -> None:
    data = frames(stream_error(InsufficientBalance("Top up your account.")))[0][1]
    assert data["response"]["error"]["code"] == "insufficient_quota"


@pytest.mark.parametrize(
    ("code", "status"),
    [("rate_limit_exceeded", 429), ("context_length_exceeded", 400), ("server_error", 500), (None, 502)],
)
def test_status_of_codes(code: str | None, status: int) -> None:
    assert status_of(code) == status


def test_from_upstream() -> None:
    body = (
        b'{"error": {"message": "Rate limit reached. Please try again in 20ms.", "type": "requests",'
        b' "param": null, "code": "rate_limit_exceeded"}}'
    )
    err = from_upstream(429, body)
    assert isinstance(err, GatewayError)
    assert (err.status, err.type, err.code, err.message) == (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached. Please try again in 20ms.",
    )
    plain = from_upstream(503, b"upstream connect error")
    assert (plain.status, plain.type, plain.message) == (503, "server_error", "upstream connect error")
