"""weir.toml's schema: one msgspec Struct per section. Unknown settings are refused, by name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

Dialect = Literal["openai", "anthropic", "gemini"]

DEMO_PROVIDER = "demo"
DEMO_MODEL = "demo-echo"


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
    # A worker that has not stopped this long after the stop signal is killed (granian's workers_kill_timeout), so
    # that a stop never hangs; its last usage records get most of this time to be written (README "Shutdown").
    shutdown_timeout_seconds: float = 30.0
    access_log_format: Literal["text", "json"] = "text"
    # granian tuning (see `granian --help`); the defaults are what bench/ measured best
    loop: Literal["auto", "asyncio", "uvloop"] = "uvloop"
    task_impl: Literal["asyncio", "rust"] = "asyncio"
    # "auto" and "2" also serve HTTP/2 without TLS (h2c), but granian then never times out a connection that sends
    # nothing at all; "1" closes those after idle_timeout_seconds.
    http: Literal["auto", "1", "2"] = "1"
    # Proxies whose X-Forwarded-For is believed (CIDRs or addresses): the client's IP is then the nearest hop that
    # is not one of them. None by default: the socket peer is the client and X-Forwarded-For is ignored.
    trusted_proxies: list[str] = []


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
    default_tier: str | None = None  # the tier of keys that name none; None: unlimited, every model


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


class CatalogOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[catalog]: what the model lists (/v1/models) say of each model."""

    show_provider: bool = False  # each entry names the provider of its first route (who really answers)


class Billing(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[billing]: how admission sets money aside for a call (billing/reservations.py, README "Reservations")."""

    # A process's slice of an account's balance lives this long unless renewed (every third of it): the slices of a
    # process that died stop counting after this.
    hold_ttl_seconds: float = 60.0
    # A rich account's slice grows by this many calls' estimates at a time (one store round trip per that many).
    slice_calls: int = 50
    # A slice with no call in flight for this long goes back to the account, for the other processes.
    slice_idle_seconds: float = 10.0
    # The key that encrypts accounts' own provider keys (BYOK) at rest: a Fernet key (`weir byok keygen`), usually
    # "${WEIR_BYOK_KEY}". None: BYOK is off.
    byok_key: str | None = None
    byok_fee_percent: int = 0  # a call made with an account's own key costs this percentage of its list price


class Tier(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """[[tiers]]: what a key of this tier may use. Every limit is optional (absent: unlimited); docs/limits.md."""

    name: str
    description: str = ""  # shown to key owners (the console, the pricing page)
    models: list[str] | None = None  # model ids, aliases or glob patterns ("claude-*"); None: every model
    requests_per_minute: int | None = None
    requests_per_hour: int | None = None
    requests_per_day: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    max_concurrent: int | None = None
    max_ips: int | None = None  # distinct client IPs per key per UTC day
    price_multiplier: float = 1.0  # the tier's prices: the models' prices times this


class Model(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: str
    enabled: bool = True  # false: calls get 403 model_disabled and the model lists leave it out
    aliases: list[str] = []
    price: Price = msgspec.field(default_factory=Price)
    routes: list[Route]
    max_tokens: int = 4096  # sent to upstreams that require max_tokens (Anthropic) when the client gave none
    # The most output a call may produce when its client sets no limit: what admission reserves money for (default:
    # max_tokens). A model's real maximum, for an upstream that is not told max_tokens.
    max_output_tokens: int | None = None
    token_encoding: Literal["o200k_base", "cl100k_base"] = "o200k_base"  # for local token counts


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: Server = msgspec.field(default_factory=Server)
    storage: Storage = msgspec.field(default_factory=Storage)
    auth: Auth = msgspec.field(default_factory=Auth)
    admin: Admin = msgspec.field(default_factory=Admin)
    routing: Routing = msgspec.field(default_factory=Routing)
    limits: LimitsOptions = msgspec.field(default_factory=LimitsOptions)
    billing: Billing = msgspec.field(default_factory=Billing)
    catalog: CatalogOptions = msgspec.field(default_factory=CatalogOptions)
    tiers: list[Tier] = []
    providers: list[Provider] = []
    models: list[Model] = []
    source: str | None = None  # the file it came from; None for the embedded defaults

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()

    @property
    def is_demo(self) -> bool:
        return any(p.name == DEMO_PROVIDER and p.base_url == "builtin:echo" for p in self.providers)
