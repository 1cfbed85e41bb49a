"""Start real servers as child processes on loopback, wait until they answer, stop them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env, cwd=ROOT
        )
    _logs[proc.pid] = log
    return proc


_logs: dict[int, Path] = {}


class WorkerKilled(UserWarning):
    """granian killed a worker that had not stopped within server.shutdown_timeout_seconds (shown, never an error)."""


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (children first), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def unstopped_workers(log: str) -> list[int]:
    """The workers granian spawned that never logged Weir's "stopped in": killed before their lifespan ended.
    (granian also "kills" a worker whose lifespan has ended but whose process is still closing its sockets when
    granian looks; that one is not counted.)"""
    spawned = [int(pid) for pid in re.findall(r"Spawning worker-\d+ with PID: (\d+)", log)]
    return [pid for pid in spawned if f"weir: worker {pid} stopped in " not in log]


def stop(proc: subprocess.Popen[bytes], timeout: float = 40.0) -> int:
    """SIGINT, then SIGKILL after `timeout` seconds; a process that had to be killed leaves on stderr (shown with
    the failing test) the stacks its Weir workers dumped on SIGUSR1 and the end of its log.

    The timeout is above `server.shutdown_timeout_seconds`' default (30 s): granian kills a worker that has not
    stopped by then (granian can deadlock dropping a worker's runtime, emmett-framework/granian#875), and a test
    that saw that gets a warning that names it instead of a failure."""
    started = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stuck = descendants(proc.pid)
            for pid in stuck:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGUSR1)
            time.sleep(1.0)
            proc.kill()
            proc.wait()
            for pid in stuck:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            log = _logs.get(proc.pid)
            tail = log.read_text(errors="replace")[-12000:] if log is not None else "(no log)"
            sys.stderr.write(f"{proc.args!r} did not stop within {timeout}s; killed {stuck}. Its log ends:\n{tail}\n")
    log = _logs.pop(proc.pid, None)
    text = log.read_text(errors="replace") if log is not None else ""
    if "refused to gracefully stop" in text and (unfinished := unstopped_workers(text)):
        lines = [line for line in text.splitlines() if line.startswith("[")][-20:]  # granian's and Weir's own
        said = "\n".join(lines)
        took = time.monotonic() - started
        killed = WorkerKilled(
            f"granian killed workers {unfinished} of {proc.args!r} (the stop took {took:.1f}s):\n{said}"
        )
        warnings.warn(killed, stacklevel=2)
    return proc.returncode


def granian(target: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return start([*args, "--no-ws", target], log)
