"""Locust user for streaming chat completions that reports time to first token as its own request event.

Locust's FastHttpUser times a `stream=True` request only until the response headers, and its iter_content reads
in 1024-byte blocks, which hides when the first token arrived. This user reads the body line by line
(geventhttpclient's `readline(b"\\n")` on the underlying response) and fires:

    SSE  time_to_first_token   request start -> first `data:` line
    POST /v1/chat/completions  request start -> end of stream (length = bytes read); a failure when the status
                               is not 200, the stream carries an error event or it does not end with [DONE]

Environment:
    WEIR_BENCH_KEY    the API key (required), sent as Authorization: Bearer
    WEIR_BENCH_MODEL  model name (default bench-stream, the suite's streaming model)

    locust -f bench/locust/chat_stream.py --headless -u 8 -r 8 -t 10s --host http://127.0.0.1:8080
or let the suite start the mock and Weir for you: .venv/bin/python bench/run.py locust
"""

from __future__ import annotations

import json
import os
import time

from locust import FastHttpUser, constant, task

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain in two sentences why connection pooling matters for an HTTP reverse proxy."},
]


class ChatStreamUser(FastHttpUser):
    wait_time = constant(0)
    # one keep-alive connection per user, like an SDK client
    concurrency = 1

    def on_start(self) -> None:
        key = os.environ.get("WEIR_BENCH_KEY")
        if not key:
            raise RuntimeError("set WEIR_BENCH_KEY to an API key for the target")
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",
        }
        self.body = json.dumps(
            {
                "model": os.environ.get("WEIR_BENCH_MODEL", "bench-stream"),
                "messages": MESSAGES,
                "max_tokens": 128,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )

    @task
    def chat_stream(self) -> None:
        start = time.perf_counter()
        with self.client.post(
            "/v1/chat/completions", data=self.body, headers=self.headers, stream=True, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
                return
            raw = resp._response  # geventhttpclient response: read it line by line
            first = None
            done = error = False
            nbytes = 0
            while True:
                line = raw.readline(b"\n")
                if not line:
                    break
                nbytes += len(line)
                if line.startswith(b"data:"):
                    if first is None:
                        first = time.perf_counter()
                        self.environment.events.request.fire(
                            request_type="SSE",
                            name="time_to_first_token",
                            response_time=(first - start) * 1000,
                            response_length=0,
                            exception=None,
                            context={},
                        )
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        done = True
                    elif payload.startswith(b'{"error"'):
                        error = True
            resp.request_meta["response_time"] = (time.perf_counter() - start) * 1000
            resp.request_meta["response_length"] = nbytes
            if error:
                resp.failure("the stream carried an error event")
            elif not done:
                resp.failure("the stream ended without data: [DONE]")
            else:
                resp.success()
