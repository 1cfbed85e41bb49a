"""Throwaway Redis servers for the tests (the Debian `redis-server` package; scripts/test installs it).

``redis_server`` (session): one `redis-server` on a free loopback port, no persistence, in a temporary directory,
stopped and removed at the end. ``redis_url`` (per test): its URL, with the database flushed first.
``redis_factory`` (per test): servers of the test's own, for tests that stop, pause or restart one (outages).

Without the binary the fixtures fail (they never skip) and say what to install.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

INSTALL_HINT = (
    "redis-server was not found on PATH: install it to run these tests (Debian/Ubuntu: `apt-get install "
    "redis-server`; scripts/test does), or point WEIR_REDIS_SERVER at the binary"
)


def _binary() -> str | None:
    return os.environ.get("WEIR_REDIS_SERVER") or shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; `stop`, `start`, `pause` and `resume` it to make outages."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary, self.root = binary, root
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port once it has one)."""
        for _attempt in range(3):  # a free port may be taken between choosing and binding it
            port = self.port or _free_port()
            args = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            args += ["--dir", str(self.root), "--daemonize", "no", "--protected-mode", "no"]
            with (self.root / "server.log").open("ab") as log:
                proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None and not _ping(port):
                time.sleep(0.02)
            if proc.poll() is None and _ping(port):
                self.proc, self.port = proc, port
                return
            proc.kill()
            proc.wait()
        log_text = (self.root / "server.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"could not start redis-server:\n{log_text}", pytrace=False)

    def stop(self) -> None:
        """Kill it at once (SIGKILL: what a crash looks like to clients)."""
        if self.proc is not None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def pause(self) -> None:
        """SIGSTOP: it accepts connections but answers nothing (redis-py #3555's stalled server)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)


@contextmanager
def throwaway_redis() -> Iterator[RedisServer]:
    binary = _binary()
    if binary is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="weir-redis-"))
    server = RedisServer(binary, root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with throwaway_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, its database flushed for this test."""
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as sock:
        sock.sendall(b"FLUSHDB\r\n")
        assert sock.recv(16).startswith(b"+OK")
    return redis_server.url


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], RedisServer]]:
    """Servers of this test's own (outage tests stop and pause them)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(throwaway_redis())
