"""previous_response_id served by Weir (pipeline/conversations.py) against a real SQLite store: expansion of string
and item inputs, chains, the 404s for foreign, expired and unknown ids, store: false, retention 0, purging, the
gateway wiring and the configuration field."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any, cast

import msgspec
import orjson
import pytest

from weir.config import ConfigError, parse_config
from weir.dialects.openai_chat.errors import render
from weir.errors import GatewayError, InvalidRequest, PreviousResponseNotFound, ServiceUnavailable
from weir.gateway import Gateway
from weir.pipeline.conversations import DAY_MS, PURGE_BATCH, PURGE_BATCHES_PER_ROUND, Conversations
from weir.store.base import Store
from weir.store.records import StoredResponse
from weir.store.sqlite import SqliteStore

T0 = 1_750_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def said(text: str, item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


CALL = {
    "id": "fc_1",
    "type": "function_call",
    "status": "completed",
    "call_id": "call_1",
    "name": "shell",
    "arguments": '{"command": ["ls"]}',
}
REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "look first"}],
    "encrypted_content": "gAAAA-opaque",
}


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def conversations(sqlite_store: SqliteStore, clock: Clock) -> Conversations:
    return Conversations(sqlite_store, retention_days=30, clock=clock)


@pytest.fixture
async def account(sqlite_store: SqliteStore) -> int:
    return (await sqlite_store.create_account("acme")).id


def not_found_body(err: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(render(err))
    return body


async def test_a_request_without_previous_response_id_is_left_alone(conversations: Conversations) -> None:
    payload = {"model": "m", "input": "hi", "instructions": "be terse"}
    assert await conversations.expand(1, payload) is payload
    with_null = {"model": "m", "input": "hi", "previous_response_id": None}
    assert await conversations.expand(1, with_null) == {"model": "m", "input": "hi"}
    assert "previous_response_id" in with_null  # the caller's dict is not changed


async def test_string_inputs_become_user_messages(
    conversations: Conversations, sqlite_store: SqliteStore, account: int
) -> None:
    first = {"model": "m", "input": "hi", "instructions": "be terse"}
    await conversations.remember(account, "resp_1", await conversations.expand(account, first), [said("hello", "m1")])
    stored = await sqlite_store.get_response("resp_1")
    assert stored is not None and stored.model == "m" and stored.account_id == account
    assert msgspec.json.decode(stored.items) == [user("hi"), said("hello", "m1")]

    second = {"model": "m", "input": "and again", "previous_response_id": "resp_1", "stream": True}
    before = copy.deepcopy(second)
    expanded = await conversations.expand(account, second)
    assert expanded == {"model": "m", "input": [user("hi"), said("hello", "m1"), user("and again")], "stream": True}
    assert second == before  # not mutated
    assert "instructions" not in expanded  # instructions are never carried over


async def test_item_inputs_and_output_items_are_replayed_as_they_were(
    conversations: Conversations, sqlite_store: SqliteStore, account: int
) -> None:
    easy = {"role": "user", "content": "list the files"}  # an item without a type is valid input
    first = {"model": "m", "input": [{"type": "message", "role": "developer", "content": "be careful"}, easy]}
    await conversations.remember(account, "resp_1", await conversations.expand(account, first), [REASONING, CALL])
    output = {"type": "function_call_output", "call_id": "call_1", "output": "a.py\nb.py"}
    second = {"model": "m", "previous_response_id": "resp_1", "input": [output]}
    expanded = await conversations.expand(account, second)
    assert expanded["input"] == [first["input"][0], easy, REASONING, CALL, output]  # type: ignore[index]
    assert "previous_response_id" not in expanded
    third = await conversations.expand(account, {"model": "m", "previous_response_id": "resp_1"})  # no input
    assert third["input"] == [first["input"][0], easy, REASONING, CALL]  # type: ignore[index]


async def test_a_chain_of_three_responses(conversations: Conversations, account: int) -> None:
    payload: dict[str, Any] = {"model": "m", "input": "one", "instructions": "first rules"}
    for n in range(1, 4):
        expanded = await conversations.expand(account, payload)
        await conversations.remember(account, f"resp_{n}", expanded, [said(f"answer {n}", f"m{n}")])
        payload = {"model": "m", "input": [user(f"turn {n + 1}")], "previous_response_id": f"resp_{n}"}
    final = await conversations.expand(account, payload)
    assert final["input"] == [
        user("one"),
        said("answer 1", "m1"),
        user("turn 2"),
        said("answer 2", "m2"),
        user("turn 3"),
        said("answer 3", "m3"),
        user("turn 4"),
    ]
    # an earlier response can still be branched from
    branch = await conversations.expand(account, {"model": "m", "input": "other", "previous_response_id": "resp_1"})
    assert branch["input"] == [user("one"), said("answer 1", "m1"), user("other")]


async def test_unknown_foreign_and_expired_ids_answer_openais_404(
    conversations: Conversations, sqlite_store: SqliteStore, account: int, clock: Clock
) -> None:
    other = (await sqlite_store.create_account("globex")).id
    await conversations.remember(account, "resp_mine", {"model": "m", "input": "secret"}, [])
    clock.now += 30 * DAY_MS - 1
    assert (await conversations.expand(account, {"previous_response_id": "resp_mine"}))["input"] == [user("secret")]
    attempts = [(other, "resp_mine"), (account, "resp_nobody"), (account, "")]
    for who, response_id in attempts:
        with pytest.raises(PreviousResponseNotFound) as caught:
            await conversations.expand(who, {"model": "m", "input": "x", "previous_response_id": response_id})
        assert caught.value.status == 404
        assert not_found_body(caught.value) == {
            "error": {
                "message": f"Previous response with id '{response_id}' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
        }
    clock.now += 1  # the retention has run out: expired on read, before any purge
    with pytest.raises(PreviousResponseNotFound):
        await conversations.expand(account, {"previous_response_id": "resp_mine"})
    assert await sqlite_store.get_response("resp_mine") is not None


async def test_store_false_keeps_nothing(conversations: Conversations, sqlite_store: SqliteStore, account: int) -> None:
    await conversations.remember(account, "resp_off", {"model": "m", "input": "hi", "store": False}, [said("x", "m")])
    await conversations.remember(account, "resp_on", {"model": "m", "input": "hi", "store": True}, [])
    await conversations.remember(account, "resp_null", {"model": "m", "input": "hi", "store": None}, [])
    assert await sqlite_store.get_response("resp_off") is None
    assert await sqlite_store.get_response("resp_on") is not None
    assert await sqlite_store.get_response("resp_null") is not None
    with pytest.raises(PreviousResponseNotFound):
        await conversations.expand(account, {"model": "m", "input": "more", "previous_response_id": "resp_off"})


async def test_retention_zero_keeps_nothing_and_refuses_continuations(sqlite_store: SqliteStore, account: int) -> None:
    off = Conversations(sqlite_store, retention_days=0)
    assert off.enabled is False
    await off.remember(account, "resp_1", {"model": "m", "input": "hi"}, [said("x", "m")])
    assert await sqlite_store.get_response("resp_1") is None
    with pytest.raises(InvalidRequest) as caught:
        await off.expand(account, {"model": "m", "input": "hi", "previous_response_id": "resp_1"})
    assert caught.value.status == 400 and caught.value.param == "previous_response_id"
    assert "response_retention_days" in caught.value.message
    plain = {"model": "m", "input": "hi"}
    assert await off.expand(account, plain) is plain
    with pytest.raises(ValueError):
        Conversations(sqlite_store, retention_days=-1)


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"previous_response_id": 42, "input": "x"}, "previous_response_id"),
        ({"previous_response_id": ["resp_1"], "input": "x"}, "previous_response_id"),
        ({"previous_response_id": "resp_1", "input": {"text": "x"}}, "input"),
        ({"previous_response_id": "resp_1", "input": 7}, "input"),
        ({"input": "x", "store": "no"}, "store"),
        ({"previous_response_id": "resp_1", "input": "x", "store": 0}, "store"),
    ],
)
async def test_malformed_fields_are_400s_naming_the_field(
    conversations: Conversations, account: int, payload: dict[str, Any], param: str
) -> None:
    await conversations.remember(account, "resp_1", {"model": "m", "input": "hi"}, [])
    with pytest.raises(InvalidRequest) as caught:
        await conversations.expand(account, {"model": "m", **payload})
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.message.startswith(f"{param}: expected")


async def test_remember_wants_the_expanded_payload(conversations: Conversations, account: int) -> None:
    with pytest.raises(ValueError, match="expanded"):
        await conversations.remember(account, "resp_2", {"input": "x", "previous_response_id": "resp_1"}, [])


async def test_a_store_outage_is_a_503_on_expand_and_logged_on_remember(
    sqlite_store: SqliteStore, account: int, caplog: pytest.LogCaptureFixture
) -> None:
    conversations = Conversations(sqlite_store, retention_days=1)
    await sqlite_store.close()
    with pytest.raises(ServiceUnavailable):
        await conversations.expand(account, {"model": "m", "input": "x", "previous_response_id": "resp_1"})
    with caplog.at_level(logging.ERROR, logger="weir.conversations"):
        await conversations.remember(account, "resp_lost", {"model": "m", "input": "x"}, [])
    assert "resp_lost" in caplog.text


async def test_purging_deletes_expired_rows_only(
    conversations: Conversations, sqlite_store: SqliteStore, account: int, clock: Clock
) -> None:
    for n in range(3):
        await conversations.remember(account, f"resp_old_{n}", {"model": "m", "input": "x"}, [])
    clock.now += DAY_MS
    await conversations.remember(account, "resp_new", {"model": "m", "input": "x"}, [])
    assert await conversations.purge_expired() == 0
    clock.now += 29 * DAY_MS
    assert await conversations.purge_expired() == 3
    assert await sqlite_store.get_response("resp_old_0") is None
    assert await sqlite_store.get_response("resp_new") is not None


class Backlog:
    """Pure logic: a store that always has ``left`` expired rows to purge, counting the calls."""

    def __init__(self, left: int) -> None:
        self.left = left
        self.calls: list[int] = []

    async def purge_responses(self, now_ms: int, limit: int = 1000) -> int:
        self.calls.append(limit)
        deleted = min(self.left, limit)
        self.left -= deleted
        return deleted


@pytest.mark.parametrize(
    ("left", "calls"),
    [(0, 1), (PURGE_BATCH - 1, 1), (PURGE_BATCH, 2), (3 * PURGE_BATCH + 5, 4), (10**9, PURGE_BATCHES_PER_ROUND)],
)
async def test_a_purge_round_is_bounded(left: int, calls: int) -> None:
    backlog = Backlog(left)
    purged = await Conversations(cast(Store, backlog), retention_days=1).purge_expired()
    assert len(backlog.calls) == calls and set(backlog.calls) == {PURGE_BATCH}
    assert purged == min(left, PURGE_BATCH * PURGE_BATCHES_PER_ROUND)


async def test_the_purge_task_runs_at_start_and_stops_on_close(
    sqlite_store: SqliteStore, account: int, clock: Clock
) -> None:
    conversations = Conversations(sqlite_store, retention_days=1, clock=clock, purge_every_seconds=0.05)
    await conversations.remember(account, "resp_1", {"model": "m", "input": "x"}, [])
    clock.now += DAY_MS
    conversations.start()
    for _ in range(100):  # bounded: 5 s at most
        if await sqlite_store.get_response("resp_1") is None:
            break
        await asyncio.sleep(0.05)
    assert await sqlite_store.get_response("resp_1") is None
    await conversations.remember(account, "resp_2", {"model": "m", "input": "x"}, [])
    clock.now += DAY_MS
    for _ in range(100):  # and again on a later round
        if await sqlite_store.get_response("resp_2") is None:
            break
        await asyncio.sleep(0.05)
    assert await sqlite_store.get_response("resp_2") is None
    await conversations.close()
    await conversations.remember(account, "resp_3", {"model": "m", "input": "x"}, [])
    clock.now += DAY_MS
    await asyncio.sleep(0.2)
    assert await sqlite_store.get_response("resp_3") is not None  # closed: no more rounds
    await conversations.close()  # twice is harmless


async def test_the_gateway_owns_conversations(tmp_path: Path) -> None:
    config = parse_config(
        f'[server]\ndata_dir = "{tmp_path}"\n[storage]\nurl = "sqlite://{tmp_path}/weir.db"\n'
        "response_retention_days = 2\n"
    )
    gateway = Gateway(config)
    await gateway.open()
    try:
        account = (await gateway.store.create_account("acme")).id
        assert gateway.conversations.enabled
        await gateway.conversations.remember(account, "resp_1", {"model": "m", "input": "hi"}, [])
        stored = await gateway.store.get_response("resp_1")
        assert isinstance(stored, StoredResponse) and stored.expires_at - stored.created_at == 2 * DAY_MS
    finally:
        await gateway.close()


def test_response_retention_days_is_configured_and_validated(tmp_path: Path) -> None:
    base = f'[storage]\nurl = "sqlite://{tmp_path}/weir.db"\n'
    assert parse_config(base).storage.response_retention_days == 30
    assert parse_config(base + "response_retention_days = 0\n").storage.response_retention_days == 0
    with pytest.raises(ConfigError) as caught:
        parse_config(base + "response_retention_days = -1\n")
    assert caught.value.problems == [
        "storage.response_retention_days: must not be negative (0 stores no responses), got -1"
    ]
