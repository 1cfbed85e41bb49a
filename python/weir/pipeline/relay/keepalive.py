"""Keeping a translated stream alive while the upstream is silent."""

from __future__ import annotations

import asyncio
import time

from starlette.types import Send


class Keepalive:
    """Sends the client dialect's keepalive (`: keep-alive` comment, Anthropic `ping`) when nothing was sent for
    `server.keepalive_seconds`, so clients with idle timeouts (Claude Code, Codex) wait out a silent upstream.
    Only after the first event: an Anthropic client must see message_start first."""

    def __init__(self, send: Send, beat: bytes, seconds: float) -> None:
        self._send = send
        self._beat = beat
        self._seconds = seconds
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    async def send(self, body: bytes) -> None:
        self._last = time.monotonic()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})
        if self._task is None and self._beat:
            self._task = asyncio.ensure_future(self._beats())

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(self._seconds - (time.monotonic() - self._last))
            if time.monotonic() - self._last >= self._seconds:
                await self.send(self._beat)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def end(self, body: bytes) -> None:
        """The last bytes of the response; no keepalive after them."""
        self.stop()
        await self._send({"type": "http.response.body", "body": body})
