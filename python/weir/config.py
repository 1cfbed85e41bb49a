"""weir.toml: the schema (msgspec Structs), `${NAME}` expansion, and validation with key paths.

Every problem is reported as `<key path>: <plain sentence>`, all of them at once, and nothing starts.
"""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import msgspec

from weir.redact import redact_url, scrub, secrets_in

Dialect = Literal["openai", "anthropic", "gemini"]

DEMO_PROVIDER = "demo"
DEMO_MODEL = "demo-echo"


class ConfigError(Exception):
    """The configuration is invalid. `problems` holds one `path: sentence` line per problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid configuration{where}:\n" + "\n".join(f"  - {p}" for p in problems))


class ConfigNotFound(ConfigError):
    """The configuration file does not exist: its own message, which says what to do."""

    def __init__(self, path: str) -> None:
        super().__init__([f"{path}: no such file"], path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"{self.path} not found. Copy deploy/weir.example.toml (in Weir's source) there and edit it, "
            "or leave out --config (and $WEIR_CONFIG) to run on the embedded defaults."
        )


class Server(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    data_dir: str = ""  # default: $WEIR_DATA_DIR, else $XDG_DATA_HOME/weir, else ~/.local/share/weir
    max_body_bytes: int = 16 * 1024 * 1024
    max_upload_bytes: int = 25 * 1024 * 1024  # multipart uploads (/v1/audio/transcriptions): OpenAI's own limit
    max_sse_line_bytes: int = 1024 * 1024
    count_tokens_max_bytes: int = 4 * 1024 * 1024  # bodies of /v1/messages/count_tokens and :countTokens
    count_tokens_per_minute: int = 600  # token counts per key per minute (counting is free); 0: no bound
    keepalive_seconds: float = 15.0  # translated streams: a keepalive event after this long without output
    # Connections (README "Hardening"). A connection that has not sent a whole request head this long after it
    # opened or after its last response is closed: the idle keep-alive timeout and the header-read timeout are
    # one timer in granian (HTTP/1 header_read_timeout).
    idle_timeout_seconds: float = 10.0
    body_read_timeout_seconds: float = 30.0  # time spent waiting for a request body's bytes; then 408
    max_connections: int = 4096  # open connections per worker (granian's backpressure); more wait in the backlog
    backlog: int = 1024  # the kernel's queue of connections not yet accepted
    access_log: bool = True  # one line per request on stdout (README "Hardening")
    access_log_format: Literal["text", "json"] = "text"
    # granian tuning (see `granian --help`); the defaults are what bench/ measured best
    loop: Literal["auto", "asyncio", "uvloop"] = "uvloop"
    task_impl: Literal["asyncio", "rust"] = "asyncio"
    # "auto" and "2" also serve HTTP/2 without TLS (h2c), but granian then never times out a connection that sends
    # nothing at all; "1" closes those after idle_timeout_seconds.
    http: Literal["auto", "1", "2"] = "1"


class Storage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str = ""  # default: sqlite:///<data_dir>/weir.db
    redis_url: str | None = None
    usage_queue_size: int = 10_000  # usage records waiting for group commit (bounded)
    usage_batch_size: int = 500
    # OpenAI Responses: how long a response can be continued with previous_response_id; 0 stores none.
    response_retention_days: int = 30


class Auth(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pepper: str | None = None  # HMAC pepper for key hashes; default: a file in data_dir, made on first use
    key_cache_ttl_seconds: float = 10.0
    extra_key_headers: list[str] = []


class Admin(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Operator tokens for the management API's /admin/v1/ (README "Management API"): each a token of at least
    # MIN_ADMIN_TOKEN characters (usually "${WEIR_ADMIN_TOKEN}"), or its SHA-256 as "sha256:<64 hex digits>" (what
    # `weir admin hash-token` prints) so the file holds no token. None: the operator API is off.
    tokens: list[str] = []


class Provider(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    dialect: Dialect
    base_url: str
    api_keys: list[str] = []
    headers: dict[str, str] = {}
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 600.0  # longest silence allowed while waiting for upstream bytes
    # Longest wait for the answer's first byte (a stream's first chunk, a unary call's headers and body) before
    # the call fails over to the next route; default: read_timeout_seconds.
    first_byte_timeout_seconds: float | None = None
    request_timeout_seconds: float = 600.0  # a non-streaming call, whole: connect, send, wait, read
    max_stream_seconds: float = 3600.0  # a stream, whole: past it Weir ends it with the dialect's error event
    max_connections: int = 1000
    # Anthropic upstreams: the API version sent when the client's own cannot be forwarded (translated calls),
    # and the anthropic-beta flags forwarded from clients: ["*"] (the default) forwards all of them; a list keeps
    # only those (Anthropic-compatible upstreams that refuse unknown betas need one).
    anthropic_version: str = "2023-06-01"
    anthropic_betas: list[str] = msgspec.field(default_factory=lambda: ["*"])
    # OpenAI upstreams: the API Weir calls. "chat" (/chat/completions) or "responses" (/responses, for upstreams
    # that speak the Responses API natively: Responses clients are then passed through unchanged).
    wire_api: Literal["chat", "responses"] = "chat"


class Price(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """USD per 1M tokens; the media endpoints' units have their own keys (each 0 unless configured)."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float | None = None  # cache reads; default: the input price
    cache_write: float | None = None  # prompt tokens written to the provider's cache; default: the input price
    image: float = 0.0  # USD per generated image (/v1/images/generations)
    character: float = 0.0  # USD per 1M input characters (/v1/audio/speech)
    second: float = 0.0  # USD per second of transcribed audio (/v1/audio/transcriptions, /translations)


