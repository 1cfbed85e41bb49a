"""An upload that stalls gets 408, before the model field and while it streams to the upstream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.media.test_form import BOUNDARY, field
from weir.errors import RequestTimeout
from weir.http.media.form import FormScanner
from weir.http.media.upload import Upload


def client(*chunks: bytes) -> Any:
    """A client that sends `chunks`, then nothing more."""
    sent = iter(chunks)

    async def receive() -> Any:
        for chunk in sent:
            return {"type": "http.request", "body": chunk, "more_body": True}
        await asyncio.Event().wait()

    return receive


async def test_a_stall_before_the_model_field() -> None:
    upload = Upload(client(field("file", b"RIFF", "a.wav")[:30]), FormScanner(BOUNDARY), 1 << 20, None, 0.2)
    with pytest.raises(RequestTimeout):
        await upload.read_model_field()


async def test_a_stall_while_streaming_is_the_uploads_failure() -> None:
    head = field("model", b"whisper-1") + b"\r\n" + field("file", b"RIFF....", "a.wav")
    upload = Upload(client(head), FormScanner(BOUNDARY), 1 << 20, None, 0.2)
    await upload.read_model_field()
    sent = []
    with pytest.raises(RequestTimeout):
        async for piece in upload.body(b"prefix"):
            sent.append(piece)
    assert sent and isinstance(upload.failure, RequestTimeout)  # what the endpoint answers the client with
