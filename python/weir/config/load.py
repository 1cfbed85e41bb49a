"""Reading weir.toml: `${NAME}` expansion, decoding section by section, the defaults that depend on the
environment, and msgspec's messages as plain sentences with their key paths."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import msgspec

from weir.config.errors import ConfigError, ConfigNotFound
from weir.config.schema import (
    DEMO_MODEL,
    DEMO_PROVIDER,
    Admin,
    Auth,
    Billing,
    CatalogOptions,
    Config,
    Dialect,
    LimitsOptions,
    Model,
    Price,
    Provider,
    Route,
    Routing,
    Server,
    Storage,
    Tier,
)
from weir.config.validate import validate, validate_admin
from weir.redact import scrub, secrets_in

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "server": Server,
    "storage": Storage,
    "auth": Auth,
    "admin": Admin,
    "routing": Routing,
    "limits": LimitsOptions,
    "billing": Billing,
    "catalog": CatalogOptions,
}
_LISTS: dict[str, type[msgspec.Struct]] = {"tiers": Tier, "providers": Provider, "models": Model}


def default_data_dir() -> str:
    if env := os.environ.get("WEIR_DATA_DIR"):
        return env
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "weir")


# The embedded defaults' catalog: demo models, every one answered by the built-in echo upstream (upstreams/echo.py)
# and none by a real provider. Beside `demo-echo` they carry the names the README's recipes use, at the README's
# example prices, so that each recipe works as written on a fresh `scripts/serve`; their upstream model names
# (`echo/<id>`) say where the answers come from.
DEMO_MODELS: tuple[tuple[str, list[str], Price], ...] = (
    (DEMO_MODEL, ["demo"], Price(input=1.0, output=2.0)),
    ("gpt-4o-mini", [], Price(input=0.15, output=0.60, cached_input=0.075)),
    ("claude-sonnet-4-5", [], Price(input=3.0, output=15.0, cached_input=0.30, cache_write=3.75)),
    ("gemini-2.5-flash", [], Price(input=0.30, output=2.50, cached_input=0.075)),
    ("text-embedding-3-small", [], Price(input=0.02)),
    ("gpt-image-1", [], Price(image=0.04)),
    ("tts-1", [], Price(character=15.0)),
    ("whisper-1", [], Price(second=0.0001)),
)


def embedded_config() -> Config:
    """No file: SQLite in the data directory and the demo models on the built-in echo upstream; an operator token
    from $WEIR_ADMIN_TOKEN when it is set."""
    demo = Provider(name=DEMO_PROVIDER, dialect="openai", base_url="builtin:echo")
    models = [
        Model(id=id_, aliases=aliases, price=price, routes=[Route(provider=DEMO_PROVIDER, model=f"echo/{id_}")])
        for id_, aliases, price in DEMO_MODELS
    ]
    admin = Admin(tokens=[token] if (token := os.environ.get("WEIR_ADMIN_TOKEN")) else [])
    if problems := validate_admin(admin, "WEIR_ADMIN_TOKEN"):
        raise ConfigError(problems)
    return finalize(Config(admin=admin, providers=[demo], models=models))


def load_config(path: str | None) -> Config:
    """Load `path` (or the embedded defaults when None), apply WEIR_HOST/WEIR_PORT/WEIR_WORKERS, validate."""
    if path is None:
        return embedded_config()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigNotFound(path) from exc
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], path) from exc
    return parse_config(text, source=path)


def parse_config(text: str, source: str | None = None) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from exc
    problems: list[str] = []
    expanded = _expand(raw, "", problems)
    secrets = secrets_in(expanded)
    config = _decode(expanded, problems)
    if config is None or problems:
        raise ConfigError(scrub(problems or ["the file could not be decoded"], secrets), source)
    config.source = source
    config = finalize(config)
    problems.extend(validate(config))
    if problems:
        raise ConfigError(scrub(problems, secrets), source)
    return config


def finalize(config: Config) -> Config:
    """Fill the defaults that depend on the environment."""
    server = config.server
    if not server.data_dir:
        server.data_dir = default_data_dir()
    for env, field, kind in (
        ("WEIR_HOST", "host", str),
        ("WEIR_PORT", "port", int),
        ("WEIR_WORKERS", "workers", int),
    ):
        if value := os.environ.get(env):
            try:
                setattr(server, field, kind(value))
            except ValueError as exc:
                raise ConfigError([f"{env}: expected a whole number, got {value!r}"], config.source) from exc
    if not config.storage.url:
        config.storage.url = "sqlite://" + str((Path(server.data_dir).expanduser() / "weir.db").absolute())
    return config


def _expand(node: Any, path: str, problems: list[str]) -> Any:
    if isinstance(node, str):
        return _expand_string(node, path, problems)
    if isinstance(node, dict):
        return {k: _expand(v, f"{path}.{k}" if path else k, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    return node


def _expand_string(value: str, path: str, problems: list[str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        problems.append(f"{path}: the environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(substitute, value)


def _decode(raw: dict[str, Any], problems: list[str]) -> Config | None:
    """Decode section by section so that every bad section is reported, not just the first."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            decoded[key] = _convert(value, _SECTIONS[key], key, problems)
        elif key in _LISTS:
            if not isinstance(value, list):
                problems.append(f"{key}: expected a list of tables ([[{key}]]), got {_kind(value)}")
                continue
            items = [_convert(item, _LISTS[key], f"{key}[{i}]", problems) for i, item in enumerate(value)]
            decoded[key] = items
        else:
            known = ", ".join([*_SECTIONS, *_LISTS])
            problems.append(f"{key}: unknown section; expected one of {known}")
    if problems:
        return None
    return Config(**decoded)


def _convert(value: Any, kind: type[msgspec.Struct], path: str, problems: list[str]) -> Any:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        problems.append(_plain(str(exc), path))
        return None


_RENAMED = {"server.backpressure": "server.max_connections"}  # old name -> new
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<where>[^`]*)`)?$", re.S)


def _plain(message: str, path: str) -> str:
    """msgspec says `Expected `int`, got `str` - at `$.port``; we say `server.port: expected int, got str`."""
    match = _AT.match(message)
    assert match is not None
    where = path + (match.group("where") or "")
    msg = match.group("msg").replace("`", "")
    if msg.startswith("Object contains unknown field "):
        field = msg.removeprefix("Object contains unknown field ")
        if f"{where}.{field}" in _RENAMED:
            return f"{where}.{field}: renamed; write {_RENAMED[f'{where}.{field}']}"
        return f"{where}.{field}: unknown setting"
    if msg.startswith("Object missing required field "):
        field = msg.removeprefix("Object missing required field ")
        return f"{where}.{field}: this setting is required"
    if msg.startswith("Invalid enum value ") and where.endswith(".dialect"):
        allowed = ", ".join(get_args(Dialect))
        return f"{where}: expected one of {allowed}; got {msg.removeprefix('Invalid enum value ')}"
    if msg.startswith("Invalid enum value ") and where.endswith(".wire_api"):
        return f"{where}: expected one of 'chat', 'responses', got {msg.removeprefix('Invalid enum value ')}"
    return f"{where}: {msg[:1].lower()}{msg[1:]}"


def _kind(value: Any) -> str:
    return type(value).__name__


def self_url(config: Config) -> str:
    host = config.server.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"
