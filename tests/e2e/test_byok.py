"""Bring your own key, end to end (SQLite and PostgreSQL): `weir byok set` reads an account's own key from standard
input and stores it encrypted; that account's calls to the provider send it instead of the provider's key, are
recorded with byok and charged billing.byok_fee_percent of their price; other accounts are untouched; deleting it
brings the provider's key back."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.e2e.conftest import BYOK_FEE_PERCENT, PROVIDER_KEY, Weir

OWN_KEY = "sk-own-key-of-the-account-123"
HI = [{"role": "user", "content": "hi"}]


def byok(weir: Weir, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weir", "--config", str(weir.config), "byok", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **weir.env},
        timeout=60,
    )


def call(weir: Weir, key: str) -> tuple[httpx.Response, str]:
    """A chat call, and the key the upstream saw."""
    httpx.delete(f"{weir.upstream}/_mock/requests")
    answer = httpx.post(
        f"{weir.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt-test", "messages": HI, "max_tokens": 20},
    )
    seen = weir.upstream_requests()[-1]["headers"]
    assert isinstance(seen, dict)
    return answer, seen.get("authorization", "")


def test_an_accounts_own_key_is_used_recorded_and_charged_its_fee(weir: Weir) -> None:
    mine = weir.new_key("byok-owner", "5")
    theirs = weir.new_key("byok-other", "5")
    listed = byok(weir, "set", "--account", "byok-owner", "--provider", "mock", stdin=OWN_KEY + "\n")
    assert listed.returncode == 0 and OWN_KEY not in listed.stdout + listed.stderr
    assert '"provider": "mock"' in byok(weir, "list", "--account", "byok-owner").stdout
    time.sleep(1.3)  # auth.key_cache_ttl_seconds
    own, sent = call(weir, mine)
    assert own.status_code == 200 and sent == f"Bearer {OWN_KEY}"
    other, sent_other = call(weir, theirs)
    assert sent_other == f"Bearer {PROVIDER_KEY}"  # another account: the provider's key, full price
    full = int(other.headers["x-weir-cost-microcents"])
    assert int(own.headers["x-weir-cost-microcents"]) == -(-full * BYOK_FEE_PERCENT // 100)
    manager = weir.cli("keys", "create", "--account", "byok-owner", "--management").stdout.strip().splitlines()[-1]
    assert weir.generation(own.headers["x-weir-request-id"], manager)["byok"] is True
    assert byok(weir, "delete", "--account", "byok-owner", "--provider", "mock").returncode == 0
    time.sleep(1.3)
    assert call(weir, mine)[1] == f"Bearer {PROVIDER_KEY}"
    missing = byok(weir, "delete", "--account", "byok-owner", "--provider", "mock")
    assert missing.returncode == 1 and "no key of its own" in missing.stderr
    unknown = byok(weir, "set", "--account", "byok-owner", "--provider", "nope", stdin="sk-x\n")
    assert unknown.returncode == 1 and "no provider named 'nope'" in unknown.stderr