class Route(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    provider: str
    model: str
    priority: int = 0  # lower is tried first (as in DNS SRV records)
    weight: int = 1  # among routes of one priority, traffic is spread at random in proportion to weight


class Routing(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_attempts: int = 3  # upstream attempts per call, the first included
    retry_budget_percent: float = 20.0  # retries at most this share of a model's calls over 10 s ...
    retry_budget_minimum: int = 3  # ... but always at least this many per 10 s
    breaker_failures: int = 5  # consecutive failures that open a route's circuit breaker
    breaker_open_seconds: float = 30.0  # how long an open route is skipped before one trial call
    sticky_seconds: float = 600.0  # a session stays on its route and key this long after its last call; 0: off


class LimitsOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[limits]: how rate limits are enforced (docs/limits.md). The limits themselves belong to tiers and keys."""

    # When the limits' backend (Redis) cannot answer: "open" admits the call unchecked (a metric counts it, a warning
    # is logged at most once a minute), "closed" refuses it with 503 service_unavailable.
    on_backend_error: Literal["open", "closed"] = "open"
    redis_timeout_seconds: float = 0.25  # connect and reply timeout of every Redis call; then on_backend_error
    # A max_concurrent slot is a lease renewed while its call runs; a crashed worker's slots free this long after.
    lease_seconds: float = 30.0


class Model(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    aliases: list[str] = []
    price: Price = msgspec.field(default_factory=Price)
    routes: list[Route]
    max_tokens: int = 4096  # sent to upstreams that require max_tokens (Anthropic) when the client gave none
    token_encoding: Literal["o200k_base", "cl100k_base"] = "o200k_base"  # for local token counts


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: Server = msgspec.field(default_factory=Server)
    storage: Storage = msgspec.field(default_factory=Storage)
    auth: Auth = msgspec.field(default_factory=Auth)
    admin: Admin = msgspec.field(default_factory=Admin)
    routing: Routing = msgspec.field(default_factory=Routing)
    limits: LimitsOptions = msgspec.field(default_factory=LimitsOptions)
    providers: list[Provider] = []
    models: list[Model] = []
    source: str | None = None  # the file it came from; None for the embedded defaults

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()

    @property
    def is_demo(self) -> bool:
        return any(p.name == DEMO_PROVIDER and p.base_url == "builtin:echo" for p in self.providers)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "server": Server,
    "storage": Storage,
    "auth": Auth,
    "admin": Admin,
    "routing": Routing,
    "limits": LimitsOptions,
}
MIN_ADMIN_TOKEN = 24
_TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_LISTS: dict[str, type[msgspec.Struct]] = {"providers": Provider, "models": Model}


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
    if problems := _validate_admin(admin, "WEIR_ADMIN_TOKEN"):
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


def usd_to_microcents(value: float | int | Decimal | str, where: str) -> int:
    """Exact conversion of a USD amount to integer microcents (1 USD = 100,000,000)."""
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    scaled = amount * 100_000_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{where}: {value} has more than 8 decimal places (the unit is 1e-8 USD)")
    return int(scaled)


def validate(config: Config) -> list[str]:
    problems: list[str] = []
    s = config.server
    if not 0 < s.port < 65536:
        problems.append(f"server.port: must be between 1 and 65535, got {s.port}")
    if s.workers < 1:
        problems.append(f"server.workers: must be at least 1, got {s.workers}")
    if s.max_body_bytes < 1024:
        problems.append(f"server.max_body_bytes: must be at least 1024, got {s.max_body_bytes}")
    if s.max_upload_bytes < 1024:
        problems.append(f"server.max_upload_bytes: must be at least 1024, got {s.max_upload_bytes}")
    if s.keepalive_seconds <= 0:
        problems.append(f"server.keepalive_seconds: must be greater than 0, got {s.keepalive_seconds}")
    for field in ("idle_timeout_seconds", "body_read_timeout_seconds"):
        if not 0 < getattr(s, field) <= 3600:
            problems.append(f"server.{field}: must be greater than 0 and at most 3600, got {getattr(s, field)}")
    if s.max_connections < 16:
        problems.append(f"server.max_connections: must be at least 16, got {s.max_connections}")
    if s.backlog < 128:
        problems.append(f"server.backlog: must be at least 128, got {s.backlog}")
    if s.count_tokens_max_bytes < 1024:
        problems.append(f"server.count_tokens_max_bytes: must be at least 1024, got {s.count_tokens_max_bytes}")
    if s.count_tokens_per_minute < 0:
        problems.append(
            f"server.count_tokens_per_minute: must not be negative (0: no bound), got {s.count_tokens_per_minute}"
        )
    if s.max_sse_line_bytes < 1024:
        problems.append(f"server.max_sse_line_bytes: must be at least 1024, got {s.max_sse_line_bytes}")
    url = config.storage.url
    if not url.startswith(("sqlite://", "postgresql://", "postgres://")):
        problems.append(f"storage.url: expected sqlite:///path or postgresql://..., got {redact_url(url)!r}")
    elif not url.startswith("sqlite://") and (reason := _url_problem(url)):
        problems.append(f"storage.url: {reason}, got {redact_url(url)!r}")
    if config.storage.usage_queue_size < 1 or config.storage.usage_batch_size < 1:
        problems.append("storage.usage_queue_size and storage.usage_batch_size: must be at least 1")
    if config.storage.response_retention_days < 0:
        days = config.storage.response_retention_days
        problems.append(f"storage.response_retention_days: must not be negative (0 stores no responses), got {days}")
    if config.auth.key_cache_ttl_seconds < 0:
        problems.append("auth.key_cache_ttl_seconds: must not be negative")
    if config.auth.pepper is not None and len(config.auth.pepper) < 16:
        problems.append("auth.pepper: must be at least 16 characters")
    problems.extend(_validate_admin(config.admin))
    problems.extend(_validate_routing(config.routing))
    problems.extend(_validate_limits(config.limits))
    problems.extend(_validate_providers(config.providers))
    problems.extend(_validate_models(config.models, {p.name for p in config.providers}))
    return problems


def _validate_admin(admin: Admin, where: str | None = None) -> list[str]:
    return validate_admin_tokens(admin.tokens, where)


def validate_admin_tokens(tokens: list[str], where: str | None = None) -> list[str]:
    """Never quotes a token: a message says which one and what is wrong with it."""
    problems: list[str] = []
    for i, token in enumerate(tokens):
        at = where or f"admin.tokens[{i}]"
        if token.startswith("sha256:"):
            if not _TOKEN_HASH.match(token):
                problems.append(f"{at}: a token hash is sha256: and 64 lowercase hex digits (weir admin hash-token)")
        elif len(token) < MIN_ADMIN_TOKEN:
            problems.append(
                f"{at}: must be at least {MIN_ADMIN_TOKEN} characters, got {len(token)} (make one with "
                "`openssl rand -hex 32`), or its hash (sha256:...)"
            )
        elif token != token.strip() or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in token):
            problems.append(f"{at}: must be visible ASCII characters only (no spaces), as an HTTP header carries it")
    return problems


def _validate_routing(r: Routing) -> list[str]:
    problems: list[str] = []
    if r.max_attempts < 1:
        problems.append(f"routing.max_attempts: must be at least 1, got {r.max_attempts}")
    if not 0 <= r.retry_budget_percent <= 100:
        problems.append(f"routing.retry_budget_percent: must be between 0 and 100, got {r.retry_budget_percent}")
    if r.retry_budget_minimum < 0:
        problems.append(f"routing.retry_budget_minimum: must not be negative, got {r.retry_budget_minimum}")
    if r.breaker_failures < 1:
        problems.append(f"routing.breaker_failures: must be at least 1, got {r.breaker_failures}")
    if r.breaker_open_seconds <= 0:
        problems.append(f"routing.breaker_open_seconds: must be greater than 0, got {r.breaker_open_seconds}")
    if r.sticky_seconds < 0:
        problems.append(f"routing.sticky_seconds: must not be negative (0 turns them off), got {r.sticky_seconds}")
    return problems


def _validate_limits(options: LimitsOptions) -> list[str]:
    problems: list[str] = []
    if not 0 < options.redis_timeout_seconds <= 10:
        problems.append(
            f"limits.redis_timeout_seconds: must be greater than 0 and at most 10, got {options.redis_timeout_seconds}"
        )
    if not 1 <= options.lease_seconds <= 3600:
        problems.append(f"limits.lease_seconds: must be between 1 and 3600, got {options.lease_seconds}")
    return problems


def _validate_providers(providers: list[Provider]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, p in enumerate(providers):
        at = f"providers[{i}]"
        if not p.name:
            problems.append(f"{at}.name: must not be empty")
        if p.name in seen:
            problems.append(f"{at}.name: the provider {p.name!r} is defined twice")
        seen.add(p.name)
        if p.base_url != "builtin:echo" and not p.base_url.startswith(("http://", "https://")):
            problems.append(f"{at}.base_url: expected an http:// or https:// URL, got {redact_url(p.base_url)!r}")
        elif p.base_url != "builtin:echo" and (reason := _url_problem(p.base_url)):
            problems.append(f"{at}.base_url: {reason}, got {redact_url(p.base_url)!r}")
        if p.wire_api != "chat" and p.dialect != "openai":
            problems.append(f"{at}.wire_api: only 'openai' providers choose their API; {p.dialect!r} has one")
        for j, key in enumerate(p.api_keys):
            if not key:
                problems.append(f"{at}.api_keys[{j}]: is empty")
        if p.connect_timeout_seconds <= 0 or p.read_timeout_seconds <= 0:
            problems.append(f"{at}: timeouts must be greater than 0")
        if p.first_byte_timeout_seconds is not None and p.first_byte_timeout_seconds <= 0:
            problems.append(f"{at}.first_byte_timeout_seconds: must be greater than 0")
        if p.request_timeout_seconds <= 0 or p.max_stream_seconds <= 0:
            problems.append(f"{at}: request_timeout_seconds and max_stream_seconds must be greater than 0")
    return problems


def _validate_models(models: list[Model], providers: set[str]) -> list[str]:
    problems: list[str] = []
    names: dict[str, str] = {}
    for i, m in enumerate(models):
        at = f"models[{i}]"
        for j, name in enumerate([m.id, *m.aliases]):
            where = f"{at}.id" if j == 0 else f"{at}.aliases[{j - 1}]"
            if not name:
                problems.append(f"{where}: must not be empty")
            elif name in names:
                problems.append(f"{where}: the name {name!r} is already used by {names[name]}")
            else:
                names[name] = at
        for field in ("input", "output", "cached_input", "cache_write", "image", "character", "second"):
            value = getattr(m.price, field)
            if value is None:
                continue
            if value < 0:
                problems.append(f"{at}.price.{field}: must not be negative, got {value}")
                continue
            try:
                usd_to_microcents(value, f"{at}.price.{field}")
            except ValueError as exc:
                problems.append(str(exc))
        if not m.routes:
            problems.append(f"{at}.routes: needs at least one route")
        if m.max_tokens < 1:
            problems.append(f"{at}.max_tokens: must be at least 1, got {m.max_tokens}")
        for j, r in enumerate(m.routes):
            if r.provider not in providers:
                problems.append(f"{at}.routes[{j}].provider: no provider named {r.provider!r}")
            if not r.model:
                problems.append(f"{at}.routes[{j}].model: must not be empty")
            if r.weight < 1:
                problems.append(f"{at}.routes[{j}].weight: must be at least 1, got {r.weight}")
    return problems


def _url_problem(url: str) -> str | None:
    """What makes `url` unusable (an unreadable port, say), or None."""
    try:
        port = urlsplit(url).port
    except ValueError:
        return "the port is not a number from 0 to 65535"
    return "the port must not be 0" if port == 0 else None


def self_url(config: Config) -> str:
    host = config.server.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"
