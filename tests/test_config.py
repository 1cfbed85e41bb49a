from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from weir.config import ConfigError, ConfigNotFound, load_config, parse_config

GOOD = """
[server]
host = "127.0.0.1"
port = 8080
workers = 1

[storage]
url = "sqlite:///var/lib/weir/weir.db"

[[providers]]
name = "openai"
dialect = "openai"
base_url = "https://api.openai.com/v1"
api_keys = ["${OPENAI_API_KEY}"]

[[models]]
id = "gpt-4o-mini"
aliases = ["openai/gpt-4o-mini"]
price = { input = 0.15, output = 0.60, cached_input = 0.075 }
routes = [{ provider = "openai", model = "gpt-4o-mini" }]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "weir.toml")
    return info.value.problems


def test_the_documented_shape_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    config = parse_config(GOOD)
    assert config.providers[0].api_keys == ["sk-real"]
    assert config.models[0].price.cached_input == 0.075
    assert config.storage.url == "sqlite:///var/lib/weir/weir.db"


def test_missing_environment_variable_is_named_with_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert problems(GOOD) == ["providers[0].api_keys[0]: the environment variable OPENAI_API_KEY is not set"]


def test_default_values_in_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = parse_config(GOOD.replace("${OPENAI_API_KEY}", "${OPENAI_API_KEY:-fallback}"))
    assert config.providers[0].api_keys == ["fallback"]


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    text = (
        GOOD.replace("port = 8080", 'port = "eighty"')
        .replace('dialect = "openai"', 'dialect = "cobol"')
        .replace("input = 0.15", "input = -1")
    )
    found = problems(text)
    assert any(p.startswith("server.port: expected int, got str") for p in found), found
    assert any(p.startswith("providers[0].dialect: expected one of") for p in found), found
    assert len(found) == 2  # the price is checked once the types are right


def test_semantic_errors_have_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    text = (
        GOOD.replace('provider = "openai", model', 'provider = "nope", model')
        .replace("input = 0.15", "input = -1")
        .replace('aliases = ["openai/gpt-4o-mini"]', 'aliases = ["gpt-4o-mini"]')
        .replace("port = 8080", "port = 70000")
        .replace('base_url = "https://api.openai.com/v1"', 'base_url = "api.openai.com"')
    )
    assert sorted(problems(text)) == sorted(
        [
            "server.port: must be between 1 and 65535, got 70000",
            "providers[0].base_url: expected an http:// or https:// URL, got 'api.openai.com'",
            "models[0].aliases[0]: the name 'gpt-4o-mini' is already used by models[0]",
            "models[0].price.input: must not be negative, got -1.0",
            "models[0].routes[0].provider: no provider named 'nope'",
        ]
    )


def test_unknown_keys_and_sections_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    found = problems(GOOD.replace("workers = 1", "workers = 1\nwrokers = 2") + "\n[extras]\nx = 1\n")
    assert "server.wrokers: unknown setting" in found
    assert any(p.startswith("extras: unknown section") for p in found)


def test_the_catalog_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert parse_config(GOOD).catalog.show_provider is False
    assert parse_config(GOOD + "\n[catalog]\nshow_provider = true\n").catalog.show_provider is True
    assert "catalog.show_providers: unknown setting" in problems(GOOD + "\n[catalog]\nshow_providers = true\n")


def test_prices_out_of_range_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    found = problems(GOOD.replace("output = 0.60", "output = -0.6").replace("input = 0.15", "input = 2000000"))
    assert "models[0].price.output: must not be negative" in " ".join(found)
    assert "models[0].price.input: must be at most 1,000,000 USD" in " ".join(found)


def test_missing_required_and_bad_toml() -> None:
    found = problems('[[providers]]\nname = "x"\nbase_url = "http://a"\n')
    assert found == ["providers[0].dialect: this setting is required"]
    assert problems("[server\n")[0].startswith("not valid TOML")


def test_price_precision_beyond_the_microcent_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert problems(GOOD.replace("output = 0.60", "output = 0.123456789")) == [
        "models[0].price.output: 0.123456789 has more than 8 decimal places (the unit is 1e-8 USD)"
    ]


def test_media_unit_prices_and_the_upload_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    media = GOOD.replace(
        "cached_input = 0.075 }", "cached_input = 0.075, image = 0.04, character = 15, second = 0.0001 }"
    )
    price = parse_config(media).models[0].price
    assert (price.image, price.character, price.second) == (0.04, 15, 0.0001)
    assert parse_config(GOOD).server.max_upload_bytes == 25 * 1024 * 1024
    bad = media.replace("image = 0.04", "image = -1").replace("second = 0.0001", "second = 0.000000001")
    assert problems(bad.replace("workers = 1", "workers = 1\nmax_upload_bytes = 10")) == [
        "server.max_upload_bytes: must be at least 1024, got 10",
        "models[0].price.image: must not be negative, got -1.0",
        "models[0].price.second: 1e-09 has more than 8 decimal places (the unit is 1e-8 USD)",
    ]


def test_cli_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "weir.toml"
    bad.write_text(GOOD.replace("port = 8080", "port = -1").replace("${OPENAI_API_KEY}", "k"))
    proc = subprocess.run(
        [sys.executable, "-m", "weir", "--config", str(bad), "serve"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "server.port: must be between 1 and 65535, got -1" in proc.stderr
    assert proc.stdout == ""


def test_the_shipped_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_PEPPER", "an-example-pepper-of-some-length")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    example = Path(__file__).resolve().parents[1] / "deploy" / "weir.example.toml"
    config = parse_config(example.read_text(), str(example))
    assert [m.id for m in config.models] == ["gpt-4o-mini", "gpt-4o"]
    assert config.storage.url == "sqlite:///var/lib/weir/weir.db"


def test_gemini_and_responses_native_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    extra = """
[[providers]]
name = "google"
dialect = "gemini"
base_url = "https://generativelanguage.googleapis.com/v1beta"

