"""`weir serve` with no configuration: SQLite in the data directory, the demo account, key and echo model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from tests.support.processes import free_port, start, stop, wait_http


def serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"WEIR_DATA_DIR": str(data_dir), "WEIR_CONFIG": ""}
    proc = start([sys.executable, "-m", "weir", "serve", "--port", str(port)], log, env)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
    return proc


def wait_for_text(log: Path, pattern: str, timeout: float = 10.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in:\n{log.read_text()}")


def test_first_start_prints_a_working_demo_key_and_curl(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "first.log"
    proc = serve(tmp_path / "data", port, log)
    try:
        key = wait_for_text(log, r"\n  (sk-weir_\S+)\n").group(1)
        # The banner's "Try it" lines work when pasted into a shell as they are.
        try_it = wait_for_text(log, r"Try it:\n((?:  .*\n)+)").group(1)
        assert f"export WEIR=http://127.0.0.1:{port} WEIR_KEY={key}" in try_it
        env = {"PATH": os.environ["PATH"]}  # WEIR and WEIR_KEY come from the banner's own export
        pasted = subprocess.run(["bash", "-c", try_it], capture_output=True, text=True, timeout=30, env=env)
        assert pasted.returncode == 0, pasted.stderr
        assert '"content":"Echo:"' in pasted.stdout and '"content":" hello"' in pasted.stdout, pasted.stdout
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        words = [
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="demo-echo", messages=[{"role": "user", "content": "hello weir"}], stream=True
            )
            if c.choices
        ]
        assert "".join(words) == "Echo: hello weir"
        assert len(words) > 1, "the demo reply streams word by word"
        raw = client.chat.completions.with_raw_response.create(
            model="demo", messages=[{"role": "user", "content": "again"}]
        )
        assert raw.parse().choices[0].message.content == "Echo: again"
        assert int(raw.headers["x-weir-cost-microcents"]) > 0
    finally:
        assert stop(proc) == 0
    assert (tmp_path / "data" / "weir.db").exists()
    assert oct((tmp_path / "data" / "pepper").stat().st_mode & 0o777) == "0o600"

    # A second start keeps the account and prints no new key.
    log2 = tmp_path / "second.log"
    proc = serve(tmp_path / "data", port, log2)
    try:
        wait_for_text(log2, "The demo account exists")
        assert "WEIR_KEY=sk-weir_...\n" in log2.read_text()
        assert not re.search(r"sk-weir_\w", log2.read_text())
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "demo-echo", "messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.text
    finally:
        stop(proc)


def test_two_workers_share_one_metrics_view(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {"WEIR_DATA_DIR": str(tmp_path / "data"), "WEIR_CONFIG": ""}
    proc = start([sys.executable, "-m", "weir", "serve", "--port", str(port), "--workers", "2"], log, env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        key = wait_for_text(log, r"\n  (sk-weir_\S+)\n").group(1)
        with httpx.Client() as client:  # fresh connections, so both workers get requests
            for _ in range(12):
                r = client.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                )
                assert r.status_code == 200, r.text
            line = 'weir_upstream_requests_total{model="demo-echo",provider="demo",status_class="2xx"} 12.0'
            deadline = time.monotonic() + 5  # each worker flushes its counts every second
            text = client.get(f"http://127.0.0.1:{port}/metrics").text
            while line not in text and time.monotonic() < deadline:
                time.sleep(0.2)
                text = client.get(f"http://127.0.0.1:{port}/metrics").text
        assert line in text, text
    finally:
        assert stop(proc) == 0


def test_the_demo_catalog_root_and_unknown_models(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    proc = serve(tmp_path / "data", port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        key = wait_for_text(log, r"\n  (sk-weir_\S+)\n").group(1)
        listed = [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
        for name in ("demo-echo", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "whisper-1"):
            assert name in listed
            assert name in wait_for_text(log, "Demo models, every one answered by the built-in echo upstream.*").group()

        root = httpx.get(f"{url}/")
        assert root.status_code == 200 and root.headers["content-type"] == "application/json"
        pointers = root.json()
        assert pointers["service"] == "weir" and "echo upstream" in pointers["demo"]
        for path in (pointers["models"], pointers["health"], pointers["metrics"], pointers["pricing"]):
            assert httpx.get(url + path).status_code == 200, path

        auth = {"Authorization": f"Bearer {key}", "x-api-key": key, "anthropic-version": "2023-06-01"}
        missing = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-5-nope", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth,
        )
        assert missing.status_code == 404
        message = missing.json()["error"]["message"]
        assert "'gpt-5-nope'" in message and "GET /v1/models" in message
        assert all(name in message for name in listed if name != "demo")  # the ids; aliases only in the list

        # On the demo, count_tokens counts as the echo upstream bills: the same number for the same call.
        for body in (
            {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello"}]},
            {
                "model": "gpt-4o-mini",
                "system": "You are terse.",
                "messages": [
                    {"role": "user", "content": "hello there"},
                    {"role": "assistant", "content": "Echo: hello there"},
                    {"role": "user", "content": [{"type": "text", "text": "and again, in French?"}]},
                ],
            },
        ):
            counted = httpx.post(f"{url}/v1/messages/count_tokens", json=body, headers=auth)
            assert counted.status_code == 200, counted.text
            billed = httpx.post(f"{url}/v1/messages", json={**body, "max_tokens": 50}, headers=auth)
            assert billed.status_code == 200, billed.text
            assert billed.json()["usage"]["input_tokens"] == counted.json()["input_tokens"] > 3
    finally:
        assert stop(proc) == 0
