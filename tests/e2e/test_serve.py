"""`weir serve` as a process: its access log, its refusal of an address already in use, and its refusal to create
an empty database where one existed. All on the embedded defaults (SQLite in a data directory, the demo model)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.processes import free_port, start, stop, wait_http

CHAT = {"model": "demo-echo", "messages": [{"role": "user", "content": "hello"}]}


@dataclass
class Embedded:
    url: str
    port: int
    log: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "weir", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            timeout=60,
        )


def serve(data_dir: Path, port: int, log: Path) -> tuple[subprocess.Popen[bytes], Embedded]:
    env = {"WEIR_DATA_DIR": str(data_dir), "WEIR_CONFIG": ""}
    proc = start([sys.executable, "-m", "weir", "serve", "--port", str(port)], log, env)
    return proc, Embedded(f"http://127.0.0.1:{port}", port, log, env)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    home = tmp_path_factory.mktemp("serve")
    proc, weir = serve(home / "data", free_port(), home / "weir.log")
    wait_http(f"{weir.url}/healthz", proc, weir.log)
    yield weir
    assert stop(proc) == 0, weir.log.read_text()[-3000:]


def test_access_log_has_one_line_per_request_and_no_key(embedded: Embedded) -> None:
    made = embedded.cli("keys", "create", "--account", "demo", "--name", "access-log")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=embedded.url) as client:
        chat = client.post("/v1/chat/completions", json=CHAT, params={"key": key})
        assert chat.status_code == 200, chat.text
        refused = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-weir_nope"})
        assert refused.status_code == 401
        lost = client.get(f"/v1/{key}/models")  # a key pasted into the path
        assert lost.status_code == 404
        assert client.get("/healthz").status_code == 200

    text = embedded.log.read_text()
    line = r'(\S+) 127\.0\.0\.1 "{method} {path} HTTP/1\.1" {status} (\d+\.\d)ms (\S+)'
    found = re.search(line.format(method="POST", path="/v1/chat/completions", status=200), text)
    assert found, text[-3000:]
    assert found.group(3) == chat.headers["x-weir-request-id"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$", found.group(1))
    found = re.search(line.format(method="POST", path="/v1/chat/completions", status=401), text)
    assert found and found.group(3) == refused.headers["x-weir-request-id"]
    assert re.search(line.format(method="GET", path=r"/v1/\[key\]/models", status=404), text), text[-3000:]
    assert re.search(line.format(method="GET", path="/healthz", status=200), text)
    assert key not in text and key.split("_")[1] not in text, "the key (or its id) reached the access log"
    assert "?key=" not in text


def test_a_second_serve_on_a_port_in_use_refuses_to_start(
    embedded: Embedded, mock_upstream: str, tmp_path: Path
) -> None:
    other_granian = int(mock_upstream.rsplit(":", 1)[1])  # the mock upstream: granian, SO_REUSEPORT like Weir
    for port in (embedded.port, other_granian):
        second = subprocess.run(
            [sys.executable, "-m", "weir", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "WEIR_DATA_DIR": str(tmp_path / f"data-{port}"), "WEIR_CONFIG": ""},
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
        assert second.returncode == 1, second.stderr
        assert f"cannot listen on 127.0.0.1:{port}: address already in use" in second.stderr
        assert not (tmp_path / f"data-{port}" / "weir.db").exists(), "it refused before touching anything"
    with httpx.Client(base_url=embedded.url) as client:  # every request still reaches the first one
        assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_serve_refuses_to_create_an_empty_database_where_one_existed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    proc, weir = serve(data, port, tmp_path / "first.log")
    try:
        wait_http(f"{weir.url}/healthz", proc, weir.log)
    finally:
        assert stop(proc) == 0
    assert (data / "database-created").read_text().count(" created sqlite://") == 1
    for name in ("weir.db", "weir.db-wal", "weir.db-shm"):
        (data / name).unlink(missing_ok=True)

    refused = subprocess.run(
        [sys.executable, "-m", "weir", "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        env={**os.environ, **weir.env},
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert refused.returncode == 1
    assert f"there is no Weir database at sqlite://{data / 'weir.db'}" in refused.stderr
    assert "run `weir migrate` first" in refused.stderr
    shown = weir.cli("accounts", "show", "demo")  # no other command creates it either
    assert shown.returncode == 1 and "no Weir database" in shown.stderr

    migrated = weir.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    proc, weir = serve(data, port, tmp_path / "second.log")
    try:
        wait_http(f"{weir.url}/healthz", proc, weir.log)
        assert "Created the account 'demo'" in weir.log.read_text()  # a new, empty ledger, as asked
        body = orjson.loads(httpx.get(f"{weir.url}/healthz").content)
        assert body["status"] == "ok" and body["writes"] == "ok"
    finally:
        assert stop(proc) == 0
