from __future__ import annotations

import json

import pytest

from tests.dialects.gemini.support import data_lines, genai, serving
from weir import errors
from weir.dialects.gemini.errors import from_upstream, headers, render, stream_error


@pytest.mark.parametrize(
    ("err", "status", "sdk_class"),
    [
        (errors.InvalidRequest("contents: field required", param="contents"), "INVALID_ARGUMENT", "ClientError"),
        (errors.Unauthorized("API key not valid"), "UNAUTHENTICATED", "ClientError"),
        (errors.InsufficientBalance("Balance too low"), "FAILED_PRECONDITION", "ClientError"),
        (errors.PermissionDenied("Model not allowed for this key"), "PERMISSION_DENIED", "ClientError"),
        (errors.ModelNotFound("models/gemini-9 is not found"), "NOT_FOUND", "ClientError"),
        (errors.PayloadTooLarge("Body over 32 MB"), "INVALID_ARGUMENT", "ClientError"),
        (errors.ServiceUnavailable("Draining"), "UNAVAILABLE", "ServerError"),
        (errors.UpstreamUnreachable("Connection refused"), "UNAVAILABLE", "ServerError"),
        (errors.UpstreamTimeout("No answer in 600 s"), "DEADLINE_EXCEEDED", "ServerError"),
        (errors.GatewayError("Boom"), "INTERNAL", "ServerError"),
    ],
)
def test_render_and_what_the_sdk_raises(err: errors.GatewayError, status: str, sdk_class: str) -> None:
    body = render(err)
    assert json.loads(body) == {"error": {"code": err.status, "message": err.message, "status": status}}
    client = serving(body, status=err.status, stream=False)
    with pytest.raises(getattr(genai().errors, sdk_class)) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (caught.value.code, caught.value.status, caught.value.message) == (err.status, status, err.message)


def test_headers() -> None:
    got = dict(headers(errors.Unauthorized("nope"), "req_42"))
    assert got == {
        b"content-type": b"application/json; charset=UTF-8",
        b"x-weir-request-id": b"req_42",
        b"x-request-id": b"req_42",
    }


def test_stream_error_is_one_data_line() -> None:
    body = stream_error(errors.UpstreamStreamError("The upstream went away"))
    assert body == b'data: {"error":{"code":502,"message":"The upstream went away","status":"UNAVAILABLE"}}\r\n\r\n'
    assert data_lines(body)[0]["error"]["status"] == "UNAVAILABLE"


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            429,
            b'{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",'
            b' "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",'
            b' "retryDelay": "31s"}]}}',
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        (
            400,
            b'[{"error": {"code": 400, "message": "API key not valid.", "status": "FAILED_PRECONDITION"}}]',
            "FAILED_PRECONDITION",
            "API key not valid.",
        ),
        (502, b"<html><body>Bad Gateway</body></html>", "UNAVAILABLE", "<html><body>Bad Gateway</body></html>"),
        (500, b"", "INTERNAL", "The upstream answered HTTP 500"),
    ],
)
def test_from_upstream(status: int, body: bytes, kind: str, message: str) -> None:
    err = from_upstream(status, body)
    assert (err.status, err.type, err.code, err.message) == (status, kind, kind, message)
    # ...and rendered back to a Gemini client, its status string is kept.
    assert json.loads(render(err)) == {"error": {"code": status, "message": message, "status": kind}}
