"""Claude Code itself (the pinned npm package, run headless as `claude -p`) through a running `weir serve`: against
the Anthropic-dialect mock (Weir passes the call through) and the OpenAI-dialect mock (Weir translates it), with no
traffic anywhere but loopback, the provider's key upstream instead of the client's, and the wallet charged."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir
from tests.e2e.test_openai_chat import balance, expected_cost, wait_balance
from tests.support import claude_code
from tests.support import mock_upstream as mock

# The first test also installs Claude Code (`npm ci`, tens of seconds); each `claude` run is bounded by RUN_TIMEOUT.
pytestmark = pytest.mark.timeout(claude_code.NPM_TIMEOUT + 120)

RUN_TIMEOUT = 90.0
REPLY = "".join(mock.REPLY_WORDS)
UPSTREAMS = {  # Weir model id -> (path the mock upstream must see, how the provider key must reach it)
    "claude-test": ("/v1/messages", {"x-api-key": PROVIDER_KEY}),
    "gpt-test": ("/v1/chat/completions", {"authorization": f"Bearer {PROVIDER_KEY}"}),
}
ANTHROPIC_MOCK_BETAS = {"fine-grained-tool-streaming-2025-05-14"}  # the anthropic-mock provider's allow-list


@pytest.fixture(scope="session")
def claude() -> Path:
    return claude_code.install()


@pytest.mark.parametrize("model", UPSTREAMS, ids=["anthropic-upstream", "openai-upstream"])
def test_claude_code_says_hello_through_weir(weir: Weir, claude: Path, model: str, tmp_path: Path) -> None:
    account = f"claude-code-{model}"
    key = weir.new_key(account, "1")
    before = balance(weir, account)
    httpx.delete(f"{weir.upstream}/_mock/requests")

    run = claude_code.run(
        claude, base_url=weir.url, token=key, model=model, prompt="Say hello", home=tmp_path, timeout=RUN_TIMEOUT
    )

    assert run.egress == [], f"Claude Code tried to reach something other than loopback\n{run.describe()}"
    assert run.returncode == 0, run.describe()
    result = run.output
    assert result["is_error"] is False, run.describe()
    assert REPLY in result["result"], run.describe()

    seen = weir.upstream_requests()
    path, credentials = UPSTREAMS[model]
    assert seen, f"the mock upstream received nothing\n{run.describe()}"
    assert [r["path"] for r in seen] == [path] * len(seen)
    for request in seen:
        headers = request["headers"]
        assert isinstance(headers, dict) and isinstance(request["body"], dict)
        assert {name: headers.get(name) for name in credentials} == credentials
        assert key not in orjson.dumps(request).decode(), "the client's key reached the upstream"
        assert request["body"]["model"] == "mock-model"
        if model == "claude-test":
            assert "authorization" not in headers
            assert headers.get("anthropic-version") == "2023-06-01"
            betas = {b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()}
            assert betas <= ANTHROPIC_MOCK_BETAS, f"betas outside the provider's allow-list went upstream: {betas}"
    assert any("Say hello" in orjson.dumps(r["body"]).decode() for r in seen)

    # Each upstream call is billed at the mock's fixed usage; usage is committed asynchronously.
    want = before - len(seen) * expected_cost()
    assert wait_balance(weir, account, want) == want
