"""PostgreSQL goes away under a running gateway: health says so, valid keys never get 401, and the usage of
calls made during the outage is committed once the database is back."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir, postgres_database, write_config
from tests.support.postgres import PostgresServer, find_bindir, throwaway_cluster
from tests.support.processes import free_port, start, stop, wait_http

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def cluster() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    assert bindir is not None, "PostgreSQL server binaries are required (scripts/test installs them)"
    with throwaway_cluster(bindir) as server:
        yield server


def test_database_outage(cluster: PostgresServer, mock_upstream: str, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "weir.toml"
    write_config(config, port, mock_upstream, postgres_database(cluster, "outage"), tmp_path / "data")
    env = {"WEIR_TEST_PEPPER": "test-pepper-0123456789abcdef", "MOCK_PROVIDER_KEY": PROVIDER_KEY}
    weir = Weir(f"http://127.0.0.1:{port}", config, env, mock_upstream)
    known = weir.new_key("outage-user", "1")
    unseen = weir.cli("keys", "create", "--account", "outage-user").stdout.strip().splitlines()[-1]
    log = tmp_path / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, env)
    try:
        wait_http(f"{weir.url}/healthz", proc, log)
        auth = {"Authorization": f"Bearer {known}"}
        assert httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth).status_code == 200
        cost = 2 * int(
            httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth).headers["x-weir-cost-microcents"]
        )

        cluster.stop()
        health = httpx.get(f"{weir.url}/healthz")
        assert health.status_code == 503
        assert health.json()["db"] == "down"
        assert "the database does not answer; a database write failed" in health.json()["reason"]
        assert "PostgreSQL" in health.json()["reason"], health.json()  # the probe's error says what failed
        time.sleep(1.2)  # past the key cache TTL: the store cannot be asked any more
        during = httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth)
        assert during.status_code == 200, during.text  # a key seen before keeps working
        cost += int(during.headers["x-weir-cost-microcents"])
        refused = httpx.post(
            f"{weir.url}/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {unseen}"}
        )
        assert refused.status_code == 503, refused.text  # never 401 for a key we could not check
        assert refused.json()["error"]["code"] == "service_unavailable"

        cluster.start()
        deadline = time.monotonic() + 20
        while httpx.get(f"{weir.url}/healthz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(f"{weir.url}/healthz").status_code == 200
        want = 100_000_000 - cost
        got = None
        while time.monotonic() < deadline:
            got = orjson.loads(weir.cli("accounts", "show", "outage-user").stdout)["balance_microcents"]
            if got == want:
                break
            time.sleep(0.2)
        assert got == want, "the usage of the call made during the outage was committed after it"
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
