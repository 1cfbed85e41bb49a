"""Codex CLI (npm `@openai/codex`) as a test client: find it, configure it for a gateway, run `codex exec` headless.

Codex speaks only the OpenAI Responses API to custom providers (`wire_api = "responses"`): each turn is one
`POST {base_url}/responses` with `stream: true` and the key from `env_key` as `Authorization: Bearer`. Its system
prompt travels as `developer` messages in `input` (no `instructions`), and its tools are flat functions plus a
`namespace` tool (sub-agents) and the hosted `web_search` tool, which a gateway must carry or drop when it
translates.

`run()` gives it a fresh HOME and CODEX_HOME holding one config.toml (checked with `--strict-config`, so a key this
version does not know fails the run instead of being ignored) and keeps it offline. With a custom provider Codex
calls no OpenAI host, but its plugin features sync a curated plugin list from GitHub and chatgpt.com at every
start: those features are off, and the proxy trap and strace of tests/support/node_clients.py report anything
else that tries to leave the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tests.support import node_clients
from tests.support.node_clients import HeadlessRun

PACKAGE = "@openai/codex"
KEY_VARIABLE = "WEIR_KEY"


def pinned_version() -> str:
    return node_clients.pinned_version(PACKAGE)


def locate() -> Path | None:
    """The installed `codex` of the pinned version, or None: the native binary of the platform package (an
    optional dependency, `@openai/codex-linux-x64` here) if there is one, else the package's node launcher."""
    modules = node_clients.MODULES
    native = sorted(modules.glob("@openai/codex-*/vendor/*/bin/codex"))
    return node_clients.first_runnable([*native, modules / ".bin" / "codex"], pinned_version())


@cache
def install() -> Path:
    """Install the pinned Codex CLI with `npm ci` unless it is there already; return the `codex` binary."""
    return node_clients.install(PACKAGE, locate)


def config_toml(base_url: str, model: str) -> str:
    """A config.toml that sends every turn to the gateway at `base_url` (ending in /v1) and nowhere else."""
    return f"""\
model = "{model}"
model_provider = "weir"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.weir]
name = "Weir"
base_url = "{base_url}"
wire_api = "responses"
env_key = "{KEY_VARIABLE}"
# A failed call fails the run at once instead of being retried (and billed again); a stalled stream fails
# well within the test's time limit.
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 30000

[analytics]
enabled = false

[feedback]
enabled = false

[features]
# The curated plugin sync reaches github.com, api.github.com and chatgpt.com at start-up.
plugins = false
remote_plugin = false
apps = false
"""


def environment(home: Path, key: str, proxy: str) -> dict[str, str]:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    return {
        **node_clients.isolated_environment(home, proxy),
        "CODEX_HOME": str(codex_home),
        KEY_VARIABLE: key,
    }


@dataclass
class CodexRun(HeadlessRun):
    last_message_file: Path | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """The `--json` event lines: thread.started, turn.started, item.completed {item: {type: agent_message |
        reasoning | error | ...}}, turn.completed {usage} or turn.failed {error}, error {message}."""
        events = []
        for line in self.stdout.splitlines():
            if line.strip():
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise AssertionError(f"codex printed a line that is not JSON: {line!r}\n{self.describe()}") from e
                assert isinstance(event, dict), self.describe()
                events.append(event)
        return events

    @property
    def last_message(self) -> str:
        """The final agent message, as `--output-last-message` wrote it ("" if it wrote none)."""
        if self.last_message_file is None or not self.last_message_file.exists():
            return ""
        return self.last_message_file.read_text()

    def agent_messages(self) -> list[str]:
        return [
            str(e["item"].get("text", ""))
            for e in self.events
            if e.get("type") == "item.completed" and e["item"].get("type") == "agent_message"
        ]

    def usage(self) -> dict[str, Any] | None:
        """turn.completed's token counts (Codex takes them from response.completed's usage)."""
        done = [e for e in self.events if e.get("type") == "turn.completed"]
        return dict(done[-1]["usage"]) if done and isinstance(done[-1].get("usage"), dict) else None

    def failures(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") in ("turn.failed", "error")]


def run(
    binary: Path, *, base_url: str, key: str, model: str, prompt: str, home: Path, timeout: float = 60.0
) -> CodexRun:
    """`codex exec PROMPT` headless: no stdin, JSON events on stdout, no approvals, a read-only sandbox, nothing
    persisted; `base_url` is the gateway's OpenAI base (ending in /v1)."""
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    (home / ".codex").mkdir(parents=True, exist_ok=True)
    (home / ".codex" / "config.toml").write_text(config_toml(base_url, model))
    last_message = home / "last-message.txt"
    args = [
        str(binary),
        "exec",
        "--strict-config",
        "--skip-git-repo-check",
        "--ephemeral",
        "--json",
        "--color",
        "never",
        "--model",
        model,
        "--cd",
        str(workdir),
        "--output-last-message",
        str(last_message),
        prompt,
    ]
    done = node_clients.run(
        args,
        environment=lambda proxy: environment(home, key, proxy),
        cwd=workdir,
        trace_file=home / "strace.txt",
        timeout=timeout,
    )
    return CodexRun(**vars(done), last_message_file=last_message)
