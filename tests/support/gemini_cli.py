"""Gemini CLI (npm `@google/gemini-cli`) as a test client: find it, point it at a gateway, run `gemini -p` headless.

Gemini CLI reaches a gateway through the google-genai JS SDK: GOOGLE_GEMINI_BASE_URL replaces
generativelanguage.googleapis.com, GEMINI_API_KEY goes out as `x-goog-api-key`, and a one-turn prompt is one
`POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse` (GOOGLE_GENAI_API_VERSION=v1 makes it /v1/...),
whose function declarations carry `parametersJsonSchema` (full JSON Schema), not `parameters`.

The auth type is set in settings.json ("gemini-api-key"): with only GOOGLE_GEMINI_BASE_URL in the environment,
this version picks its "gateway" auth type, which its own headless check then rejects ("Invalid auth method
selected.", exit 41). The same settings turn off usage statistics, telemetry, update checks and the IDE
companion; `--skip-trust` trusts the throwaway working directory. The proxy trap and strace of
tests/support/node_clients.py report anything that still tries to leave the machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tests.support import node_clients
from tests.support.node_clients import HeadlessRun

PACKAGE = "@google/gemini-cli"
MIN_NODE = 20  # the package's engines.node
SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "ide": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
}


def pinned_version() -> str:
    return node_clients.pinned_version(PACKAGE)


def locate() -> Path | None:
    """The installed `gemini` launcher (a node script) of the pinned version, or None."""
    modules = node_clients.MODULES
    candidates = [modules / ".bin" / "gemini", modules / "@google" / "gemini-cli" / "bundle" / "gemini.js"]
    return node_clients.first_runnable(candidates, pinned_version())


@cache
def install() -> Path:
    """Install the pinned Gemini CLI with `npm ci` unless it is there already; return the `gemini` launcher."""
    major = node_clients.node_major()
    if major is None or major < MIN_NODE:
        raise RuntimeError(
            f"{PACKAGE}@{pinned_version()} needs Node.js >= {MIN_NODE} on PATH, found "
            f"{'none' if major is None else major}"
        )
    return node_clients.install(PACKAGE, locate)


def environment(
    home: Path, base_url: str, key: str, api_version: str | None, max_turns: int | None, proxy: str
) -> dict[str, str]:
    settings_dir = home / ".gemini"
    settings_dir.mkdir(parents=True, exist_ok=True)
    # maxSessionTurns bounds a tool loop: one more model turn ends the run with exit code 53.
    settings = SETTINGS if max_turns is None else {**SETTINGS, "model": {"maxSessionTurns": max_turns}}
    (settings_dir / "settings.json").write_bytes(orjson.dumps(settings, option=orjson.OPT_INDENT_2))
    env = {
        **node_clients.isolated_environment(home, proxy),
        "GOOGLE_GEMINI_BASE_URL": base_url,  # the gateway's root: the SDK appends /v1beta/models/...
        "GEMINI_API_KEY": key,
        "NO_COLOR": "1",
        # The launcher re-executes itself in a child node with a larger heap; this keeps it in one process
        # (as the CLI's own sandbox does), which starts in half the time.
        "GEMINI_CLI_NO_RELAUNCH": "true",
    }
    if api_version is not None:
        env["GOOGLE_GENAI_API_VERSION"] = api_version
    return env


@dataclass
class GeminiRun(HeadlessRun):
    @property
    def output(self) -> dict[str, Any]:
        """The `--output-format json` object: `response` holds the answer text, `stats.models` the token counts
        per model the API reported, `error` {type, message, code} a failure (printed on stderr, not stdout)."""
        for stream in (self.stdout, self.stderr):
            # The object is printed indented, from a line that is only "{" (after warnings, on stderr).
            start = 0 if stream.startswith("{") else stream.find("\n{\n") + 1
            if start == 0 and not stream.startswith("{"):
                continue
            try:
                parsed, _ = json.JSONDecoder().raw_decode(stream, start)
            except ValueError as e:
                raise AssertionError(f"gemini's JSON output does not parse\n{self.describe()}") from e
            assert isinstance(parsed, dict), self.describe()
            return parsed
        raise AssertionError(f"gemini printed no JSON object\n{self.describe()}")

    def tokens(self) -> dict[str, dict[str, Any]]:
        """stats.models.<model version>.tokens, by the model version the responses named."""
        models = self.output.get("stats", {}).get("models", {})
        return {name: dict(stats["tokens"]) for name, stats in models.items()}


def run(
    launcher: Path,
    *,
    base_url: str,
    key: str,
    model: str,
    prompt: str,
    home: Path,
    api_version: str | None = None,
    max_turns: int | None = None,
    timeout: float = 90.0,
) -> GeminiRun:
    """`gemini -p PROMPT` headless: no stdin, a JSON result on stdout, the default approval mode (tools that
    change anything are refused, as there is no one to approve them), at most `max_turns` model turns;
    `base_url` is the gateway's root URL."""
    workdir = home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    args = [str(launcher), "--prompt", prompt, "--model", model, "--output-format", "json", "--skip-trust"]
    done = node_clients.run(
        args,
        environment=lambda proxy: environment(home, base_url, key, api_version, max_turns, proxy),
        cwd=workdir,
        trace_file=home / "strace.txt",
        timeout=timeout,
    )
    return GeminiRun(**vars(done))
