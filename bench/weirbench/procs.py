"""Process trees (CPU, RSS, peak RSS), a background RSS sampler, stopping, ports, readiness and host facts."""

from __future__ import annotations

import os
import platform
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(pid: int) -> float:
    """user+system CPU seconds of the process and all its live descendants."""
    total = 0.0
    for p in tree(pid):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_rss(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def tree_hwm(pid: int) -> int:
    """Sum of VmHWM (lifetime peak RSS) over the tree, bytes."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def tree_affinity(pid: int) -> dict[int, list[int]]:
    out = {}
    for p in tree(pid):
        try:
            out[p.pid] = sorted(p.cpu_affinity())
        except psutil.NoSuchProcess:
            pass
    return out


def tree_remote_addresses(pid: int) -> list[str]:
    """Remote ends of the tree's TCP connections that are not loopback (should always be empty)."""
    bad = set()
    for p in tree(pid):
        try:
            for c in p.net_connections(kind="inet"):
                if c.raddr and not (c.raddr.ip.startswith("127.") or c.raddr.ip in ("::1", "::ffff:127.0.0.1")):
                    bad.add(f"{c.raddr.ip}:{c.raddr.port}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return sorted(bad)


class Sampler(threading.Thread):
    """Peak summed RSS of a process tree, sampled every `interval` seconds until stop()."""

    def __init__(self, pid: int | None, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while self.pid and not self._halt.wait(self.interval):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=2)
        if self.pid:
            self.peak = max(self.peak, tree_rss(self.pid))
        return self.peak


def cpu_busy(cpus: str) -> float:
    """Busy (non-idle, non-iowait) seconds of the given CPUs since boot, from /proc/stat."""
    per = psutil.cpu_times(percpu=True)
    total = 0.0
    for c in cpus.split(","):
        t = per[int(c)]
        total += sum(t) - t.idle - getattr(t, "iowait", 0.0)
    return total


def children_cpu() -> float:
    """CPU seconds used by this process's reaped children (wrk, sseload)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def stop_tree(proc: subprocess.Popen | None, sig: int = signal.SIGINT, timeout: float = 15.0) -> int | None:
    """Stop a process we started and every descendant of it, by pid: `sig` first, SIGKILL for stragglers."""
    if proc is None:
        return None
    pids = [p.pid for p in tree(proc.pid)]
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
    for pid in reversed(pids):
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=timeout)
    return proc.returncode


def wait_http(
    url: str,
    proc: subprocess.Popen | None,
    timeout: float,
    log: Path | None = None,
    headers: dict[str, str] | None = None,
    ok: Callable[[int, bytes], bool] = lambda status, body: status == 200,
) -> None:
    """GET `url` until `ok(status, body)`; raise if `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered:\n{tail}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if ok(r.status, r.read()):
                    return
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (OSError, urllib.error.URLError) as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s ({last})")


def host_info() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def pin_self(cpus: str) -> None:
    try:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    except (OSError, ValueError):
        pass
