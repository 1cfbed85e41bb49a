"""Generate the canned OpenAI-compatible request/response bodies in fixtures/.

Deterministic: re-running produces byte-identical files. The bodies are used by
the nginx mock upstream (served verbatim) and by wrk (request bodies), and are
meant to be reusable by the full benchmark suite.

    python bench/transport/make_fixtures.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"

MODEL = "gpt-4o-mini"
RESP_MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1_735_689_600
CHUNKS = 50


def dumps(obj: object) -> str:
    # Compact, like the OpenAI API emits.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def request(stream: bool) -> dict:
    body: dict = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {
                "role": "user",
                "content": "Explain in two sentences why connection pooling matters for an HTTP reverse proxy.",
            },
        ],
        "max_tokens": 128,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


ANSWER = (
    "Connection pooling lets a reverse proxy reuse already-established TCP "
    "(and TLS) connections to the upstream instead of paying a handshake on "
    "every request, which cuts latency and CPU. It also bounds the number of "
    "sockets the proxy holds open, so bursts of traffic do not exhaust file "
    "descriptors or overwhelm the upstream."
)


SHORT_ANSWER = (
    "Pooling reuses warm upstream connections, so each request skips a TCP/TLS "
    "handshake; that cuts latency and CPU and bounds open sockets."
)


def completion() -> dict:
    return {
        "id": "chatcmpl-BENCH0000000000000000000000000",
        "object": "chat.completion",
        "created": CREATED,
        "model": RESP_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": SHORT_ANSWER, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 36,
            "completion_tokens": 64,
            "total_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "system_fingerprint": "fp_bench0001",
    }


def split_words(text: str, n: int) -> list[str]:
    """Split text into exactly n non-empty pieces (whitespace kept in front)."""
    words = text.split(" ")
    pieces = [words[0]] + [" " + w for w in words[1:]]
    # Merge from the end until we have n pieces (or pad if fewer).
    while len(pieces) > n:
        pieces[-2] = pieces[-2] + pieces[-1]
        pieces.pop()
    while len(pieces) < n:
        pieces.append("")
    return pieces


def chunk(delta: dict, finish: str | None, choices: bool = True, usage: dict | None = None) -> dict:
    obj: dict = {
        "id": "chatcmpl-BENCH0000000000000000000000000",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": RESP_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_bench0001",
        "choices": ([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else []),
    }
    if usage is not None:
        obj["usage"] = usage
    else:
        obj["usage"] = None
    return obj


def stream() -> str:
    pieces = split_words(ANSWER, CHUNKS)
    events: list[str] = []
    for i, piece in enumerate(pieces):
        delta: dict = {"content": piece}
        if i == 0:
            delta = {"role": "assistant", "content": piece, "refusal": None}
        finish = "stop" if i == CHUNKS - 1 else None
        events.append(dumps(chunk(delta, finish)))
    events.append(dumps(chunk({}, None, choices=False, usage=completion()["usage"])))
    events.append("[DONE]")
    return "".join(f"data: {e}\n\n" for e in events)


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    files = {
        "request.json": dumps(request(stream=False)),
        "request_stream.json": dumps(request(stream=True)),
        "chat_completion.json": dumps(completion()),
        "chat_completion_stream.sse": stream(),
    }
    for name, text in files.items():
        path = FIXTURES / name
        path.write_bytes(text.encode())
        print(f"{path.relative_to(HERE.parent.parent)}: {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
