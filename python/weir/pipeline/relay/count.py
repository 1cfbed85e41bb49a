"""Token counting legs (`/v1/messages/count_tokens`, Gemini `:countTokens`): a route whose provider counts its
own tokens is asked (Anthropic, Gemini); any other is answered here with the model's BPE encoding, without an
upstream call. Counting is free: the exchange records nothing for these calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from starlette.types import Send

from weir._native import count_tokens_many
from weir.canonical.content import Content, Image, Opaque, Text, Thinking, ToolResult, ToolUse
from weir.canonical.request import Request
from weir.errors import UpstreamInvalidResponse
from weir.pipeline.attempt import Opened, Outgoing
from weir.pipeline.reply import send_whole

PER_MESSAGE = 3  # role and framing tokens per message, as chat formats add
OFF_LOOP_BYTES = 64 * 1024  # larger requests are counted in a thread: the Rust counter releases the GIL
IMAGE_TOKENS = 1_600  # a typical image; exact counts need the provider's own endpoint
_NOWHERE = Outgoing("", b"", {})


def local_count(req: Request, encoding: str) -> int:
    texts: list[str] = [t.text for t in req.system]
    for tool in req.tools:
        texts.append(tool.name)
        texts.append(tool.description or "")
        if tool.input_schema is not None:
            texts.append(bytes(tool.input_schema).decode())
    fixed = 0
    for message in req.messages:
        fixed += PER_MESSAGE
        for block in message.content:
            fixed += _collect(block, texts)
    counted: int = count_tokens_many(texts, encoding)
    return fixed + counted


def _collect(block: Content, texts: list[str]) -> int:
    """Append a block's countable text; return the tokens it costs beyond that text."""
    if isinstance(block, Text):
        texts.append(block.text)
    elif isinstance(block, Thinking):
        texts.append(block.text)
    elif isinstance(block, ToolUse):
        texts.append(block.name)
        texts.append(bytes(block.input).decode())
    elif isinstance(block, ToolResult):
        return sum(_collect(part, texts) for part in block.content)
    elif isinstance(block, Image):
        return IMAGE_TOKENS
    elif isinstance(block, Opaque):
        texts.append(bytes(block.raw).decode())
    return 0


class UpstreamCountLeg:
    """Asks the provider's own count endpoint; its JSON answer goes back unchanged."""

    __slots__ = ("headers", "out", "status")

    stream = False
    local = False

    def __init__(self, out: Outgoing, headers: list[tuple[bytes, bytes]]) -> None:
        self.out = out
        self.headers = headers
        self.status = 200

    def accept(self, status: int, body: bytes) -> None:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamInvalidResponse(
                f"The upstream answered a token count with {len(body)} bytes of non-JSON."
            ) from None
        self.status = status

    async def relay(self, opened: Opened, send: Send) -> None:
        await send_whole(send, self.status, opened.body, self.headers)


class LocalCountLeg:
    """Counts here: `answer()` is the whole JSON answer. A large request (`size` bytes) is counted in a worker
    thread, so that counting never holds the event loop for long."""

    __slots__ = ("answer", "headers", "size")

    stream = False
    local = True
    out = _NOWHERE

    def __init__(self, answer: Callable[[], bytes], headers: list[tuple[bytes, bytes]], size: int = 0) -> None:
        self.answer = answer
        self.headers = headers
        self.size = size

    def accept(self, status: int, body: bytes) -> None:
        return None

    async def relay(self, opened: Opened, send: Send) -> None:
        answer = await asyncio.to_thread(self.answer) if self.size > OFF_LOOP_BYTES else self.answer()
        await send_whole(send, 200, answer, self.headers)
