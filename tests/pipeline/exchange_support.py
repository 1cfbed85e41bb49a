"""A gateway's exchange over in-memory upstreams, for unit tests of the loop: real config parsing, real routes,
keys, breakers and relays, a clock the test drives, and a settler that only records."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.support.transport import Answer, Handler, MemoryTransport
from weir.billing.reservations import Reservations
from weir.billing.spend import KeySpend
from weir.billing.wallets import Wallets
from weir.config import parse_config
from weir.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from weir.errors import GatewayError
from weir.limits.base import Limiter
from weir.pipeline.admit import Admission
from weir.pipeline.authenticate import Principal
from weir.pipeline.exchange import Exchange
from weir.pipeline.inbound import Parsed
from weir.pipeline.route import ModelTable, ResolvedModel, Router
from weir.pipeline.settle import Settler
from weir.store.records import UsageRecord
from weir.upstreams.provider import Upstream

PRINCIPAL = Principal("key1", "inference", 1, "acct")
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def chat_answer(text: str = "hello", prompt: int = 3, completion: int = 2) -> Answer:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "model": "up",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
    return Answer(200, orjson.dumps(body), {"Content-Type": "application/json"})


def chat_stream(text: str = "hello", *, cut_after_first: bool = False) -> Answer:
    first = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "up",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
    }
    done = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "up",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    usage = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "up",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    steps: list[Any] = [b"data: " + orjson.dumps(first) + b"\n\n"]
    if cut_after_first:
        steps.append(ConnectionResetError("reset by peer"))
    else:
        steps += [
            b"data: " + orjson.dumps(done) + b"\n\n",
            b"data: " + orjson.dumps(usage) + b"\n\n",
            b"data: [DONE]\n\n",
        ]
    return Answer(200, steps, {"Content-Type": "text/event-stream"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Records(Settler):
    def __init__(self) -> None:
        super().__init__(None, Wallets(), queue_size=1, batch_size=1)  # type: ignore[arg-type]
        self.records: list[UsageRecord] = []

    async def submit(self, record: UsageRecord, release: int = 0) -> None:
        self.records.append(record)


@dataclass
class Outcome:
    status: int
    body: bytes
    error: GatewayError | None
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class World:
    """Providers named by `handlers`, each an OpenAI-dialect upstream unless `dialects` says otherwise, and one
    model `m` with `routes` (dicts of route settings: provider, and optionally priority, weight, model)."""

    def __init__(
        self,
        handlers: dict[str, Handler],
        routes: Iterable[dict[str, Any]],
        *,
        keys: dict[str, list[str]] | None = None,
        dialects: dict[str, str] | None = None,
        routing: str = "",
        providers: str = "",
        seed: int = 1,
        limiter: Limiter | None = None,
        principal: Principal = PRINCIPAL,
        reservations: Reservations | None = None,
        spend: KeySpend | None = None,
    ) -> None:
        keys = keys or {}
        dialects = dialects or {}
        text = f"[routing]\n{routing}\n"
        for name in handlers:
            dialect = dialects.get(name, "openai")
            base = f"http://{name}.test/v1" if dialect == "openai" else f"http://{name}.test"
            text += (
                f'[[providers]]\nname = "{name}"\ndialect = "{dialect}"\nbase_url = "{base}"\n'
                f"api_keys = {orjson.dumps(keys.get(name, [f'key-{name}'])).decode()}\n{providers}\n"
            )
        route_list = ", ".join(
            "{" + ", ".join(f"{k} = {orjson.dumps(v).decode()}" for k, v in {"model": "up", **r}.items()) + "}"
            for r in routes
        )
        text += f'[[models]]\nid = "m"\nprice = {{ input = 1.0, output = 2.0 }}\nroutes = [{route_list}]\n'
        config = parse_config(text)
        self.transports = {name: MemoryTransport(h) for name, h in handlers.items()}
        self.upstreams = {p.name: Upstream(p, transport=self.transports[p.name]) for p in config.providers}
        table = ModelTable(config, self.upstreams)
        self.model: ResolvedModel = table.resolve("m")
        self.clock = Clock()
        self.router = Router(config.routing, clock=self.clock, rng=random.Random(seed))
        self.settler = Records()
        self.wallets = Wallets()
        self.principal = principal
        self.exchange = Exchange(
            models=table,
            router=self.router,
            wallets=self.wallets,
            settler=self.settler,
            server=config.server,
            admission=Admission(limiter, self.wallets, reservations, spend),
        )

    def calls(self, provider: str) -> int:
        return len(self.transports[provider].sent)

    async def call(
        self,
        body: dict[str, Any] | None = None,
        *,
        stream: bool = False,
        session: str | None = None,
        client: Dialect = OPENAI_CHAT,
        max_price: int | None = None,
        leave_after: float | None = None,
    ) -> Outcome:
        """One call; `leave_after` seconds in, the client hangs up (an http.disconnect)."""
        payload = dict(body or CHAT)
        if stream:
            payload["stream"] = True
        parsed = Parsed(
            raw=orjson.dumps(payload), payload=payload, model="m", stream=stream, wants_usage=stream, session=session
        )
        messages: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if leave_after is None:
                await never.wait()
            await asyncio.sleep(leave_after or 0)
            return {"type": "http.disconnect"}

        endpoint = _Endpoint(client)
        try:
            await self.exchange.serve(
                endpoint,  # type: ignore[arg-type]
                self.principal,
                parsed,
                "req1",
                receive,  # type: ignore[arg-type]
                send,  # type: ignore[arg-type]
                max_price=max_price,
            )
        except GatewayError as err:
            return Outcome(err.status, b"", err, messages)
        if not any(m["type"] == "http.response.start" for m in messages):
            return Outcome(self.settler.records[-1].status, b"", None, messages)  # it ended before an answer began
        status = next(m["status"] for m in messages if m["type"] == "http.response.start")
        body_bytes = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return Outcome(status, body_bytes, None, messages)


class _Endpoint:
    remembers = False

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def to_canonical(self, parsed: Parsed) -> Any:
        return self.dialect.request.to_canonical(parsed.raw)

    async def prepare(self, parsed: Parsed, account_id: int) -> Parsed:
        return parsed

    def finished(self, parsed: Parsed, account_id: int) -> None:
        return None


__all__ = ["ANTHROPIC_MESSAGES", "CHAT", "Answer", "Clock", "World", "chat_answer", "chat_stream"]
