"""The SQLite store breaks under a running gateway: /healthz tells, nothing is written into a deleted file, and the
usage of the calls made meanwhile is committed once (and only once) the file can be written again.

PostgreSQL going away is tests/e2e/test_store_outage.py.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import PROVIDER_KEY, Weir, write_config
from tests.support.processes import WorkerKilled, free_port, start, stop, wait_http
from tests.support.unwritable import frozen

BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def health(weir: Weir) -> tuple[int, dict[str, object]]:
    r = httpx.get(f"{weir.url}/healthz", timeout=10)
    return r.status_code, orjson.loads(r.content)


def wait_for(what: str, done: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.1)


def write_errors(weir: Weir) -> float:
    found = re.search(r"^weir_usage_write_errors_total (\S+)$", httpx.get(f"{weir.url}/metrics").text, re.M)
    assert found
    return float(found.group(1))


def test_unwritable_and_deleted_sqlite_file(mock_upstream: str, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "weir.toml"
    db = tmp_path / "weir.db"
    write_config(config, port, mock_upstream, f"sqlite://{db}", tmp_path / "data")
    env = {"WEIR_TEST_PEPPER": "test-pepper-0123456789abcdef", "MOCK_PROVIDER_KEY": PROVIDER_KEY}
    weir = Weir(f"http://127.0.0.1:{port}", config, env, mock_upstream)
    key = weir.new_key("fragile", "1")
    auth = {"Authorization": f"Bearer {key}"}
    log = tmp_path / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, env)
    try:
        wait_http(f"{weir.url}/healthz", proc, log)
        assert health(weir) == (
            200,
            {
                "status": "ok",
                "db": "ok",
                "writes": "ok",
                "usage_queue": {"depth": 0, "capacity": 10000},
                "redis": "disabled",
            },
        )
        spent = 0

        def call() -> None:
            nonlocal spent
            r = httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth)
            assert r.status_code == 200, r.text
            spent += int(r.headers["x-weir-cost-microcents"])

        call()
        errors = write_errors(weir)
        with frozen(Path(f"{db}-wal")):  # every commit fails with "disk I/O error"; reads still work
            call()
            wait_for("503 for the failing commit", lambda: health(weir)[0] == 503)
            status, body = health(weir)
            assert body["db"] == "ok" and body["writes"] == "failing", body
            assert "disk I/O error" in str(body["reason"]), body
            assert body["usage_queue"] == {"depth": 1, "capacity": 10000}
            assert write_errors(weir) > errors
        wait_for("the record committed", lambda: health(weir)[1]["usage_queue"] == {"depth": 0, "capacity": 10000})

        os.link(db, tmp_path / "kept.db")  # the same inode, to put back
        db.unlink()
        status, body = health(weir)
        assert status == 503 and body["db"] == "down", body
        assert "was deleted or moved while Weir was running" in str(body["reason"]), body
        call()  # a key seen before still works; its record waits instead of going into the deleted file
        wait_for("the record waiting", lambda: health(weir)[1]["usage_queue"] == {"depth": 1, "capacity": 10000})
        os.link(tmp_path / "kept.db", db)
        wait_for("the record committed", lambda: health(weir)[1]["usage_queue"] == {"depth": 0, "capacity": 10000})
        wait_for("healthy again", lambda: health(weir)[0] == 200)
        balance = orjson.loads(weir.cli("accounts", "show", "fragile").stdout)["balance_microcents"]
        assert balance == 100_000_000 - spent, "each call was charged exactly once"
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]


def test_a_stop_ends_within_the_shutdown_timeout_when_the_store_hangs(mock_upstream: str, tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock, so the worker's last commit waits on busy_timeout (10 s):
    the stop still ends after `server.shutdown_timeout_seconds`, and the log says what was not written."""
    port = free_port()
    config = tmp_path / "weir.toml"
    db = tmp_path / "weir.db"
    write_config(config, port, mock_upstream, f"sqlite://{db}", tmp_path / "data", "shutdown_timeout_seconds = 2")
    env = {"WEIR_TEST_PEPPER": "test-pepper-0123456789abcdef", "MOCK_PROVIDER_KEY": PROVIDER_KEY}
    weir = Weir(f"http://127.0.0.1:{port}", config, env, mock_upstream)
    auth = {"Authorization": f"Bearer {weir.new_key('stuck', '1')}"}
    log = tmp_path / "weir.log"
    proc = start([sys.executable, "-m", "weir", "serve", "--config", str(config)], log, env)
    try:
        wait_http(f"{weir.url}/healthz", proc, log)
        assert httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth).status_code == 200
        wait_for("the first record committed", lambda: health(weir)[1]["usage_queue"]["depth"] == 0)  # type: ignore[index]
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:  # the key is cached and the account's hold covers this call: it needs no store to be answered
            assert httpx.post(f"{weir.url}/v1/chat/completions", json=BODY, headers=auth).status_code == 200
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
            took = time.monotonic() - started
        finally:
            locker.rollback()
            locker.close()
        text = log.read_text()
        assert took < 5, f"the stop took {took:.1f}s:\n{text[-3000:]}"
        assert "1 usage records could not be written and are lost" in text, text[-3000:]
        with pytest.warns(WorkerKilled):  # its store close was still waiting on the lock
            stop(proc)
    finally:
        if proc.poll() is None:
            stop(proc)
