"""GatewayError <-> the OpenAI error envelope."""

from __future__ import annotations

import json

import openai
import pytest

from weir.dialects.openai_chat.errors import from_upstream, headers, render, stream_chunk, stream_error
from weir.errors import GatewayError, InvalidRequest, UpstreamStreamError

from .streams import sdk_chunks


def test_render_and_headers() -> None:
    err = InvalidRequest("messages[2].content: bad", param="messages[2].content")
    assert json.loads(render(err)) == {
        "error": {
            "message": "messages[2].content: bad",
            "type": "invalid_request_error",
            "code": "invalid_request",
            "param": "messages[2].content",
        }
    }
    assert headers(err, "req_1") == [
        (b"content-type", b"application/json"),
        (b"x-weir-request-id", b"req_1"),
        (b"x-request-id", b"req_1"),
        (b"x-should-retry", b"false"),
    ]
    assert (b"x-should-retry", b"false") not in headers(UpstreamStreamError("x"), "r")


def test_stream_error_is_one_data_event_the_sdk_raises_on() -> None:
    chunk = stream_error(UpstreamStreamError("The upstream stream failed."))
    assert chunk == b"data: " + render(UpstreamStreamError("The upstream stream failed.")) + b"\n\n"
    assert stream_chunk is stream_error
    with pytest.raises(openai.APIError, match="The upstream stream failed."):
        sdk_chunks(chunk)


def test_from_upstream_openai_error() -> None:
    body = (
        b'{"error": {"message": "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM)",'
        b' "type": "tokens", "param": null, "code": "rate_limit_exceeded"}}'
    )
    err = from_upstream(429, body)
    assert isinstance(err, GatewayError)
    assert (err.status, err.type, err.code, err.param) == (429, "tokens", "rate_limit_exceeded", None)
    assert err.message.startswith("Rate limit reached")
    assert json.loads(render(err))["error"]["code"] == "rate_limit_exceeded"
    assert (b"x-should-retry", b"false") not in headers(err, "r")  # a 429 may succeed later


def test_from_upstream_invalid_request_keeps_param() -> None:
    body = (
        b'{"error":{"message":"Invalid \'messages[1].content\': string too long.","type":"invalid_request_error",'
        b'"param":"messages[1].content","code":"string_above_max_length"}}'
    )
    err = from_upstream(400, body)
    assert (err.status, err.param, err.code) == (400, "messages[1].content", "string_above_max_length")


@pytest.mark.parametrize(
    ("status", "body", "message", "type_", "code"),
    [
        (
            502,
            b'{"error":{"message":"Provider returned error","code":502}}',
            "Provider returned error",
            "server_error",
            "502",
        ),
        (401, b'{"error":"Invalid API key"}', "Invalid API key", "authentication_error", None),
        (404, b'{"detail":"Not Found"}', '{"detail":"Not Found"}', "invalid_request_error", None),
        (
            503,
            b"<html><body>Service Unavailable</body></html>\n",
            "<html><body>Service Unavailable</body></html>",
            "server_error",
            None,
        ),
        (500, b"", "The upstream answered HTTP 500.", "server_error", None),
        (422, b'{"message":"Input validation error"}', "Input validation error", "invalid_request_error", None),
    ],
)
def test_from_upstream_fallbacks(status: int, body: bytes, message: str, type_: str, code: str | None) -> None:
    err = from_upstream(status, body)
    assert (err.status, err.message, err.type, err.code) == (status, message, type_, code)


def test_from_upstream_caps_a_long_text_body() -> None:
    assert len(from_upstream(500, b"x" * 10_000).message) == 2000
