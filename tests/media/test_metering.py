from __future__ import annotations

import orjson
import pytest

from weir.billing.meter import NO_UNITS, ZERO, Units, Usage
from weir.http.media.metering import (
    embeddings_usage,
    image_usage,
    last_event_with_usage,
    seconds_to_ms,
    transcription_usage,
)


def test_embeddings_bill_prompt_tokens() -> None:
    answer = {"object": "list", "data": [], "usage": {"prompt_tokens": 17, "total_tokens": 17}}
    assert embeddings_usage(orjson.dumps(answer)) == Usage(input=17)
    assert embeddings_usage(b"not json") is ZERO
    assert embeddings_usage(b'{"usage": {"prompt_tokens": "7"}}') == Usage()


def test_images_bill_each_item_and_their_tokens() -> None:
    answer = {"data": [{"b64_json": "x"}, {"url": "u"}], "usage": {"input_tokens": 50, "output_tokens": 4160}}
    assert image_usage(orjson.dumps(answer)) == (Usage(input=50, output=4160), Units(images=2))
    assert image_usage(b'{"data": []}') == (ZERO, NO_UNITS)


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ({"text": "hi", "usage": {"type": "duration", "seconds": 3}}, (ZERO, 3000)),
        ({"text": "hi", "usage": {"type": "duration", "seconds": 0.0011}}, (ZERO, 2)),  # rounded up
        ({"text": "hi", "duration": 8.470000267028809}, (ZERO, 8471)),  # verbose_json without usage
        (
            {"text": "hi", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 45, "total_tokens": 59}},
            (Usage(input=14, output=45), None),
        ),
        ({"text": "hi"}, (ZERO, None)),
        ({"text": "hi", "duration": "nope"}, (ZERO, None)),
        ({"text": "hi", "duration": -1}, (ZERO, None)),
    ],
)
def test_transcriptions_bill_seconds_or_tokens(body: dict[str, object], want: tuple[Usage, int | None]) -> None:
    assert transcription_usage(body) == want


def test_seconds_to_ms() -> None:
    assert seconds_to_ms(1) == 1000 and seconds_to_ms("2.5") == 2500 and seconds_to_ms(0.1) == 100
    assert seconds_to_ms(True) is None and seconds_to_ms(float("inf")) is None and seconds_to_ms(None) is None


def test_the_last_streamed_event_with_usage() -> None:
    stream = (
        b'data: {"type":"transcript.text.delta","delta":"hi"}\n\n'
        b'data: {"type":"transcript.text.done","text":"hi","usage":{"type":"tokens","input_tokens":3}}\n\n'
    )
    assert last_event_with_usage(stream)["usage"] == {"type": "tokens", "input_tokens": 3}
    assert last_event_with_usage(b'data: {"usage": 1}\n\n') == {}
