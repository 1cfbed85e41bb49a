"""The `weir` command's own behaviour: what `models list` shows, and what a missing config file says."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from weir.cli import main

CONFIG = """
[[providers]]
name = "p"
dialect = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "plain"
price = { input = 0.5, output = 1.5 }
routes = [{ provider = "p", model = "m" }]

[[models]]
id = "cached"
price = { input = 3.0, output = 15.0, cached_input = 0.3, cache_write = 3.75 }
routes = [{ provider = "p", model = "m" }]

[[models]]
id = "speech"
price = { character = 15.0 }
routes = [{ provider = "p", model = "tts" }]
"""


def models_list(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main([*args, "models", "list"]) == 0
    rows: list[dict[str, object]] = orjson.loads(capsys.readouterr().out)
    return rows


def test_models_list_shows_the_prices_in_effect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "weir.toml"
    config.write_text(CONFIG)
    rows = {row["id"]: row for row in models_list(capsys, "--config", str(config))}
    assert rows["plain"]["price_usd_per_1m_tokens"] == {
        "input": 0.5,
        "output": 1.5,
        "cached_input": 0.5,  # not configured: billed at the input price, so shown as that
        "cache_write": 0.5,
    }
    assert rows["cached"]["price_usd_per_1m_tokens"] == {
        "input": 3.0,
        "output": 15.0,
        "cached_input": 0.3,
        "cache_write": 3.75,
    }
    assert "price_usd_per_unit" not in rows["plain"]
    assert rows["speech"]["price_usd_per_unit"] == {"character": 15.0}
    assert rows["speech"]["routes"] == [{"provider": "p", "model": "tts"}]


def test_the_embedded_defaults_list_the_demo_models(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEIR_CONFIG", raising=False)
    rows = models_list(capsys)
    assert {"demo-echo", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"} <= {r["id"] for r in rows}
    assert all(r["routes"] == [{"provider": "demo", "model": f"echo/{r['id']}"}] for r in rows)


def test_a_missing_config_file_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "weir.toml", "accounts", "show", "alice"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"weir: {tmp_path / 'weir.toml'} not found.")
    assert "deploy/weir.example.toml" in err and "leave out --config" in err
    assert "invalid configuration" not in err
    assert not (tmp_path / "weir.toml").exists()


def test_accounts_topup_disable_and_enable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "weir.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n' + CONFIG)
    run = ["--config", str(config), "accounts"]

    def shown(*args: str) -> dict[str, object]:
        assert main([*run, *args]) == 0, capsys.readouterr().err
        account: dict[str, object] = orjson.loads(capsys.readouterr().out)
        return account

    assert shown("create", "alice", "--balance-usd", "1.5")["balance_microcents"] == 150_000_000
    assert shown("topup", "alice", "2", "--idempotency-key", "inv-1", "--note", "invoice 1")["balance_usd"] == "3.5"
    assert shown("topup", "alice", "2", "--idempotency-key", "inv-1", "--note", "invoice 1")["balance_usd"] == "3.5"
    assert main([*run, "topup", "alice", "5", "--idempotency-key", "inv-1"]) == 1
    assert "--idempotency-key: " not in (err := capsys.readouterr().err) and "'inv-1' was used for another" in err
    assert shown("disable", "alice")["disabled"] is True
    assert shown("show", "alice")["disabled"] is True
    assert shown("enable", "alice")["disabled"] is False
    assert main([*run, "topup", "alice", "0"]) == 1
    assert capsys.readouterr().err == "weir: error: USD: a top-up must be greater than 0\n"
    assert main([*run, "create", "bob", "--balance-usd", "-1"]) == 1
    assert capsys.readouterr().err == "weir: error: --balance-usd: must not be negative\n"
    assert main([*run, "disable", "nobody"]) == 1
    assert capsys.readouterr().err == "weir: error: no account named 'nobody'\n"


def test_admin_hash_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from weir.admin.tokens import AdminTokens

    token = "a-token-of-some-length-0123456789"
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["admin", "hash-token"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("sha256:") and token not in hashed and AdminTokens([hashed]).check(token)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin", "hash-token"]) == 1
    assert "the token: must be at least 24 characters, got 5" in (err := capsys.readouterr().err) and "short" not in err


def test_the_command_does_not_load_the_metrics() -> None:
    """`weir serve` chooses the metrics' multi-process directory before its workers start: prometheus_client must
    not be imported by then, or the workers' counts never reach /metrics."""
    import subprocess
    import sys

    probe = "import sys, weir.cli; print('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


def test_models_price_sets_merges_and_resets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEIR_DATA_DIR", str(tmp_path))
    config = tmp_path / "weir.toml"
    config.write_text(CONFIG)
    base = ["--config", str(config), "models", "price"]
    assert main([*base, "cached", "--output", "12.5", "--cache-write", "input"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["prices_set"] is True
    assert shown["price_usd_per_1m_tokens"] == {"input": 3.0, "output": 12.5, "cached_input": 0.3, "cache_write": 3.0}
    listed = {row["id"]: row for row in models_list(capsys, "--config", str(config))}  # the store's, not the file's
    assert listed["cached"]["price_usd_per_1m_tokens"] == shown["price_usd_per_1m_tokens"]
    assert listed["plain"]["prices_set"] is False

    assert main([*base, "cached", "--input", "cheap"]) == 1
    assert "--input: must be an amount in USD, got 'cheap'" in capsys.readouterr().err
    assert main([*base, "cached", "--input", "-1"]) == 1
    assert "weir: error: --input: must not be negative" in capsys.readouterr().err
    assert main([*base, "cached"]) == 1
    assert "give at least one price" in capsys.readouterr().err
    assert main([*base, "cached", "--reset", "--input", "1"]) == 1
    assert "give it alone" in capsys.readouterr().err
    assert main([*base, "nope", "--input", "1"]) == 1
    assert "no model named 'nope'" in capsys.readouterr().err

    assert main([*base, "cached", "--reset"]) == 0
    reset = orjson.loads(capsys.readouterr().out)
    assert reset["prices_set"] is False and reset["price_usd_per_1m_tokens"]["output"] == 15.0


def test_tiers_set_and_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEIR_DATA_DIR", str(tmp_path))
    config = tmp_path / "weir.toml"
    config.write_text(CONFIG + '\n[[tiers]]\nname = "free"\nrequests_per_minute = 5\n')
    base = ["--config", str(config), "tiers"]
    assert main([*base, "set", "free", "--requests-per-minute", "none", "--max-ips", "2", "--models", "plain,sp*"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert (shown["limits"], shown["models"], shown["settings_set"]) == ({"max_ips": 2}, ["plain", "sp*"], True)
    assert main([*base, "list"]) == 0
    assert orjson.loads(capsys.readouterr().out) == [shown]
    assert main([*base, "set", "free", "--max-ips", "0"]) == 1
    assert "weir: error: --max-ips: must be a whole number of at least 1" in capsys.readouterr().err
    assert main([*base, "set", "free", "--price-multiplier", "x"]) == 1
    assert "--price-multiplier: must be a number" in capsys.readouterr().err
    assert main([*base, "set", "free"]) == 1
    assert "give at least one setting" in capsys.readouterr().err
    assert main([*base, "set", "free", "--models", "all"]) == 0
    assert orjson.loads(capsys.readouterr().out)["models"] is None
    assert main([*base, "reset", "free"]) == 0
    reset = orjson.loads(capsys.readouterr().out)
    assert (reset["limits"], reset["settings_set"]) == ({"requests_per_minute": 5}, False)
