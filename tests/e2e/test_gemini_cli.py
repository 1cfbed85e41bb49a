"""Gemini CLI itself (the pinned npm package, run headless as `gemini -p`) through a running `weir serve`: Gemini CLI
speaks the Gemini API (streamGenerateContent, key in x-goog-api-key), and Weir answers it from an upstream of every
dialect (Gemini passed through; Chat, Anthropic and Responses translated), on v1beta as the CLI defaults and on v1,
with no traffic anywhere but loopback, the provider's key upstream instead of the client's, the reply and its token
counts as the upstream gave them, and the wallet charged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir
from tests.e2e.test_codex_cli import DIALECTS, PROMPT, REPLY, UPSTREAMS, check_upstream_calls
from tests.e2e.test_openai_chat import balance, expected_cost, wait_balance
from tests.support import gemini_cli, mock_gemini, node_clients
from tests.support import mock_upstream as mock

# The first test may also install the CLIs (`npm ci`, tens of seconds); each `gemini` run is bounded by RUN_TIMEOUT.
pytestmark = pytest.mark.timeout(node_clients.NPM_TIMEOUT + 120)

RUN_TIMEOUT = 90.0
TOOLS = {  # Weir tool-calling model (one per upstream dialect) -> its mock upstream's path
    "resp-tools": "/v1/responses",
    "tools-test": "/v1/chat/completions",
    "claude-tools": "/v1/messages",
    "gemini-tools": "/v1beta/models/mock-tools:streamGenerateContent",
}
CALLS = [(name, orjson.loads("".join(args))) for _, name, args in mock.TOOL_CALLS]  # what every mock asks for


@pytest.fixture(scope="session")
def gemini() -> Path:
    return gemini_cli.install()


def ask(weir: Weir, gemini: Path, model: str, home: Path, api_version: str | None) -> None:
    account = f"gemini-cli-{model}-{api_version or 'default'}"
    key = weir.new_key(account, "1")
    before = balance(weir, account)
    httpx.delete(f"{weir.upstream}/_mock/requests")

    run = gemini_cli.run(
        gemini,
        base_url=weir.url,
        key=key,
        model=model,
        prompt=PROMPT,
        home=home,
        api_version=api_version,
        timeout=RUN_TIMEOUT,
    )

    assert run.egress == [], f"Gemini CLI tried to reach something other than loopback\n{run.describe()}"
    assert run.returncode == 0, run.describe()
    output = run.output
    assert "error" not in output, run.describe()
    assert output["response"].strip() == REPLY, run.describe()
    # The CLI's stats are the usageMetadata Weir sent, built from the upstream's usage (the same counts in every
    # dialect's mock once made canonical; how output splits into candidates and thoughts depends on the dialect).
    tokens = run.tokens()
    assert len(tokens) == 1, run.describe()
    (counts,) = tokens.values()
    assert counts["prompt"] == mock.PROMPT_TOKENS, run.describe()
    assert counts["cached"] == mock.CACHED_TOKENS, run.describe()
    assert counts["candidates"] + counts["thoughts"] == mock.COMPLETION_TOKENS, run.describe()

    check_upstream_calls(weir, key, model, PROMPT, run.describe())

    # The call is billed at the mock's fixed usage; usage is committed asynchronously.
    want = before - expected_cost()
    assert wait_balance(weir, account, want) == want


@pytest.mark.parametrize("model", UPSTREAMS, ids=DIALECTS)
def test_gemini_cli_says_hello_through_weir(weir: Weir, gemini: Path, model: str, tmp_path: Path) -> None:
    ask(weir, gemini, model, tmp_path, api_version=None)  # the CLI's default: /v1beta/models/...


def test_gemini_cli_on_v1_through_weir(weir: Weir, gemini: Path, tmp_path: Path) -> None:
    """GOOGLE_GENAI_API_VERSION=v1 makes the CLI call /v1/models/...; Weir serves that path too."""
    ask(weir, gemini, "gpt-test", tmp_path, api_version="v1")


def tool_exchange(body: dict[str, Any]) -> tuple[list[tuple[str, str, Any]], list[str]]:
    """From an upstream request in any dialect: each tool call as (id, name, arguments) and, in order, the call
    id each tool result answers (Gemini's calls and results may carry no id: their name stands in for it)."""
    calls: list[tuple[str, str, Any]] = []
    results: list[str] = []
    for message in body.get("messages", []):  # OpenAI Chat and Anthropic
        for call in message.get("tool_calls") or []:
            function = call["function"]
            calls.append((call["id"], function["name"], orjson.loads(function["arguments"])))
        if message.get("role") == "tool":
            results.append(message["tool_call_id"])
        for block in message["content"] if isinstance(message.get("content"), list) else []:
            if block.get("type") == "tool_use":
                calls.append((block["id"], block["name"], block["input"]))
            elif block.get("type") == "tool_result":
                results.append(block["tool_use_id"])
    for item in body.get("input", []) if isinstance(body.get("input"), list) else []:  # OpenAI Responses
        if item.get("type") == "function_call":
            calls.append((item["call_id"], item["name"], orjson.loads(item["arguments"])))
        elif item.get("type") == "function_call_output":
            results.append(item["call_id"])
    for content in body.get("contents", []):  # Gemini
        for part in content.get("parts", []):
            if "functionCall" in part:
                call = part["functionCall"]
                calls.append((call.get("id") or call["name"], call["name"], call.get("args")))
            elif "functionResponse" in part:
                response = part["functionResponse"]
                results.append(response.get("id") or response["name"])
    return calls, results


@pytest.mark.parametrize("model", TOOLS, ids=DIALECTS)
def test_gemini_cli_tool_round_trip_through_weir(weir: Weir, gemini: Path, model: str, tmp_path: Path) -> None:
    """The mock always answers with two calls to tools Gemini CLI does not have; the CLI answers each with an
    error result and asks again, and its turn limit (2) ends the loop. Weir must bring the calls to the CLI in
    Gemini's shape and the CLI's results back to the upstream in the upstream's, each result naming its call."""
    account = f"gemini-cli-{model}"
    key = weir.new_key(account, "1")
    before = balance(weir, account)
    httpx.delete(f"{weir.upstream}/_mock/requests")

    run = gemini_cli.run(
        gemini,
        base_url=weir.url,
        key=key,
        model=model,
        prompt="What is the weather in Paris?",
        home=tmp_path,
        max_turns=2,
        timeout=RUN_TIMEOUT,
    )

    assert run.egress == [], f"Gemini CLI tried to reach something other than loopback\n{run.describe()}"
    assert run.returncode == 53, run.describe()  # the turn limit, not an API error
    assert run.output["error"]["type"] == "FatalTurnLimitedError", run.describe()
    for name, _ in CALLS:
        assert f'Tool "{name}" not found' in run.stderr, run.describe()

    seen = weir.upstream_requests()
    assert [r["path"] for r in seen] == [TOOLS[model]] * 2, run.describe()
    for request in seen:
        headers = request["headers"]
        assert isinstance(headers, dict)
        assert PROVIDER_KEY in orjson.dumps(headers).decode()
        assert key not in orjson.dumps(request).decode(), "the client's key reached the upstream"
    first, second = (r["body"] for r in seen)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert tool_exchange(first) == ([], [])
    calls, results = tool_exchange(second)
    assert [(name, arguments) for _, name, arguments in calls] == CALLS, orjson.dumps(second).decode()[-3000:]
    assert results == [call_id for call_id, _, _ in calls], orjson.dumps(second).decode()[-3000:]
    if model == "gemini-tools":  # Gemini 3 rejects a replayed function call without its thought signature
        parts = [part for content in second["contents"] for part in content["parts"] if "functionCall" in part]
        assert parts[0].get("thoughtSignature") == mock_gemini.THOUGHT_SIGNATURE

    want = before - 2 * expected_cost()  # both calls billed at the mock's fixed usage
    assert wait_balance(weir, account, want) == want
