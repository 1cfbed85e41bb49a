"""Codex CLI itself (the pinned npm package, run headless as `codex exec`) through a running `weir serve`: Codex speaks
only the Responses API, and Weir answers it from an upstream of every dialect (Responses passed through; Chat,
Anthropic and Gemini translated), with no traffic anywhere but loopback, the provider's key upstream instead of the
client's, the reply and its token counts as the upstream gave them, and the wallet charged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir
from tests.e2e.test_openai_chat import balance, expected_cost, wait_balance
from tests.support import codex_cli, node_clients
from tests.support import mock_upstream as mock

# The first test may also install the CLIs (`npm ci`, tens of seconds); each `codex` run is bounded by RUN_TIMEOUT.
pytestmark = pytest.mark.timeout(node_clients.NPM_TIMEOUT + 90)

RUN_TIMEOUT = 60.0
REPLY = "".join(mock.REPLY_WORDS)
PROMPT = "Say hello"


@dataclass(frozen=True)
class Upstream:
    path: str  # what the mock upstream must see
    credentials: dict[str, str]  # how the provider key must reach it
    model_in_body: bool = True  # Gemini names the model in the path instead


UPSTREAMS = {  # Weir model id (one per upstream dialect) -> the upstream call it must make
    "resp-test": Upstream("/v1/responses", {"authorization": f"Bearer {PROVIDER_KEY}"}),
    "gpt-test": Upstream("/v1/chat/completions", {"authorization": f"Bearer {PROVIDER_KEY}"}),
    "claude-test": Upstream("/v1/messages", {"x-api-key": PROVIDER_KEY}),
    "gemini-test": Upstream(
        "/v1beta/models/mock-model:streamGenerateContent", {"x-goog-api-key": PROVIDER_KEY}, model_in_body=False
    ),
}
DIALECTS = ["responses-upstream", "openai-upstream", "anthropic-upstream", "gemini-upstream"]


def check_upstream_calls(weir: Weir, key: str, model: str, prompt: str, describe: str) -> list[dict[str, object]]:
    """The calls the mock upstream saw for one CLI turn: exactly one, to the model's dialect's path, with the
    provider's key where that dialect wants it, the upstream model name, the prompt, and no trace of the client key."""
    seen = weir.upstream_requests()
    upstream = UPSTREAMS[model]
    assert len(seen) == 1, f"the mock upstream saw {[r['path'] for r in seen]}, not one call\n{describe}"
    request = seen[0]
    headers, body = request["headers"], request["body"]
    assert isinstance(headers, dict) and isinstance(body, dict)
    assert request["path"] == upstream.path, describe
    assert {name: headers.get(name) for name in upstream.credentials} == upstream.credentials
    assert key not in orjson.dumps(request).decode(), "the client's key reached the upstream"
    if upstream.model_in_body:
        assert body["model"] == "mock-model"
    else:
        assert "key=" not in str(request.get("query", "")), "the provider key went upstream in the URL"
        assert "authorization" not in headers
    assert prompt in orjson.dumps(body).decode()
    return seen


@pytest.fixture(scope="session")
def codex() -> Path:
    return codex_cli.install()


@pytest.mark.parametrize("model", UPSTREAMS, ids=DIALECTS)
def test_codex_says_hello_through_weir(weir: Weir, codex: Path, model: str, tmp_path: Path) -> None:
    account = f"codex-{model}"
    key = weir.new_key(account, "1")
    before = balance(weir, account)
    httpx.delete(f"{weir.upstream}/_mock/requests")

    run = codex_cli.run(
        codex, base_url=f"{weir.url}/v1", key=key, model=model, prompt=PROMPT, home=tmp_path, timeout=RUN_TIMEOUT
    )

    assert run.egress == [], f"Codex tried to reach something other than loopback\n{run.describe()}"
    assert run.returncode == 0, run.describe()
    assert run.failures() == [], run.describe()
    assert run.agent_messages() == [REPLY], run.describe()
    assert run.last_message.strip() == REPLY, run.describe()
    # Codex's turn usage is response.completed's, which Weir builds from the upstream's (same counts in every
    # dialect's mock once made canonical: input includes the cached tokens, output the reasoning tokens).
    usage = run.usage()
    assert usage is not None, run.describe()
    counts = {name: usage.get(name) for name in ("input_tokens", "cached_input_tokens", "output_tokens")}
    assert counts == {
        "input_tokens": mock.PROMPT_TOKENS,
        "cached_input_tokens": mock.CACHED_TOKENS,
        "output_tokens": mock.COMPLETION_TOKENS,
    }, run.describe()

    seen = check_upstream_calls(weir, key, model, PROMPT, run.describe())
    if model == "resp-test":  # passed through: Codex's own request, streamed, with its history kept out of storage
        body = seen[0]["body"]
        assert isinstance(body, dict)
        assert body["stream"] is True and body["store"] is False

    # The call is billed at the mock's fixed usage; usage is committed asynchronously.
    want = before - expected_cost()
    assert wait_balance(weir, account, want) == want
