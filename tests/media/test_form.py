"""The multipart rewriter, checked against the standard library's MIME parser, at every chunk split."""

from __future__ import annotations

import email.parser
import email.policy

import pytest

from weir.errors import InvalidRequest, UnsupportedMediaType
from weir.http.media.form import FILE_HEAD_BYTES, FormScanner, boundary_of, header_params, model_part

BOUNDARY = b"----weirtest7MA4YWxkTrZu0gW"
AUDIO = bytes(range(256)) * 3 + b"\r\n--" + BOUNDARY[:-1] + b"\r\n--almost"  # near-delimiters inside the file


def field(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    kind = b"Content-Type: audio/wav\r\n" if filename else b""
    return b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n" + kind + b"\r\n" + value


def form(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    return preamble + b"\r\n".join(parts) + b"\r\n--" + BOUNDARY + b"--\r\n" + epilogue


def parse(body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, value) by the stdlib's MIME parser (a different implementation from Weir's)."""
    head = b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert message.is_multipart()
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str) and name not in fields
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields[name] = (part.get_filename(), payload)
    return fields


def rewrite(body: bytes, splits: list[int], model: str = "upstream-model") -> tuple[bytes, FormScanner]:
    scanner = FormScanner(BOUNDARY)
    out = [model_part(BOUNDARY, model)]
    start = 0
    for at in [*splits, len(body)]:
        out.append(scanner.feed(body[start:at]))
        start = at
    scanner.finish()
    return b"".join(out), scanner


BODIES = {
    "model first (the openai SDK)": form(
        field("model", b"whisper-test"), field("language", b"fr"), field("file", AUDIO, "a.wav")
    ),
    "file first (curl -F file=@ -F model=)": form(
        field("file", AUDIO, "a.wav"), field("model", b"whisper-test"), field("response_format", b"text")
    ),
    "preamble and epilogue": form(
        field("model", b" whisper-test\r\n"), field("file", AUDIO, "a.wav"), preamble=b"ignore me\r\n", epilogue=b"x"
    ),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_model_is_replaced_and_everything_else_kept_at_every_split(name: str) -> None:
    body = BODIES[name]
    want = parse(body)
    assert want["model"][1].strip() == b"whisper-test"
    for i in range(0, len(body) + 1, 7):
        for splits in ([i], [i // 2, i]):
            out, scanner = rewrite(body, splits)
            assert scanner.model == "whisper-test"
            got = parse(out)
            assert got["model"] == (None, b"upstream-model")
            assert {k: v for k, v in got.items() if k != "model"} == {k: v for k, v in want.items() if k != "model"}
            assert len(out) == len(model_part(BOUNDARY, "upstream-model")) + len(body) + 2 - scanner.withheld
            assert scanner.file_bytes == len(AUDIO) and scanner.file_head == AUDIO[:FILE_HEAD_BYTES]


def test_one_byte_at_a_time() -> None:
    body = BODIES["file first (curl -F file=@ -F model=)"]
    out, scanner = rewrite(body, list(range(1, len(body))))
    assert scanner.model == "whisper-test" and parse(out)["file"] == ("a.wav", AUDIO)


def test_a_form_without_model_gets_weirs() -> None:
    out, scanner = rewrite(form(field("file", AUDIO, "a.wav")), [100])
    assert scanner.model is None and scanner.withheld == 0
    assert parse(out) == {"model": (None, b"upstream-model"), "file": ("a.wav", AUDIO)}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (form(field("model", b"a"), field("model", b"b")), "more than one"),
        (form(field("model", b"")), "empty"),
        (form(field("model", b"m" * 2000)), "too long"),
        (form(field("file", AUDIO, "a.wav"))[:-10], "closing boundary"),
        (b"--" + BOUNDARY + b"\r\n" + b"X-Long: " + b"h" * 20_000, "headers"),
    ],
)
def test_malformed_forms_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        rewrite(body, [len(body) // 3])


def test_boundary_of() -> None:
    assert boundary_of(b"multipart/form-data; boundary=abc") == b"abc"
    assert boundary_of(b'Multipart/Form-Data; charset=utf-8; boundary="a b;c"') == b"a b;c"
    with pytest.raises(UnsupportedMediaType, match="application/json"):
        boundary_of(b"application/json")
    with pytest.raises(UnsupportedMediaType):
        boundary_of(None)
    with pytest.raises(InvalidRequest, match="boundary"):
        boundary_of(b"multipart/form-data")


def test_header_params_keep_quoted_separators() -> None:
    assert header_params(b'; name="a;b"; filename="x\\"y.wav"; n=1') == {"name": "a;b", "filename": 'x"y.wav', "n": "1"}
