"""Claude Code (npm `@anthropic-ai/claude-code`) as a test client: find it, run it headless.

Installing it (the pinned version, with the other npm CLIs, by one `npm ci`) and the offline guards (a proxy trap,
strace) are tests/support/node_clients.py's. `run()` starts `claude -p` in a fresh HOME and config directory and
keeps it offline: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 stops its calls to Anthropic's own hosts (without it,
it resolves and connects to api.anthropic.com), and the guards report any attempt that still happens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tests.support import node_clients
from tests.support.node_clients import HeadlessRun

PACKAGE = "@anthropic-ai/claude-code"
NPM_TIMEOUT = node_clients.NPM_TIMEOUT


def pinned_version() -> str:
    return node_clients.pinned_version(PACKAGE)


def locate() -> Path | None:
    """The installed `claude` binary of the pinned version, or None.

    The npm package's bin is a placeholder that its postinstall replaces with the native binary of the
    platform package (an optional dependency); if npm did not run the postinstall, that binary is used directly.
    """
    modules = node_clients.MODULES
    candidates = [modules / ".bin" / "claude", *sorted(modules.glob("@anthropic-ai/claude-code-*/claude"))]
    return node_clients.first_runnable(candidates, pinned_version())


@cache
def install() -> Path:
    """Install the pinned Claude Code with `npm ci` unless it is there already; return the `claude` binary."""
    return node_clients.install(PACKAGE, locate)


@dataclass
class ClaudeRun(HeadlessRun):
    session_id: str = ""
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
            parsed = orjson.loads(lines[-1])
        except orjson.JSONDecodeError as e:
            raise AssertionError(f"claude's stdout is not JSON\n{self.describe()}") from e
        assert isinstance(parsed, dict), self.describe()
        return parsed

    def describe(self) -> str:
        return (
            super().describe()
            + f"--- API errors in {self.debug_log}\n"
            + "\n".join(line[:1000] for line in self.api_errors()[:20])
        )


def environment(home: Path, base_url: str, token: str, model: str, proxy: str) -> dict[str, str]:
    """Everything Claude Code gets: a throwaway home, the gateway, one model for every tier, no egress."""
    claude_dir = home / ".claude"
    claude_dir.mkdir(parents=True, exist_ok=True)
    return {
        **node_clients.isolated_environment(home, proxy),
        "CLAUDE_CONFIG_DIR": str(claude_dir),
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
    }


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
    done = node_clients.run(
        args,
        environment=lambda proxy: environment(home, base_url, token, model, proxy),
        cwd=workdir,
        trace_file=home / "strace.txt",
        timeout=timeout,
    )
    return ClaudeRun(**vars(done), session_id=session_id, debug_log=debug_log)
