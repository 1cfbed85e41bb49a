"""An in-memory upstream transport for unit tests of the exchange loop, in the spirit of httpx's MockTransport:
a handler turns each request into an answer, or raises what a real transport would raise.

    transport = MemoryTransport(lambda req: Answer(200, b'{"ok": true}'))
    upstream = Upstream(provider_config, transport=transport)

An `Answer`'s body is a list of steps: bytes (a chunk), a float (a pause, in seconds), or an exception (raised
while the body is read, as a connection reset would be).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from weir.upstreams.transport import RequestBody

Step = bytes | float | BaseException


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Answer:
    status: int = 200
    body: list[Step] | bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def steps(self) -> list[Step]:
        return [self.body] if isinstance(self.body, bytes) else list(self.body)


class _Content:
    def __init__(self, response: MemoryResponse) -> None:
        self._response = response

    def iter_any(self) -> AsyncIterator[bytes]:
        return self._response._chunks()


class MemoryResponse:
    def __init__(self, answer: Answer) -> None:
        self.status = answer.status
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(answer.headers))
        self.content = _Content(self)
        self._steps = answer.steps()
        self.released = False
        self.closed = False
        self._closing = asyncio.Event()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while self._steps:
            if self.closed:  # as aiohttp's reads fail once the response is closed under them
                raise aiohttp.ClientConnectionError("Connection closed")
            step = self._steps.pop(0)
            if isinstance(step, float):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), step)
            elif isinstance(step, BaseException):
                raise step
            elif step:
                yield step

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self._chunks()])

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True
        self._closing.set()


Handler = Callable[[Sent], Answer | Awaitable[Answer]]


class MemoryTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sent: list[Sent] = []
        self.responses: list[MemoryResponse] = []

    async def post(self, url: str, body: RequestBody, headers: dict[str, str], stream: bool = False) -> MemoryResponse:
        if not isinstance(body, bytes):
            body = b"".join([piece async for piece in body])
        request = Sent(url, body, dict(headers))
        self.sent.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        response = MemoryResponse(answer)
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        return None
