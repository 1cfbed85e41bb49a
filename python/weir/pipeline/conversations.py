"""OpenAI Responses conversations: `previous_response_id` answered by Weir itself, whatever the upstream speaks.

No upstream ever sees `previous_response_id`. Before a call, `expand` replaces it with the conversation it names:
the stored items of that response (its whole history, its own input and its output), then the request's new
input. After the call, `remember` stores the conversation as it now stands (the expanded input plus the
response's output items) under the new response's id, so each continuation is one primary-key read and a chain
of any length never walks back through its ancestors.

OpenAI's semantics, kept here: `instructions` are not carried over (only items are stored, so the next request
sends its own); `store` defaults to true and a response made with `store: false` is not kept, so it cannot be
continued; a response is found only by the account that made it, and an unknown, expired or foreign id all answer
the same 404 so ids reveal nothing across accounts. Output items are stored as the client received them: the
Responses input accepts output items (message with output_text, function_call, custom_tool_call, reasoning...)
as they are.

Storage is bounded in time: `[storage] response_retention_days` (0 keeps nothing), and a background task deletes
expired rows in bounded batches every few minutes. Expiry is checked on read too, so purging may run late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from weir.background import stop
from weir.errors import InvalidRequest, PreviousResponseNotFound, ServiceUnavailable
from weir.store._common import now_ms
from weir.store.base import AlreadyExists, Store, StoreError
from weir.store.records import StoredResponse

log = logging.getLogger("weir.conversations")

DAY_MS = 86_400_000
PURGE_EVERY_SECONDS = 600.0
PURGE_BATCH = 1_000  # rows deleted per store call: one short transaction each
PURGE_BATCHES_PER_ROUND = 100  # a round deletes at most 100k rows; any backlog waits for the next round

_decode_items = msgspec.json.Decoder(list[Any]).decode
_encode = msgspec.json.Encoder().encode


def user_message(text: str) -> dict[str, Any]:
    """The input item a string `input` stands for."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def input_items(payload: dict[str, Any]) -> list[Any]:
    """The request's `input` as a list of items (a string is one user message; no input is none)."""
    value = payload.get("input")
    if value is None:
        return []
    if isinstance(value, str):
        return [user_message(value)]
    if isinstance(value, list):
        return value
    raise InvalidRequest(f"input: expected a string or an array of items, got {_json_kind(value)}.", param="input")


def wants_storing(payload: dict[str, Any]) -> bool:
    """`store` as OpenAI reads it: true unless it is false; anything but a boolean or null is refused."""
    value = payload.get("store")
    if value is None or isinstance(value, bool):
        return value is not False
    raise InvalidRequest(f"store: expected a boolean, got {_json_kind(value)}.", param="store")


class Conversations:
    def __init__(
        self,
        store: Store,
        *,
        retention_days: int,
        clock: Callable[[], int] = now_ms,
        purge_every_seconds: float = PURGE_EVERY_SECONDS,
    ) -> None:
        if retention_days < 0:
            raise ValueError(f"retention_days must not be negative, got {retention_days}")
        self._store = store
        self._retention_ms = retention_days * DAY_MS
        self._clock = clock
        self._purge_every = purge_every_seconds
        self._purger: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """False when the configuration keeps no responses (retention 0)."""
        return self._retention_ms > 0

    async def expand(self, account_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """The request with `previous_response_id` resolved into `input` (a new dict; the payload itself when there
        is nothing to resolve). PreviousResponseNotFound (404) when the id names nothing this account may continue;
        InvalidRequest (400) for a malformed id, input or store flag, or when responses are not kept at all."""
        wants_storing(payload)  # validated before the call, so a bad flag never costs an upstream call
        if "previous_response_id" not in payload:
            return payload
        previous = payload["previous_response_id"]
        expanded = {name: value for name, value in payload.items() if name != "previous_response_id"}
        if previous is None:
            return expanded
        if not isinstance(previous, str):
            raise InvalidRequest(
                f"previous_response_id: expected a string, got {_json_kind(previous)}.", param="previous_response_id"
            )
        new_input = input_items(payload)
        if not self.enabled:
            raise InvalidRequest(
                "previous_response_id cannot be used: this gateway keeps no responses "
                "(storage.response_retention_days = 0). Send the whole conversation in input instead.",
                param="previous_response_id",
            )
        record = await self._load(account_id, previous)
        expanded["input"] = _decode_items(record.items) + new_input
        return expanded

    async def remember(
        self, account_id: int, response_id: str, payload: dict[str, Any], output_items: list[Any]
    ) -> None:
        """Keep the conversation after this response, unless `store` is false or retention is 0.

        ``payload`` is what `expand` returned (never one still holding a `previous_response_id`): its input, as
        items, followed by ``output_items`` is what a later request continuing ``response_id`` gets. A store
        failure is logged, not raised: the response has been produced, and the next continuation answers 404.
        """
        if payload.get("previous_response_id") is not None:
            raise ValueError("remember() takes the expanded payload: previous_response_id is still set")
        if not self.enabled or not wants_storing(payload):
            return
        now = self._clock()
        model = payload.get("model")
        record = StoredResponse(
            id=response_id,
            account_id=account_id,
            model=model if isinstance(model, str) else "",
            items=_encode([*input_items(payload), *output_items]).decode(),
            created_at=now,
            expires_at=now + self._retention_ms,
        )
        try:
            await self._store.put_response(record)
        except AlreadyExists:  # ids are Weir's own and unique, so only a bug could repeat one: say it once
            log.warning("response %s is already stored; the earlier conversation is kept", response_id)
        except StoreError as exc:
            log.error("response %s could not be stored, so it cannot be continued: %s", response_id, exc)

    async def _load(self, account_id: int, response_id: str) -> StoredResponse:
        try:
            record = await self._store.get_response(response_id)
        except StoreError as exc:
            raise ServiceUnavailable("The response store is unavailable; try again shortly.") from exc
        if record is None or record.account_id != account_id or record.expires_at <= self._clock():
            raise PreviousResponseNotFound(response_id)
        return record

    # ---- purging ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Purge expired responses now and then every `purge_every_seconds`, until `close`."""
        if self._purger is None:
            self._purger = asyncio.create_task(self._purge_forever(), name="weir-responses-purge")

    async def close(self) -> None:
        purger, self._purger = self._purger, None
        await stop(purger)

    async def purge_expired(self) -> int:
        """One bounded round of deletes; returns how many rows went."""
        total = 0
        for _ in range(PURGE_BATCHES_PER_ROUND):
            deleted = await self._store.purge_responses(self._clock(), PURGE_BATCH)
            total += deleted
            if deleted < PURGE_BATCH:
                break
        return total

    async def _purge_forever(self) -> None:
        while True:
            try:
                purged = await self.purge_expired()
            except StoreError:
                log.warning("purging expired responses failed; retrying in %.0fs", self._purge_every, exc_info=True)
            else:
                if purged:
                    log.info("purged %d expired responses", purged)
            await asyncio.sleep(self._purge_every)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
