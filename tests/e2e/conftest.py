"""A real `weir serve` (SQLite) in front of a real mock upstream, both on loopback, for the whole session."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.postgres import PostgresServer
from tests.support.processes import free_port, granian, start, stop, wait_http
from weir.admin.tokens import digest

PROVIDER_KEY = "sk-provider-canary-0123456789"
# The session gateway's operator tokens: one from the environment, one configured as its hash (sha256:...)
ADMIN_TOKEN = "admin-token-canary-0123456789abcdef"
HASHED_ADMIN_TOKEN = "hashed-admin-token-0123456789abcdef"
BYOK_KEY = "d2Vpci1lMmUtYnlvay1rZXktMDEyMzQ1Njc4OWFiY2Q="  # a Fernet key: 32 url-safe base64-encoded bytes
BYOK_FEE_PERCENT = 10
PRICE = {"input": 0.123, "cached_input": 0.0615, "output": 1.007}  # USD per 1M tokens; rounding matters


@dataclass
class Weir:
    url: str
    config: Path
    env: dict[str, str]
    upstream: str
    admin_token: str | None = None  # set when the configuration has [admin] tokens

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "weir", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"weir {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def new_key(self, account: str, balance_usd: str = "5", *extra: str) -> str:
        self.cli("accounts", "create", account, "--balance-usd", balance_usd)
        return self.cli("keys", "create", "--account", account, *extra).stdout.strip().splitlines()[-1]

    def generation(self, request_id: str, manager: str, wait: float = 10.0) -> dict[str, Any]:
        """GET /v1/generations/{request_id} with the management key `manager`, once the record is committed."""
        deadline = time.monotonic() + wait
        while True:
            found = httpx.get(f"{self.url}/v1/generations/{request_id}", headers={"authorization": f"Bearer {manager}"})
            if found.status_code != 404 or time.monotonic() > deadline:
                assert found.status_code == 200, found.text
                return found.json()  # type: ignore[no-any-return]
            time.sleep(0.05)

    def upstream_requests(self) -> list[dict[str, object]]:
        return httpx.get(f"{self.upstream}/_mock/requests").json()  # type: ignore[no-any-return]


MODELS = [  # (id, aliases, provider, upstream model)
    ("gpt-test", ["openai/gpt-test"], "mock", "mock-model"),
    ("tools-test", [], "mock", "mock-tools"),
    ("broken-test", [], "mock", "mock-error-500"),
    ("bad-test", [], "mock", "mock-error-400"),
    ("cut-test", [], "mock", "mock-cut"),
    ("long-test", [], "mock", "mock-long"),
    ("resp-long", [], "responses-mock", "mock-long"),  # a Responses stream that ignores its output budget
    ("claude-long", [], "anthropic-mock", "mock-long"),
    ("gemini-long", [], "gemini-mock", "mock-long"),
    ("down-test", [], "nowhere", "mock-model"),
    ("slow-test", [], "impatient", "mock-slow"),
    ("priced-test", [], "mock", "mock-model"),  # its prices are changed over the API (test_management_api.py)
    # Anthropic-dialect upstream (the mock's /v1/messages): reached by Anthropic clients as a passthrough, by
    # OpenAI clients through the canonical form.
    ("claude-test", ["claude-sonnet-test"], "anthropic-mock", "mock-model"),
    ("claude-tools", [], "anthropic-mock", "mock-tools"),
    ("claude-broken", [], "anthropic-mock", "mock-error-500"),
    ("claude-cut", [], "anthropic-mock", "mock-cut"),
    ("claude-pause", [], "anthropic-mock", "mock-pause"),
    # OpenAI Responses upstream (the mock's /v1/responses): Responses clients pass through, others translate.
    ("resp-test", [], "responses-mock", "mock-model"),
    ("resp-tools", [], "responses-mock", "mock-tools"),
    ("resp-broken", [], "responses-mock", "mock-error-500"),
    ("resp-cut", [], "responses-mock", "mock-cut"),
    ("resp-repeat", [], "responses-mock", "mock-repeat-id"),
    # Gemini upstream (the mock's /v1beta/models/{model}:generateContent): Gemini clients pass through.
    ("gemini-test", [], "gemini-mock", "mock-model"),
    ("gemini-tools", [], "gemini-mock", "mock-tools"),
    ("gemini-broken", [], "gemini-mock", "mock-error-500"),
    ("gemini-cut", [], "gemini-mock", "mock-cut"),
]
# One model per upstream dialect, and its tool-calling twin: the matrix every client is tested against.
UPSTREAM_DIALECTS = {
    "openai_chat": ("gpt-test", "tools-test"),
    "anthropic_messages": ("claude-test", "claude-tools"),
    "openai_responses": ("resp-test", "resp-tools"),
    "gemini": ("gemini-test", "gemini-tools"),
}

# The media endpoints' models (tests/e2e/test_media_endpoints.py), priced per token and per unit; rounding matters.
MEDIA_PRICE = {"input": 0.123, "output": 1.007, "image": 0.04, "character": 15.123, "second": 0.00012345}
MEDIA_MODELS = [  # (id, aliases, provider, upstream model)
    ("embed-test", ["openai/embed-test"], "mock", "mock-embed"),
    ("image-test", [], "mock", "mock-image"),
    ("image-tokens-test", [], "mock", "mock-image-tokens"),
    ("tts-test", [], "mock", "mock-tts"),
    ("tts-cut-test", [], "mock", "mock-speech-cut"),
    ("tts-slow-test", [], "mock", "mock-speech-slow"),
    ("stt-test", ["whisper-test"], "mock", "mock-whisper"),
    ("stt-tokens-test", [], "mock", "mock-transcribe-tokens"),
    ("media-bad-test", [], "mock", "mock-error-400"),
]


def write_config(
    path: Path,
    port: int,
    upstream: str,
    storage_url: str,
    data_dir: Path,
    server_extra: str = "",
    admin: bool = False,
) -> None:
    """The gateway's configuration; `server_extra` holds more `[server]` lines; `admin` adds the operator tokens
    ($WEIR_ADMIN_TOKEN and HASHED_ADMIN_TOKEN's hash)."""
    tokens = f'\n[admin]\ntokens = ["${{WEIR_ADMIN_TOKEN}}", "{digest(HASHED_ADMIN_TOKEN)}"]\n' if admin else ""
    price = f"{{ input = {PRICE['input']}, output = {PRICE['output']}, cached_input = {PRICE['cached_input']} }}"
    models = "".join(
        f"""
[[models]]
id = "{model_id}"
aliases = {json.dumps(aliases)}
price = {price}
routes = [{{ provider = "{provider}", model = "{upstream_model}" }}]
"""
        for model_id, aliases, provider, upstream_model in MODELS
    )
    media_price = "{ " + ", ".join(f"{k} = {v}" for k, v in MEDIA_PRICE.items()) + " }"
    models += "".join(
        f"""
[[models]]
id = "{model_id}"
aliases = {json.dumps(aliases)}
price = {media_price}
routes = [{{ provider = "{provider}", model = "{upstream_model}" }}]
"""
        for model_id, aliases, provider, upstream_model in MEDIA_MODELS
    )
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data_dir}"
max_body_bytes = 262144
max_upload_bytes = 1048576
keepalive_seconds = 0.5
{server_extra}
[storage]
url = "{storage_url}"