[[providers]]
name = "openai-responses"
dialect = "openai"
wire_api = "responses"
base_url = "https://api.openai.com/v1"
"""
    config = parse_config(GOOD + extra, "weir.toml")
    assert [(p.dialect, p.wire_api) for p in config.providers] == [
        ("openai", "chat"),
        ("gemini", "chat"),
        ("openai", "responses"),
    ]
    wrong = GOOD + extra.replace('dialect = "gemini"', 'dialect = "gemini"\nwire_api = "responses"')
    assert problems(wrong) == ["providers[1].wire_api: only 'openai' providers choose their API; 'gemini' has one"]
    assert problems(GOOD.replace('dialect = "openai"', 'dialect = "openai"\nwire_api = "completions"')) == [
        "providers[0].wire_api: expected one of 'chat', 'responses', got 'completions'"
    ]


def _readme_toml_blocks() -> list[str]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return re.findall(r"^```toml\n(.*?)^```$", readme, re.M | re.S)


def test_the_readme_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's complete example loads as written, and so does it with the media section's models added."""
    for name in ("WEIR_PEPPER", "WEIR_ADMIN_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, f"{name.lower()}-of-some-length")
    monkeypatch.setenv("WEIR_BYOK_KEY", Fernet.generate_key().decode())  # what `weir byok keygen` prints
    complete, *others = [b for b in _readme_toml_blocks() if "[server]" in b or "[[models]]" in b]
    assert "[server]" in complete
    config = parse_config(complete, "README.md")
    assert {p.name for p in config.providers} == {"openai", "anthropic", "google"}
    media = [b for b in others if "text-embedding-3-small" in b]
    assert media, "the media section's models"
    config = parse_config(complete + "\n" + media[0], "README.md")
    assert "whisper-1" in {m.id for m in config.models}


def test_a_missing_file_is_not_an_invalid_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFound) as info:
        load_config(str(tmp_path / "weir.toml"))
    assert str(info.value).startswith(f"{tmp_path / 'weir.toml'} not found.")
    assert "deploy/weir.example.toml" in str(info.value)
    with pytest.raises(ConfigError) as unreadable:  # a directory: there, but not readable as a file
        load_config(str(tmp_path))
    assert "cannot read the file" in str(unreadable.value)


SECRET = "s3cret-Value-9f8e7d"


def assert_hidden(found: list[str], *secrets: str) -> None:
    text = "\n".join(found)
    for secret in secrets:
        assert secret not in text, text


