"""Claude Code (npm `@anthropic-ai/claude-code`) as a test client: install it, find it, run it headless.

The version is pinned by tests/e2e/node/package.json and package-lock.json; `install()` runs `npm ci` there when
node_modules lacks that version (once per machine, under a lock so concurrent test sessions do not collide).

`run()` starts `claude -p` in a fresh HOME and config directory, with only the variables it sets (nothing from
the caller's environment but PATH leaks in: no ANTHROPIC_* or proxy settings of the developer's), and keeps it
offline: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 stops its calls to Anthropic's own hosts (without it, it
resolves and connects to api.anthropic.com), and two guards report any attempt that still happens:
HTTP(S)_PROXY points at a loopback trap that records every CONNECT/request it is handed (NO_PROXY exempts
loopback), and, where strace works, every connect()/sendto() of the process tree is traced and any address other
than loopback (or any DNS port) is reported as egress.
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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.processes import ROOT

NODE_DIR = ROOT / "tests" / "e2e" / "node"
PACKAGE = "@anthropic-ai/claude-code"
NPM_TIMEOUT = 540.0


def pinned_version() -> str:
    return str(json.loads((NODE_DIR / "package.json").read_text())["dependencies"][PACKAGE])


def _version_of(binary: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.strip() else None


def locate() -> Path | None:
    """The installed `claude` binary of the pinned version, or None.

    The npm package's bin is a placeholder that its postinstall replaces with the native binary of the
    platform package (an optional dependency); if npm did not run the postinstall, that binary is used directly.
    """
    modules = NODE_DIR / "node_modules"
    candidates = [modules / ".bin" / "claude", *sorted(modules.glob("@anthropic-ai/claude-code-*/claude"))]
    want = pinned_version()
    for binary in candidates:
        if binary.is_file() and _version_of(binary) == want:
            return binary
    return None


@cache
def install() -> Path:
    """Install the pinned Claude Code with `npm ci` unless it is there already; return the `claude` binary."""
    digest = hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"weir-claude-code-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = locate()
        if found is not None:
            return found
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"npm is not installed: it is needed to install {PACKAGE}@{pinned_version()} for the Claude Code "
                "end-to-end test (install Node.js and npm, e.g. `apt-get install nodejs npm`)"
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
        # node_modules must never be committed (it holds a ~380 MB binary), whatever the repository's .gitignore.
        (NODE_DIR / "node_modules" / ".gitignore").write_text("*\n")
        found = locate()
        if found is None:
            raise RuntimeError(
                f"`npm ci` in {NODE_DIR} succeeded but left no runnable claude {pinned_version()}:\n{proc.stderr}"
            )
        return found


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
        self._thread = threading.Thread(target=self._serve, name="claude-code-proxy-trap", daemon=True)
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


@dataclass
class ClaudeRun:
    args: list[str]
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    session_id: str
    egress: list[str] = field(default_factory=list)  # proxy-trap requests and traced non-loopback addresses
    traced: bool = False
    debug_log: Path | None = None

    def api_errors(self) -> list[str]:
        """Every failed API attempt and recovery Claude Code logged: its JSON result only tells the last one
        (after a 400 it retries with fewer betas and without deferred tools, so that may be another error)."""
        if self.debug_log is None or not self.debug_log.exists():
            return []
        lines = self.debug_log.read_text(errors="replace").splitlines()
        return [line for line in lines if "API error" in line or "HTTP 4" in line or "HTTP 5" in line]

    @property
    def output(self) -> dict[str, Any]:
        """The `--output-format json` result object: `result` holds the answer text, `is_error` and
        `api_error_status` tell failures (an API error makes `result` "API Error: <status> <message>")."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise AssertionError(f"claude printed nothing on stdout\n{self.describe()}")
        try:
            parsed = json.loads(lines[-1])
        except ValueError as e:
            raise AssertionError(f"claude's stdout is not JSON\n{self.describe()}") from e
        assert isinstance(parsed, dict), self.describe()
        return parsed

    def describe(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()) if k != "PATH")
        return (
            f"$ {env} {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}\n--- egress\n{self.egress}\n"
            f"--- API errors in {self.debug_log}\n" + "\n".join(line[:1000] for line in self.api_errors()[:20])
        )


def environment(home: Path, base_url: str, token: str, model: str, proxy: str) -> dict[str, str]:
    """Everything Claude Code gets: a throwaway home, the gateway, one model for every tier, no egress."""
    dirs = {
        "CLAUDE_CONFIG_DIR": home / ".claude",
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
        # The gateway, without /v1: Claude Code appends /v1/messages?beta=true. An auth token goes out as
        # `Authorization: Bearer`; ANTHROPIC_API_KEY (sent as x-api-key) stays unset.
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": token,
        # Every model tier, background and subagent calls included, goes to the model under test.
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
        # Offline: no telemetry, error reports, update checks or other calls to Anthropic's hosts.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        # A failed call fails the run at once instead of being retried with backoff (and billed twice).
        "CLAUDE_CODE_MAX_RETRIES": "0",
        # Whatever still tries to leave the machine over HTTP(S) lands in the trap.
        **{name: proxy for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
        **{name: "127.0.0.1,localhost,::1" for name in ("NO_PROXY", "no_proxy")},
    }


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(
    binary: Path, *, base_url: str, token: str, model: str, prompt: str, home: Path, timeout: float = 90.0
) -> ClaudeRun:
    """`claude -p PROMPT` headless (stdin closed, JSON result on stdout, no permission prompts), one turn."""
    session_id = str(uuid.uuid4())
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    debug_log = home / "claude-debug.log"
    args = [
        str(binary),
        "-p",
        prompt,
        "--model",
        model,
        "--output-format",
        "json",
        "--max-turns",
        "1",
        "--permission-mode",
        "dontAsk",
        "--strict-mcp-config",
        "--no-session-persistence",
        "--session-id",
        session_id,
        "--debug-file",  # every API attempt and its error, for failure messages
        str(debug_log),
    ]
    trace_file = home / "strace.txt"
    tracer = strace()
    command = (
        [tracer, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace_file), *args] if tracer else args
    )
    with proxy_trap() as trap:
        env = environment(home, base_url, token, model, trap.url)
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout kills the whole group: strace, claude and anything it started
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            stdout, stderr = proc.communicate()
            stderr += f"\n(killed after {timeout:.0f}s)"
        _kill_group(proc.pid)  # nothing it started outlives the run
        egress = [f"proxy trap: {line}" for line in trap.seen]
    if tracer:
        egress += [f"strace: {line}" for line in egress_in_trace(trace_file.read_text(errors="replace"))]
    return ClaudeRun(args, env, proc.returncode, stdout, stderr, session_id, egress, tracer is not None, debug_log)