[auth]
pepper = "${{WEIR_TEST_PEPPER}}"
key_cache_ttl_seconds = 1
extra_key_headers = ["X-My-API-Key"]

[catalog]
show_provider = true

[billing]
byok_key = "{BYOK_KEY}"
byok_fee_percent = {BYOK_FEE_PERCENT}
{tokens}
[[providers]]
name = "mock"
dialect = "openai"
base_url = "{upstream}/v1"
api_keys = ["${{MOCK_PROVIDER_KEY}}"]

[[providers]]
name = "anthropic-mock"
dialect = "anthropic"
base_url = "{upstream}"
api_keys = ["${{MOCK_PROVIDER_KEY}}"]
anthropic_betas = ["fine-grained-tool-streaming-2025-05-14"]

[[providers]]
name = "responses-mock"
dialect = "openai"
wire_api = "responses"
base_url = "{upstream}/v1"
api_keys = ["${{MOCK_PROVIDER_KEY}}"]

[[providers]]
name = "gemini-mock"
dialect = "gemini"
base_url = "{upstream}/v1beta"
api_keys = ["${{MOCK_PROVIDER_KEY}}"]

[[providers]]
name = "impatient"
dialect = "openai"
base_url = "{upstream}/v1"
api_keys = ["${{MOCK_PROVIDER_KEY}}"]
read_timeout_seconds = 0.5

[[providers]]
name = "nowhere"
dialect = "openai"
base_url = "http://127.0.0.1:{free_port()}/v1"
api_keys = ["unused"]
{models}"""
    )


@pytest.fixture(scope="session")
def mock_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("mock") / "mock.log"
    proc = granian("tests.support.mock_upstream:app", port, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_mock/requests", proc, log)
    yield url
    stop(proc)


def postgres_database(server: PostgresServer, name: str) -> str:
    async def create() -> None:
        conn = await asyncpg.connect(server.dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return server.dsn_for(name)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def weir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mock_upstream: str
) -> Iterator[Weir]:
    """The gateway under test, once on each store backend."""
    home = tmp_path_factory.mktemp(f"weir-{request.param}")
    if request.param == "postgres":
        storage_url = postgres_database(request.getfixturevalue("postgres_server"), "weir_e2e")
    else:
        storage_url = f"sqlite://{home / 'weir.db'}"
    port = free_port()
    config = home / "weir.toml"
    write_config(config, port, mock_upstream, storage_url, home / "data", admin=True)
    env = {
        "WEIR_TEST_PEPPER": "test-pepper-0123456789abcdef",
        "MOCK_PROVIDER_KEY": PROVIDER_KEY,
        "WEIR_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    log = home / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, env)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc, log)
    yield Weir(url, config, env, mock_upstream, ADMIN_TOKEN)
    assert stop(proc) == 0, log.read_text()[-4000:]