def test_a_bad_storage_url_is_reported_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    for url, reason in (
        (f"postgresql://weir:{SECRET}@db:notaport/weir", "the port is not a number from 0 to 65535"),
        (f"mysql://weir:{SECRET}@db/weir", "expected sqlite:///path or postgresql://..."),
    ):
        found = problems(GOOD.replace("sqlite:///var/lib/weir/weir.db", url))
        assert len(found) == 1 and found[0].startswith(f"storage.url: {reason}"), found
        assert "weir:***@db" in found[0]
        assert_hidden(found, SECRET)


def test_a_url_with_only_a_token_in_its_user_info_hides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    found = problems(GOOD.replace("https://api.openai.com/v1", f"ftp://{SECRET}@proxy.example/v1"))
    assert found == ["providers[0].base_url: expected an http:// or https:// URL, got 'ftp://***@proxy.example/v1'"]


def test_secret_settings_are_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong-typed api_keys entries, a short pepper, a header value: the message names the setting, not the value
    (from the file or from the environment)."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("SHORT_PEPPER", "pepper-short")
    cases = [
        GOOD.replace('api_keys = ["${OPENAI_API_KEY}"]', f'api_keys = "{SECRET}"'),
        GOOD.replace('api_keys = ["${OPENAI_API_KEY}"]', f'api_keys = [{{ key = "{SECRET}" }}]'),
        GOOD.replace('api_keys = ["${OPENAI_API_KEY}"]', 'api_keys = ["${OPENAI_API_KEY}", 123456789]'),
        GOOD.replace('api_keys = ["${OPENAI_API_KEY}"]', f'headers = {{ "Authorization" = ["{SECRET}"] }}'),
        GOOD + '\n[auth]\npepper = "${SHORT_PEPPER}"\n',
        GOOD.replace('api_keys = ["${OPENAI_API_KEY}"]', f'api_keys = ["{SECRET}]'),  # not even TOML
    ]
    for text in cases:
        found = problems(text)
        assert found, text
        assert_hidden(found, SECRET, "123456789", "pepper-short")
    assert problems(cases[0]) == ["providers[0].api_keys: expected array, got str"]
    assert problems(cases[4]) == ["auth.pepper: must be at least 16 characters"]


def test_scrub_also_hides_a_secret_quoted_by_repr() -> None:
    from weir.redact import scrub

    secret = "back\\slash-secret"
    assert scrub([f"x: got {secret!r}", "postgresql://u:pw@h/db"], {secret}) == [
        "x: got '***'",
        "postgresql://u:***@h/db",
    ]


def test_the_connection_settings_and_a_renamed_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    server = parse_config(GOOD).server
    assert (server.idle_timeout_seconds, server.body_read_timeout_seconds) == (10.0, 30.0)
    assert (server.max_connections, server.backlog, server.http) == (4096, 1024, "1")
    assert (server.access_log, server.access_log_format, server.shutdown_timeout_seconds) == (True, "text", 30.0)
    bad = GOOD.replace(
        "workers = 1",
        "workers = 1\nidle_timeout_seconds = 0\nbody_read_timeout_seconds = 7200\nshutdown_timeout_seconds = -1\n"
        "max_connections = 8\nbacklog = 1",
    )
    assert problems(bad) == [
        "server.idle_timeout_seconds: must be greater than 0 and at most 3600, got 0.0",
        "server.body_read_timeout_seconds: must be greater than 0 and at most 3600, got 7200.0",
        "server.shutdown_timeout_seconds: must be greater than 0 and at most 3600, got -1.0",
        "server.max_connections: must be at least 16, got 8",
        "server.backlog: must be at least 128, got 1",
    ]
    assert problems(GOOD.replace("workers = 1", "workers = 1\nbackpressure = 64")) == [
        "server.backpressure: renamed; write server.max_connections"
    ]


def test_the_limits_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    limits = parse_config(GOOD).limits
    assert (limits.on_backend_error, limits.redis_timeout_seconds, limits.lease_seconds) == ("open", 0.25, 30.0)
    closed = parse_config(GOOD + '\n[limits]\non_backend_error = "closed"\nredis_timeout_seconds = 1\n').limits
    assert (closed.on_backend_error, closed.redis_timeout_seconds) == ("closed", 1.0)
    assert problems(GOOD + '\n[limits]\non_backend_error = "maybe"\n') == [
        "limits.on_backend_error: invalid enum value 'maybe'"
    ]
    assert problems(GOOD + "\n[limits]\nredis_timeout_seconds = 0\nlease_seconds = 0.5\n") == [
        "limits.redis_timeout_seconds: must be greater than 0 and at most 10, got 0.0",
        "limits.lease_seconds: must be between 1 and 3600, got 0.5",
    ]


