from __future__ import annotations

import json

import pytest

from tests.dialects.anthropic_messages.support import frames, sdk_client
from weir import errors
from weir.dialects.anthropic_messages.errors import from_upstream, headers, render, stream_error


@pytest.mark.parametrize(
    ("err", "kind", "sdk_class"),
    [
        (
            errors.InvalidRequest("messages: field required", param="messages"),
            "invalid_request_error",
            "BadRequestError",
        ),
        (errors.Unauthorized("Invalid API key"), "authentication_error", "AuthenticationError"),
        (errors.InsufficientBalance("Balance too low"), "billing_error", "PaymentRequiredError"),
        (errors.PermissionDenied("Model not allowed for this key"), "permission_error", "PermissionDeniedError"),
        (errors.ModelNotFound("No model named claude-9"), "not_found_error", "NotFoundError"),
        (errors.PayloadTooLarge("Body over 32 MB"), "request_too_large", "ContentTooLargeError"),
        (errors.ServiceUnavailable("Draining"), "api_error", "ServiceUnavailableError"),
        (errors.UpstreamUnreachable("Connection refused"), "api_error", "InternalServerError"),
        (errors.UpstreamTimeout("No answer in 600 s"), "timeout_error", "GatewayTimeoutError"),
        (errors.GatewayError("Boom"), "api_error", "InternalServerError"),
    ],
)
def test_render_and_what_the_sdk_raises(err: errors.GatewayError, kind: str, sdk_class: str) -> None:
    anthropic = pytest.importorskip("anthropic")
    body = render(err, "req_0123")
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": kind, "message": err.message},
        "request_id": "req_0123",
    }
    client = sdk_client(body, status=err.status, content_type="application/json")
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude-x", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert type(caught.value).__name__ == sdk_class
    assert caught.value.status_code == err.status
    assert caught.value.body == json.loads(body)


def test_render_without_request_id() -> None:
    assert json.loads(render(errors.InvalidRequest("bad"))) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad"},
    }


def test_headers() -> None:
    four = dict(headers(errors.InsufficientBalance("no"), "req_1"))
    assert four == {
        b"content-type": b"application/json",
        b"request-id": b"req_1",
        b"x-weir-request-id": b"req_1",
        b"x-should-retry": b"false",
    }
    five = dict(headers(errors.UpstreamTimeout("slow"), "req_2"))
    assert b"x-should-retry" not in five and five[b"request-id"] == b"req_2"


def test_stream_error() -> None:
    chunk = stream_error(errors.UpstreamStreamError("The upstream closed the connection"))
    assert frames(chunk) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "The upstream closed the connection"}})
    ]


def test_from_upstream_reads_anthropic_errors() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CS"}'
    err = from_upstream(529, body)
    assert (err.status, err.type, err.message, err.code) == (529, "overloaded_error", "Overloaded", "overloaded_error")
    assert json.loads(render(err))["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    limited = from_upstream(429, b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}')
    assert (limited.status, limited.type, limited.message) == (429, "rate_limit_error", "Slow down")


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (502, b"<html><body>Bad gateway</body></html>\n", "api_error", "<html><body>Bad gateway</body></html>"),
        (404, b"", "not_found_error", "The upstream answered HTTP 404"),
        (418, b"teapot", "invalid_request_error", "teapot"),
    ],
)
def test_from_upstream_falls_back_to_the_text(status: int, body: bytes, kind: str, message: str) -> None:
    err = from_upstream(status, body)
    assert (err.status, err.type, err.message) == (status, kind, message)
