"""The npm-packaged CLIs the end-to-end tests drive (Claude Code, Codex CLI, Gemini CLI): one pinned install for
all of them, and one way to run any of them headless and offline.

The versions are pinned by tests/e2e/node/package.json and package-lock.json. `install()` runs `npm ci` there when
the asked-for CLI is missing or of another version (once per machine, under a lock so concurrent test sessions do
not collide); one `npm ci` installs every CLI, each with its native binary from a platform package (an optional
dependency), so nothing is downloaded after the install.

`run()` starts a CLI with only the variables its harness gives it (nothing from the caller's environment but PATH:
no provider keys or proxy settings of the developer's), no stdin, a time limit that kills its whole process group,
and two guards that report any attempt to leave the machine: HTTP(S)_PROXY points at a loopback trap that records
every CONNECT/request it is handed (NO_PROXY exempts loopback), and, where strace works, every
connect()/sendto()/sendmsg() of the process tree is traced and any address other than loopback (or any DNS port)
is reported as egress.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.support.processes import ROOT

NODE_DIR = ROOT / "tests" / "e2e" / "node"
MODULES = NODE_DIR / "node_modules"
NPM_TIMEOUT = 540.0


def pinned_version(package: str) -> str:
    return str(json.loads((NODE_DIR / "package.json").read_text())["dependencies"][package])


def reports_version(command: list[str], want: str) -> bool:
    """Whether `command --version` runs and names exactly `want` (as one word: `codex-cli 0.169.0`, `0.61.0`)."""
    try:
        out = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and want in out.stdout.split()


def first_runnable(candidates: list[Path], want: str) -> Path | None:
    for binary in candidates:
        if binary.is_file() and reports_version([str(binary)], want):
            return binary
    return None


def install(package: str, locate: Callable[[], Path | None]) -> Path:
    """Install the pinned CLIs with `npm ci` unless `locate()` finds `package`'s already; return its binary."""
    digest = hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"weir-node-clients-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = locate()
        if found is not None:
            return found
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"npm is not installed: it is needed to install {package}@{pinned_version(package)} for the "
                "end-to-end client tests (install Node.js and npm, e.g. `apt-get install nodejs npm`)"
            )
        args = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            proc = subprocess.run(
                args, cwd=NODE_DIR, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=NPM_TIMEOUT
            )
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"`npm ci` in {NODE_DIR} took more than {NPM_TIMEOUT:.0f}s") from e
        if proc.returncode != 0:
            raise RuntimeError(f"`npm ci` in {NODE_DIR} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        # node_modules must never be committed (it holds ~870 MB of binaries), whatever the repository's .gitignore.
        (MODULES / ".gitignore").write_text("*\n")
        found = locate()
        if found is None:
            raise RuntimeError(
                f"`npm ci` in {NODE_DIR} succeeded but left no runnable {package} {pinned_version(package)}:\n"
                f"{proc.stderr}"
            )
        return found


def node_major() -> int | None:
    """The major version of the `node` on PATH (the JavaScript CLIs need one), or None if there is none."""
    try:
        out = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"v(\d+)\..*", out.stdout.strip())
    return int(match.group(1)) if out.returncode == 0 and match else None


class ProxyTrap:
    """A loopback 'proxy' that refuses everything and remembers the first line of each request it was sent."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="node-client-proxy-trap", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    head = conn.recv(4096)
                except OSError:
                    head = b""
                self.seen.append(head.split(b"\r\n", 1)[0].decode("latin-1") or "(connection without a request)")
                try:
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@contextmanager
def proxy_trap() -> Iterator[ProxyTrap]:
    trap = ProxyTrap()
    try:
        yield trap
    finally:
        trap.close()


@cache
def strace() -> str | None:
    """The strace binary if it can trace here (ptrace may be forbidden in some sandboxes)."""
    path = shutil.which("strace")
    if path is None:
        return None
    try:
        ok = subprocess.run(
            [path, "-f", "-qq", "-e", "trace=connect", "-o", os.devnull, "true"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if ok.returncode == 0 else None


_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


def egress_in_trace(trace: str) -> list[str]:
    """strace lines where the process addressed anything but loopback, or a DNS port anywhere."""
    bad = []
    for line in trace.splitlines():
        if "sa_family=AF_INET" not in line:
            continue
        port = _PORT.search(line)
        for v4, v6 in _ADDRESS.findall(line):
            address = ipaddress.ip_address(v4 or v6)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not address.is_loopback or (port is not None and port.group(1) == "53"):
                bad.append(line.strip())
    return bad


def isolated_environment(home: Path, proxy: str) -> dict[str, str]:
    """The variables every CLI gets: a throwaway home and XDG/temp directories in it, and the proxy trap."""
    dirs = {
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
        "TMPDIR": home / "tmp",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        **{name: str(path) for name, path in dirs.items()},
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        # Whatever still tries to leave the machine over HTTP(S) lands in the trap.
        **{name: proxy for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy")},
        **{name: "127.0.0.1,localhost,::1" for name in ("NO_PROXY", "no_proxy")},
    }


@dataclass
class HeadlessRun:
    args: list[str]
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    egress: list[str] = field(default_factory=list)  # proxy-trap requests and traced non-loopback addresses
    traced: bool = False

    def describe(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()) if k != "PATH")
        return (
            f"$ {env} {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}\n--- egress\n{self.egress}\n"
        )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(
    args: list[str], *, environment: Callable[[str], dict[str, str]], cwd: Path, trace_file: Path, timeout: float
) -> HeadlessRun:
    """Run `args` in `cwd` with `environment(proxy_trap_url)` and no stdin; kill it and its children after
    `timeout` seconds (and once it exits: nothing it started outlives the run)."""
    tracer = strace()
    command = (
        [tracer, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace_file), *args] if tracer else args
    )
    with proxy_trap() as trap:
        env = environment(trap.url)
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout kills the whole group: strace, the CLI and anything it started
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            stdout, stderr = proc.communicate()
            stderr += f"\n(killed after {timeout:.0f}s)"
        _kill_group(proc.pid)
        egress = [f"proxy trap: {line}" for line in trap.seen]
    if tracer:
        egress += [f"strace: {line}" for line in egress_in_trace(trace_file.read_text(errors="replace"))]
    return HeadlessRun(args, env, proc.returncode, stdout, stderr, egress, tracer is not None)
