"""Idle and slow connections cannot take the gateway down (issue 10 §1).

One broad test against a real `weir serve` (one worker, SQLite): 2,000 TCP connections that send nothing and 200
that send a request's headers and part of its body, then stall. Meanwhile `/healthz` and a real chat call through
the openai SDK answer within a second; the idle connections are cut after `server.idle_timeout_seconds`, the slow
bodies get a 408 in the OpenAI shape after `server.body_read_timeout_seconds`, and then the file descriptors of the
weir processes are back to what they were before.
"""

from __future__ import annotations

import resource
import selectors
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import psutil
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir, write_config
from tests.support.processes import free_port, start, stop, wait_http

IDLE = 2000
SLOW = 200
IDLE_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def many_fds() -> Iterator[None]:
    """Room for this process's sockets (and, inherited, the gateway's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + SLOW + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.fail(f"RLIMIT_NOFILE's hard limit is {hard}; this test needs {want} file descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def fds(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.num_fds() for p in [root, *root.children(recursive=True)])


def connect(port: int, count: int, into: list[socket.socket]) -> list[socket.socket]:
    """`count` new connections, also kept in `into` (closed by the caller whatever happens)."""
    made: list[socket.socket] = []
    for _ in range(count):
        made.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        into.append(made[-1])
    return made


def slow_bodies(port: int, key: str, count: int, into: list[socket.socket]) -> list[socket.socket]:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: weir\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n"
        '{"model": "gpt-test", '
    ).encode()
    socks = connect(port, count, into)
    for s in socks:
        s.sendall(head)
    return socks


def read_until_closed(socks: list[socket.socket], deadline: float) -> dict[socket.socket, bytes]:
    """Everything each socket receives until the gateway closes it (or the deadline passes)."""
    got: dict[socket.socket, bytearray] = {s: bytearray() for s in socks}
    with selectors.DefaultSelector() as selector:  # epoll: select() cannot watch descriptors past 1023
        for s in socks:
            selector.register(s, selectors.EVENT_READ)
        while selector.get_map() and time.monotonic() < deadline:
            for event, _ in selector.select(0.05):
                s = event.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    data = b""
                if data:
                    got[s] += data
                else:
                    selector.unregister(s)
        still_open = len(selector.get_map())
    assert not still_open, f"{still_open} of {len(socks)} connections were still open at the deadline"
    return {s: bytes(b) for s, b in got.items()}


@pytest.mark.timeout(90)
def test_idle_and_slow_connections_leave_the_gateway_answering(
    many_fds: None, mock_upstream: str, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "weir.toml"
    server = f"idle_timeout_seconds = {IDLE_TIMEOUT}\nbody_read_timeout_seconds = {BODY_TIMEOUT}\n"
    write_config(config, port, mock_upstream, f"sqlite://{tmp_path / 'weir.db'}", tmp_path / "data", server)
    env = {"WEIR_TEST_PEPPER": "test-pepper-0123456789abcdef", "MOCK_PROVIDER_KEY": PROVIDER_KEY}
    weir = Weir(f"http://127.0.0.1:{port}", config, env, mock_upstream)
    key = weir.new_key("crowded", "5")
    log = tmp_path / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, env)
    client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0, timeout=5)
    sockets: list[socket.socket] = []
    try:
        wait_http(f"{weir.url}/healthz", proc, log)
        assert client.chat.completions.create(**BODY).choices  # type: ignore[call-overload]
        client.close()  # its pooled connection would count against the baseline
        time.sleep(IDLE_TIMEOUT + 0.5)  # the waiting health checks' connections are gone too
        baseline = fds(proc.pid)

        idle = connect(port, IDLE, sockets)
        slow = slow_bodies(port, key, SLOW, sockets)
        started = time.monotonic()
        health = httpx.get(f"{weir.url}/healthz", timeout=5)
        assert health.status_code == 200, health.text
        assert time.monotonic() - started < 1.0, "/healthz waited behind the idle connections"
        started = time.monotonic()
        client = openai.OpenAI(base_url=f"{weir.url}/v1", api_key=key, max_retries=0, timeout=5)
        answer = client.chat.completions.create(**BODY)  # type: ignore[call-overload]
        assert answer.choices[0].message.content
        assert time.monotonic() - started < 1.0, "the chat call waited behind the idle connections"
        client.close()

        deadline = time.monotonic() + IDLE_TIMEOUT + BODY_TIMEOUT + 10
        idle_got = read_until_closed(idle, deadline)
        assert not any(idle_got.values()), "an idle connection is closed without an answer"
        for data in read_until_closed(slow, deadline).values():
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), data[:200]
            assert orjson.loads(body)["error"]["code"] == "request_timeout"
        for s in sockets:
            s.close()
        sockets.clear()

        deadline = time.monotonic() + 10
        while fds(proc.pid) > baseline and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fds(proc.pid) <= baseline, f"{fds(proc.pid)} file descriptors open, {baseline} before"
        assert httpx.get(f"{weir.url}/healthz").status_code == 200
    finally:
        for s in sockets:
            s.close()
        assert stop(proc) == 0, log.read_text()[-3000:]
