"""Embeddings, images, speech and transcriptions through a running `weir serve`, with the openai SDK as the
client and the mock upstream's media endpoints (tests/support/mock_media.py) behind it, on SQLite and PostgreSQL.

Costs are computed here independently of Weir, in Decimal USD from the configured prices, rounded up once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import math
import time
import tomllib
import wave
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal

import httpx
import openai
import pytest

from tests.e2e.conftest import MEDIA_PRICE, PROVIDER_KEY, Weir
from tests.e2e.test_openai_chat import balance, wait_balance
from tests.support import mock_media
from weir.store import open_store
from weir.store.records import UsageRecord

MICROCENTS = Decimal(100_000_000)
SPOKEN = "Weir meters every call: ünïcödé counts as characters, not bytes."


def price(name: str) -> Decimal:
    return Decimal(str(MEDIA_PRICE[name])) * MICROCENTS  # microcents per unit (per 1M for tokens, characters)


def ceil(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def cost(*, input: int = 0, output: int = 0, images: int = 0, characters: int = 0, ms: int = 0) -> int:
    million = Decimal(1_000_000)
    exact = (input * price("input") + output * price("output") + characters * price("character")) / million
    return ceil(exact + images * price("image") + Decimal(ms) / 1000 * price("second"))


def wav_bytes(seconds: float, rate: int = 8_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * round(rate * seconds))
    return buffer.getvalue()


AUDIO = wav_bytes(2.3456)  # 18,765 frames at 8 kHz: 2.345625 s
AUDIO_MS = math.ceil(18_765 * 1000 / 8_000)


def usage_record(weir: Weir, request_id: str) -> UsageRecord:
    """The usage record as the store holds it (waiting for the group commit, bounded)."""
    url = tomllib.loads(weir.config.read_text())["storage"]["url"]

    async def fetch() -> UsageRecord:
        store = await open_store(url)
        try:
            deadline = time.monotonic() + 10
            while (found := await store.get_usage(request_id)) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert found is not None, f"no usage record for {request_id}"
            return found
        finally:
            await store.close()

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def key(weir: Weir) -> str:
    return weir.new_key("media-user", "5")


@pytest.fixture(scope="module")
def client(weir: Weir, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def last_seen(weir: Weir) -> dict[str, object]:
    return weir.upstream_requests()[-1]


# --- embeddings ---------------------------------------------------------------------------------------------------


def test_embeddings_through_the_sdks_default_base64_path(weir: Weir, client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="openai/embed-test", input=["one", "two"])
    result = raw.parse()
    assert [d.embedding for d in result.data] == [mock_media.vector(0), mock_media.vector(1)]
    seen = last_seen(weir)
    # The SDK asked for base64 and decoded it itself; Weir relayed the body unchanged but for the model.
    assert seen["body"] == {"model": "mock-embed", "input": ["one", "two"], "encoding_format": "base64"}
    assert seen["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"  # type: ignore[index]
    tokens = 2 * mock_media.EMBED_TOKENS_PER_INPUT
    assert raw.headers["x-weir-input-tokens"] == str(tokens)
    assert raw.headers["x-weir-cost-microcents"] == str(cost(input=tokens))
    record = usage_record(weir, raw.headers["x-weir-request-id"])
    assert (record.model, record.upstream_model, record.input_tokens) == ("embed-test", "mock-embed", tokens)
    assert record.cost_microcents == cost(input=tokens)


def test_embeddings_as_floats(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="embed-test", input="one", encoding_format="float", dimensions=4)
    assert result.data[0].embedding == mock_media.vector(0)
    assert result.usage.prompt_tokens == mock_media.EMBED_TOKENS_PER_INPUT


def test_the_wallet_pays_exactly_for_each_media_call(weir: Weir) -> None:
    key = weir.new_key("media-wallet", "1")
    sdk = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0)
    before = balance(weir, "media-wallet")
    sdk.embeddings.create(model="embed-test", input="x")
    sdk.images.generate(model="image-test", prompt="a weir", n=2)
    with sdk.audio.speech.with_streaming_response.create(model="tts-test", voice="alloy", input=SPOKEN) as r:
        r.read()
    sdk.audio.transcriptions.create(model="stt-test", file=("a.wav", AUDIO, "audio/wav"))
    spent = (
        cost(input=mock_media.EMBED_TOKENS_PER_INPUT)
        + cost(images=2)
        + cost(characters=len(SPOKEN))
        + cost(ms=math.ceil(AUDIO_MS / 1000) * 1000)
    )
    assert wait_balance(weir, "media-wallet", before - spent) == before - spent


# --- images -------------------------------------------------------------------------------------------------------


def test_images_are_priced_per_image(weir: Weir, client: openai.OpenAI) -> None:
    raw = client.images.with_raw_response.generate(model="image-test", prompt="a weir at dawn", n=3)
    images = raw.parse().data or []
    assert [base64.b64decode(i.b64_json or "") for i in images] == [
        mock_media.IMAGE_BYTES + bytes([i]) for i in range(3)
    ]
    assert raw.headers["x-weir-images"] == "3"
    assert raw.headers["x-weir-cost-microcents"] == str(cost(images=3)) == "12000000"
    assert last_seen(weir)["body"] == {"model": "mock-image", "prompt": "a weir at dawn", "n": 3}
    record = usage_record(weir, raw.headers["x-weir-request-id"])
    assert (record.images, record.input_tokens, record.cost_microcents) == (3, 0, cost(images=3))


def test_image_token_usage_is_priced_as_well(client: openai.OpenAI) -> None:
    raw = client.images.with_raw_response.generate(model="image-tokens-test", prompt="a weir")
    usage = mock_media.IMAGE_USAGE
    want = cost(images=1, input=usage["input_tokens"], output=usage["output_tokens"])
    assert raw.headers["x-weir-cost-microcents"] == str(want)
    assert raw.headers["x-weir-output-tokens"] == str(usage["output_tokens"])


# --- speech -------------------------------------------------------------------------------------------------------


def test_speech_streams_the_audio_with_its_content_type(weir: Weir, client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-test", voice="alloy", input=SPOKEN, response_format="wav"
    ) as response:
        audio = b"".join(response.iter_bytes())
        headers = response.headers
    assert audio == b"".join(mock_media.SPEECH_CHUNKS)
    assert headers["content-type"] == "audio/wav"
    assert headers["x-weir-characters"] == str(len(SPOKEN))
    assert headers["x-weir-cost-microcents"] == str(cost(characters=len(SPOKEN)))
    seen = last_seen(weir)
    assert seen["body"] == {"model": "mock-tts", "voice": "alloy", "input": SPOKEN, "response_format": "wav"}
    record = usage_record(weir, headers["x-weir-request-id"])
    assert (record.characters, record.stream, record.status) == (len(SPOKEN), True, 200)
    assert record.cost_microcents == cost(characters=len(SPOKEN))


def test_speech_is_not_buffered(weir: Weir, key: str) -> None:
    """The slow mock pauses 0.3 s after each of its 5 chunks: the first must arrive long before the last."""
    body = {"model": "tts-slow-test", "voice": "alloy", "input": "hello"}
    started = time.monotonic()
    arrivals = []
    with httpx.stream("POST", f"{weir.url}/v1/audio/speech", json=body, headers=auth(key), timeout=10) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            arrivals.append((time.monotonic() - started, len(chunk)))
    assert sum(n for _, n in arrivals) == sum(map(len, mock_media.SPEECH_CHUNKS))
    assert arrivals[0][0] < arrivals[-1][0] - 0.8, arrivals


def test_a_speech_stream_cut_upstream_is_cut_for_the_client_and_not_charged(weir: Weir) -> None:
    key = weir.new_key("media-cut", "1")
    before = balance(weir, "media-cut")
    body = {"model": "tts-cut-test", "voice": "alloy", "input": "hello"}
    received = b""
    with pytest.raises(httpx.HTTPError):  # the response ends without its terminating chunk
        with httpx.stream("POST", f"{weir.url}/v1/audio/speech", json=body, headers=auth(key), timeout=10) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                received += chunk
    assert received == b"".join(mock_media.SPEECH_CHUNKS[:2])
    # A following call is charged; had the cut one been charged too the balance would never get here.
    httpx.post(f"{weir.url}/v1/audio/speech", json={**body, "model": "tts-test"}, headers=auth(key)).raise_for_status()
    assert wait_balance(weir, "media-cut", before - cost(characters=5)) == before - cost(characters=5)


# --- transcriptions -----------------------------------------------------------------------------------------------


def test_transcription_through_the_sdk(weir: Weir, client: openai.OpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        model="whisper-test", file=("speech.wav", AUDIO, "audio/wav"), language="en"
    )
    assert raw.parse().text == f"{len(AUDIO)} bytes of audio from speech.wav"
    seen = last_seen(weir)
    body = seen["body"]
    assert isinstance(body, dict)
    assert body["fields"] == {"model": "mock-whisper", "language": "en"}
    assert body["field_order"][0] == "model"
    assert (body["filename"], body["file_sha256"]) == ("speech.wav", hashlib.sha256(AUDIO).hexdigest())
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["content-length"] == str(body["body_bytes"])  # streamed, with its exact length
    assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    billed_ms = math.ceil(AUDIO_MS / 1000) * 1000  # the mock reports whole seconds, as OpenAI does
    assert raw.headers["x-weir-audio-ms"] == str(billed_ms)
    assert raw.headers["x-weir-cost-microcents"] == str(cost(ms=billed_ms))
    record = usage_record(weir, raw.headers["x-weir-request-id"])
    assert (record.audio_ms, record.cost_microcents, record.model) == (billed_ms, cost(ms=billed_ms), "stt-test")


@pytest.mark.parametrize(("response_format", "billed_ms"), [("verbose_json", AUDIO_MS), ("text", AUDIO_MS)])
def test_transcription_duration_from_verbose_json_or_the_wav_itself(
    client: openai.OpenAI, response_format: str, billed_ms: int
) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        model="stt-test",
        file=("speech.wav", AUDIO, "audio/wav"),
        response_format=response_format,  # type: ignore[arg-type]
    )
    assert raw.headers["x-weir-audio-ms"] == str(billed_ms)
    assert raw.headers["x-weir-cost-microcents"] == str(cost(ms=billed_ms))


def test_transcription_token_usage(client: openai.OpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        model="stt-tokens-test", file=("speech.wav", AUDIO, "audio/wav")
    )
    tokens = mock_media.TRANSCRIBE_TOKENS
    assert raw.headers["x-weir-cost-microcents"] == str(
        cost(input=tokens["input_tokens"], output=tokens["output_tokens"])
    )


def test_x_weir_model_header_picks_the_model(weir: Weir, client: openai.OpenAI) -> None:
    text = client.audio.transcriptions.create(
        model="whisper-1", file=("a.wav", AUDIO, "audio/wav"), extra_headers={"X-Weir-Model": "stt-test"}
    ).text
    assert text.endswith("from a.wav")
    assert last_seen(weir)["body"]["fields"]["model"] == "mock-whisper"  # type: ignore[index]


def multipart(*parts: tuple[str, bytes, str | None], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


FORM = "multipart/form-data; boundary=b0undary"


def test_curl_order_file_first_then_model(weir: Weir, key: str) -> None:
    body = multipart(("file", AUDIO, "a.wav"), ("model", b"stt-test", None), ("response_format", b"text", None))
    r = httpx.post(f"{weir.url}/v1/audio/translations", content=body, headers={**auth(key), "content-type": FORM})
    assert r.status_code == 200, r.text
    assert r.text == f"{len(AUDIO)} bytes of audio from a.wav\n"
    seen = last_seen(weir)
    assert seen["path"] == "/v1/audio/translations"
    assert seen["body"]["field_order"] == ["model", "file", "response_format"]  # type: ignore[index]
    assert seen["body"]["file_sha256"] == hashlib.sha256(AUDIO).hexdigest()  # type: ignore[index]


def test_a_chunked_upload_streams_chunked(weir: Weir, key: str) -> None:
    body = multipart(("model", b"stt-test", None), ("file", AUDIO, "a.wav"))

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = httpx.post(f"{weir.url}/v1/audio/transcriptions", content=pieces(), headers={**auth(key), "content-type": FORM})
    assert r.status_code == 200, r.text
    seen = last_seen(weir)
    assert seen["body"]["file_sha256"] == hashlib.sha256(AUDIO).hexdigest()  # type: ignore[index]
    assert "content-length" not in seen["headers"]  # type: ignore[operator]


@pytest.mark.parametrize("chunked", [False, True])
def test_an_upload_over_the_cap_is_413(weir: Weir, key: str, chunked: bool) -> None:
    body = multipart(("model", b"stt-test", None), ("file", b"\x00" * 1_100_000, "big.wav"))
    content: bytes | Iterator[bytes] = iter([body[:500_000], body[500_000:]]) if chunked else body
    r = httpx.post(f"{weir.url}/v1/audio/transcriptions", content=content, headers={**auth(key), "content-type": FORM})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "param"),
    [
        (multipart(("file", AUDIO, "a.wav")), FORM, 400, "model"),
        (multipart(("model", b"stt-test", None), ("model", b"stt-test", None)), FORM, 400, "model"),
        (b'{"model": "stt-test"}', "application/json", 415, None),
        (multipart(("model", b"stt-test", None))[:-12], FORM, 400, None),
    ],
)
def test_bad_uploads(weir: Weir, key: str, body: bytes, content_type: str, status: int, param: str | None) -> None:
    r = httpx.post(
        f"{weir.url}/v1/audio/transcriptions", content=body, headers={**auth(key), "content-type": content_type}
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["message"]


# --- what every media endpoint shares -----------------------------------------------------------------------------

ENDPOINTS = {
    "/v1/embeddings": {"input": "x"},
    "/v1/images/generations": {"prompt": "x"},
    "/v1/audio/speech": {"input": "x", "voice": "alloy"},
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_model_on_another_dialect_is_a_clear_400(weir: Weir, key: str, path: str) -> None:
    r = httpx.post(f"{weir.url}{path}", json={"model": "claude-test", **ENDPOINTS[path]}, headers=auth(key))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "model" and "'claude-test'" in error["message"] and path in error["message"]


def test_a_model_on_another_dialect_is_refused_for_uploads_too(weir: Weir, key: str) -> None:
    body = multipart(("model", b"claude-test", None), ("file", AUDIO, "a.wav"))
    r = httpx.post(f"{weir.url}/v1/audio/transcriptions", content=body, headers={**auth(key), "content-type": FORM})
    assert r.status_code == 400 and "/v1/audio/transcriptions" in r.json()["error"]["message"]


@pytest.mark.parametrize("path", [*ENDPOINTS, "/v1/audio/transcriptions"])
def test_keys_and_wallets_are_checked_before_any_upstream_call(weir: Weir, path: str) -> None:
    broke = weir.new_key(f"media-broke-{path.rsplit('/', 1)[1]}", "0")
    httpx.delete(f"{weir.upstream}/_mock/requests")
    if path.endswith("transcriptions"):
        kwargs: dict[str, object] = {
            "content": multipart(("model", b"stt-test", None)),
            "headers": {"content-type": FORM},
        }
    else:
        kwargs = {"json": {"model": "embed-test", **ENDPOINTS[path]}, "headers": {}}
    headers = kwargs.pop("headers")
    assert isinstance(headers, dict)
    assert httpx.post(f"{weir.url}{path}", headers=headers, **kwargs).status_code == 401  # type: ignore[arg-type]
    r = httpx.post(f"{weir.url}{path}", headers={**headers, **auth(broke)}, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == 402 and r.json()["error"]["code"] == "insufficient_balance"
    assert weir.upstream_requests() == []


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/embeddings", {"model": "embed-test"}, "input"),
        ("/v1/embeddings", {"model": "embed-test", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ("/v1/embeddings", {"input": "x"}, "model"),
        ("/v1/images/generations", {"model": "image-test"}, "prompt"),
        ("/v1/images/generations", {"model": "image-test", "prompt": "x", "n": 0}, "n"),
        ("/v1/audio/speech", {"model": "tts-test", "voice": "alloy"}, "input"),
        ("/v1/audio/speech", {"model": "tts-test", "input": "x"}, "voice"),
    ],
)
def test_bad_json_bodies_name_the_field(weir: Weir, key: str, path: str, body: dict[str, object], param: str) -> None:
    r = httpx.post(f"{weir.url}{path}", json=body, headers=auth(key))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="x")
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="no-such-whisper", file=("a.wav", AUDIO, "audio/wav"))


def test_upstream_errors_pass_through_uncharged(weir: Weir, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.with_raw_response.create(model="media-bad-test", input="x")
    assert info.value.param == "input"
    request_id = info.value.response.headers["x-weir-request-id"]
    record = usage_record(weir, request_id)
    assert (record.status, record.cost_microcents) == (400, 0)
    with pytest.raises(openai.BadRequestError):
        with client.audio.speech.with_streaming_response.create(model="media-bad-test", voice="x", input="y") as r:
            r.read()


def test_media_calls_are_counted_in_metrics(weir: Weir, client: openai.OpenAI) -> None:
    client.embeddings.create(model="embed-test", input="x")
    text = httpx.get(f"{weir.url}/metrics").text
    assert 'weir_requests_total{route="embeddings",status_class="2xx"}' in text
    assert 'weir_upstream_requests_total{model="embed-test",provider="mock",status_class="2xx"}' in text


def test_an_image_call_reserves_every_image_it_asks_for(weir: Weir) -> None:
    key = weir.new_key("media-images-budget", "0.1")  # $0.04 an image
    httpx.delete(f"{weir.upstream}/_mock/requests")
    body = {"model": "image-test", "prompt": "a weir at dawn"}
    many = httpx.post(f"{weir.url}/v1/images/generations", headers=auth(key), json={**body, "n": 3})
    assert many.status_code == 402 and many.json()["error"]["code"] == "insufficient_balance"
    assert "$0.1" in many.json()["error"]["message"] and weir.upstream_requests() == []
    one = httpx.post(f"{weir.url}/v1/images/generations", headers=auth(key), json=body)
    assert one.status_code == 200, one.text
