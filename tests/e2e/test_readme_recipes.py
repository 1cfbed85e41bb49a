"""Every recipe in README.md, run as written against a fresh gateway on the embedded defaults, so none can drift.

The gateway is `weir serve` with no configuration in a new data directory (what `scripts/serve` starts); its
first start prints the demo key, which the recipes use. What runs:
- every ```sh block that calls `curl`, in bash with `set -euo pipefail`, where `curl` fails on an HTTP error
  status (`--fail-with-body` is added); its output must hold no error object or error event either;
- every ```python block, with the environment that a ```sh block of `export` lines just before it (in the same
  section) sets; it must exit 0.
The other ```sh blocks (scripts/serve, the benchmarks, the Claude Code, Codex and Gemini CLI set-ups) start
long-running programs: those clients have their own end-to-end tests.

Each block starts with WEIR and WEIR_KEY set as the first recipe's `export` sets them, WEIR_DATA_DIR set to
the gateway's data directory, so that `scripts/weir` works on its database, and WEIR_ADMIN_TOKEN set to the token
the gateway was started with (the embedded defaults read it), as the Management API section says. It runs in a
fresh directory whose `scripts/` is the checkout's, so the files recipes write (weir.png, hello.wav) land there.
The only changes made to the README's text are these two substitutions:
    sk-weir_...        ->  the demo key the first start printed
    127.0.0.1:8080     ->  the test gateway's address (a free port)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import ROOT, free_port, start, stop, wait_http

README = ROOT / "README.md"
KEY_PLACEHOLDER = "sk-weir_..."
ADDRESS = "127.0.0.1:8080"
ADMIN_TOKEN = "readme-admin-token-0123456789abcdef"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
HEADING = re.compile(r"^#{2,3} (.+)$", re.M)
# An error object (OpenAI's, Anthropic's, Google's), or a stream's error event: what a 200 may still carry.
ERROR_SIGN = re.compile(r'"error":\s*\{|^event: (error|response\.failed)$', re.M)


@dataclass
class Block:
    section: str
    language: str
    text: str
    env_block: str | None = None  # python blocks: the export-only sh block just before, if any

    @property
    def name(self) -> str:
        return f"{self.section} ({self.language})"


def _exports_only(text: str) -> bool:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return all(not line or line.startswith("export ") for line in lines) and any(lines)


def readme_blocks() -> list[Block]:
    text = README.read_text()
    headings = [(m.start(), m.group(1)) for m in HEADING.finditer(text)]
    blocks: list[Block] = []
    previous: Block | None = None
    for match in FENCE.finditer(text):
        section = next((title for at, title in reversed(headings) if at < match.start()), "top")
        block = Block(section, match.group(1), match.group(2))
        if block.language == "python" and previous is not None and previous.section == section:
            if previous.language == "sh" and _exports_only(previous.text):
                block.env_block = previous.text
        blocks.append(block)
        previous = block
    return blocks


def recipes() -> list[Block]:
    found = [b for b in readme_blocks() if (b.language == "sh" and "curl " in b.text) or b.language == "python"]
    names = [b.name for b in found]
    for i, block in enumerate(found):  # unique ids for blocks of one section
        if names.count(block.name) > 1:
            block.section += f" #{names[: i + 1].count(block.name)}"
    return found


@dataclass
class Gateway:
    url: str
    key: str
    data_dir: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    home = tmp_path_factory.mktemp("readme")
    port = free_port()
    log = home / "serve.log"
    env = {"WEIR_DATA_DIR": str(home / "data"), "WEIR_CONFIG": "", "WEIR_ADMIN_TOKEN": ADMIN_TOKEN}
    proc = start([sys.executable, "-m", "weir", "serve", "--port", str(port)], log, env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        found = re.search(r"\n  (sk-weir_\S+)\n", log.read_text())
        assert found, log.read_text()
        yield Gateway(f"http://127.0.0.1:{port}", found.group(1), home / "data")
    finally:
        assert stop(proc) == 0, log.read_text()[-4000:]


def substitute(text: str, gateway: Gateway) -> str:
    return text.replace(KEY_PLACEHOLDER, gateway.key).replace(ADDRESS, gateway.url.removeprefix("http://"))


def workdir(base: Path) -> Path:
    """A fresh directory whose scripts/ is the checkout's, and a bin/ with a curl that fails on HTTP errors."""
    (base / "scripts").symlink_to(ROOT / "scripts")
    curl = shutil.which("curl")
    assert curl, "the recipes need curl (scripts/test installs it)"
    (base / "bin").mkdir()
    wrapper = base / "bin" / "curl"
    wrapper.write_text(f'#!/bin/sh\nexec {curl} --fail-with-body "$@"\n')
    wrapper.chmod(0o755)
    return base


def run(script: str, cwd: Path, gateway: Gateway) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{cwd / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "WEIR": gateway.url,
        "WEIR_KEY": gateway.key,
        "WEIR_DATA_DIR": str(gateway.data_dir),
        "WEIR_CONFIG": "",
        "WEIR_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.parametrize("block", recipes(), ids=lambda b: b.name)
def test_readme_recipe(block: Block, gateway: Gateway, tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    if block.language == "sh":
        script = "set -euo pipefail\n" + substitute(block.text, gateway)
    else:
        (cwd / "example.py").write_text(substitute(block.text, gateway))
        script = "set -euo pipefail\n" + substitute(block.env_block or "", gateway)
        script += f"\nexec {sys.executable} example.py\n"
    done = run(script, cwd, gateway)
    shown = f"--- the recipe, as run:\n{script}\n--- stdout:\n{done.stdout[-4000:]}\n--- stderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, shown
    assert done.stdout.strip(), shown
    assert not ERROR_SIGN.search(done.stdout), shown


def test_the_recipes_are_found() -> None:
    """The README's recipe sections are all collected: a change of fence or heading must not drop them silently."""
    sections = {b.section.split(" #")[0] for b in recipes()}
    expected = {
        "Recipes",
        "Anthropic Messages with curl",
        "OpenAI Responses with curl",
        "Gemini API with curl",
        "Embeddings, images and audio",
        "The anthropic SDK",
        "The openai SDK",
        "The google-genai SDK",
        "Key owners: `/v1/account` with a management key",
        "Operators: `/admin/v1` with an admin token",
    }
    assert expected <= sections, sections
    openai_sdk = next(b for b in recipes() if b.section == "The openai SDK")
    assert openai_sdk.env_block is not None and "OPENAI_BASE_URL" in openai_sdk.env_block