ADMIN_TOKEN = "Adm1n-token-of-some-length-0123"


def test_admin_tokens_plain_or_hashed_and_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("WEIR_ADMIN_TOKEN", ADMIN_TOKEN)
    digest = "sha256:" + "ab" * 32
    config = parse_config(GOOD + f'\n[admin]\ntokens = ["${{WEIR_ADMIN_TOKEN}}", "{digest}"]\n')
    assert config.admin.tokens == [ADMIN_TOKEN, digest]
    assert parse_config(GOOD).admin.tokens == []  # no section: the operator API is off
    short, spaced = "short-Token-9f8e7d", " Adm1n token of some length 0123 "
    found = problems(GOOD + f'\n[admin]\ntokens = ["{short}", "sha256:ABC", "{spaced}", ""]\n')
    assert found == [
        "admin.tokens[0]: must be at least 24 characters, got 18 (make one with `openssl rand -hex 32`), or its hash"
        " (sha256:...)",
        "admin.tokens[1]: a token hash is sha256: and 64 lowercase hex digits (weir admin hash-token)",
        "admin.tokens[2]: must be visible ASCII characters only (no spaces), as an HTTP header carries it",
        "admin.tokens[3]: must be at least 24 characters, got 0 (make one with `openssl rand -hex 32`), or its hash"
        " (sha256:...)",
    ]
    for text in (
        GOOD + f'\n[admin]\ntokens = "{ADMIN_TOKEN}"\n',
        GOOD + f'\n[admin]\ntokens = [{{ token = "{ADMIN_TOKEN}" }}]\n',
        GOOD + f'\n[admin]\ntoken = ["{ADMIN_TOKEN}"]\n',
        GOOD + f'\n[admin]\ntokens = ["{ADMIN_TOKEN}]\n',  # not even TOML
    ):
        found = problems(text)
        assert found, text
        assert_hidden(found, ADMIN_TOKEN)
    assert problems(GOOD + f'\n[admin]\ntokens = "{ADMIN_TOKEN}"\n') == ["admin.tokens: expected array, got str"]


def test_the_embedded_defaults_take_an_admin_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEIR_ADMIN_TOKEN", raising=False)
    assert load_config(None).admin.tokens == []
    monkeypatch.setenv("WEIR_ADMIN_TOKEN", ADMIN_TOKEN)
    assert load_config(None).admin.tokens == [ADMIN_TOKEN]
    monkeypatch.setenv("WEIR_ADMIN_TOKEN", "too-short-Token")
    with pytest.raises(ConfigError) as caught:
        load_config(None)
    assert caught.value.problems[0].startswith("WEIR_ADMIN_TOKEN: must be at least 24 characters, got 15")
    assert_hidden(caught.value.problems, "too-short-Token")


def test_the_billing_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    billing = parse_config(GOOD).billing
    assert (billing.hold_ttl_seconds, billing.slice_calls, billing.byok_key, billing.byok_fee_percent) == (
        60.0,
        50,
        None,
        0,
    )
    assert problems(
        GOOD + '\n[billing]\nhold_ttl_seconds = 1\nslice_calls = 0\nbyok_key = "not-a-key"\nbyok_fee_percent = 101\n'
    ) == [
        "billing.hold_ttl_seconds: must be between 5 and 3600, got 1.0",
        "billing.slice_calls: must be a whole number from 1 to 10000, got 0",
        "billing.byok_fee_percent: must be a whole number from 0 to 100, got 101",
        "billing.byok_key: not a Fernet key (32 url-safe base64-encoded bytes: weir byok keygen)",
    ]
    assert problems(GOOD + '\n[[tiers]]\nname = "t"\nprice_multiplier = 1.2345\n') == [
        "tiers[0].price_multiplier: at most 3 decimal places, got 1.2345"
    ]
