"""Checking a decoded configuration: every value that is out of range, inconsistent or unsafe, as
`key.path: sentence`; a message never quotes a secret."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from weir.config.schema import Admin, Billing, Config, LimitsOptions, Model, Price, Provider, Routing, Tier
from weir.redact import redact_url

MIN_ADMIN_TOKEN = 24
# A tier's limits: every field of Tier but these (the same names as weir.limits.LIMIT_NAMES, checked by a test)
TIER_LIMITS = tuple(f for f in Tier.__struct_fields__ if f not in ("name", "description", "models", "price_multiplier"))
GLOB_CHARS = frozenset("*?[")
_TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


def usd_to_microcents(value: float | int | Decimal | str, where: str) -> int:
    """Exact conversion of a USD amount to integer microcents (1 USD = 100,000,000)."""
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    scaled = amount * 100_000_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{where}: {value} has more than 8 decimal places (the unit is 1e-8 USD)")
    return int(scaled)


PRICE_FIELDS = tuple(Price.__struct_fields__)
MAX_PRICE_USD = 1_000_000  # per 1M tokens, per image, per 1M characters, per second: past it, surely a typo


def price_problems(price: Price, at: str) -> list[str]:
    """What is wrong with a model's prices (`at`: where they are, "models[0].price"), each as `where: sentence`."""
    problems = []
    for field in PRICE_FIELDS:
        value = getattr(price, field)
        if value is None:
            continue
        if not value >= 0:  # NaN too
            problems.append(f"{at}.{field}: must not be negative, got {value}")
            continue
        if value > MAX_PRICE_USD:
            problems.append(f"{at}.{field}: must be at most {MAX_PRICE_USD:,} USD, got {value}")
            continue
        try:
            usd_to_microcents(value, f"{at}.{field}")
        except ValueError as exc:
            problems.append(str(exc))
    return problems


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
    for field in ("idle_timeout_seconds", "body_read_timeout_seconds", "shutdown_timeout_seconds"):
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
    problems.extend(validate_admin(config.admin))
    problems.extend(_validate_routing(config.routing))
    problems.extend(_validate_limits(config.limits))
    problems.extend(_validate_billing(config.billing))
    problems.extend(_validate_providers(config.providers))
    problems.extend(_validate_models(config.models, {p.name for p in config.providers}))
    problems.extend(_validate_tiers(config))
    for i, cidr in enumerate(s.trusted_proxies):
        if (reason := network_problem(cidr)) is not None:
            problems.append(f"server.trusted_proxies[{i}]: {reason}")
    return problems


def network_problem(cidr: str) -> str | None:
    """Why `cidr` is not an IP address or a CIDR network, or None."""
    try:
        ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return f"{cidr!r} is not an IP address or a CIDR network (10.0.0.0/8, 2001:db8::/32, 192.0.2.7)"
    return None


def limit_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"must be a whole number of at least 1 (leave it out for no limit), got {value!r}"
    return None


def model_pattern_problem(pattern: str, names: set[str]) -> str | None:
    """A tier's or key's model entry: a glob pattern, or the id or alias of a configured model."""
    if not pattern:
        return "must not be empty"
    if not GLOB_CHARS.intersection(pattern) and pattern not in names:
        return f"no model has the id or alias {pattern!r} (a pattern such as 'claude-*' matches several)"
    return None


def tier_problems(tier: Tier, at: str, names: set[str]) -> list[str]:
    """What is wrong with a tier's limits, models (`names`: every model id and alias) and price multiplier."""
    problems: list[str] = []
    for field in TIER_LIMITS:
        value = getattr(tier, field)
        if value is not None and (reason := limit_problem(value)) is not None:
            problems.append(f"{at}.{field}: {reason}")
    for j, pattern in enumerate(tier.models or []):
        if (reason := model_pattern_problem(pattern, names)) is not None:
            problems.append(f"{at}.models[{j}]: {reason}")
    if not 0 < tier.price_multiplier <= 1000:
        problems.append(f"{at}.price_multiplier: must be greater than 0 and at most 1000, got {tier.price_multiplier}")
    elif (Decimal(repr(tier.price_multiplier)) * 1000) % 1:
        problems.append(f"{at}.price_multiplier: at most 3 decimal places, got {tier.price_multiplier}")
    return problems


def has_limits(tier: Tier) -> bool:
    return any(getattr(tier, f) is not None for f in TIER_LIMITS)


def workers_problem(config: Config, tier: str) -> str | None:
    """Rate limits (of `tier`) with several workers and no Redis: each worker would admit a key's whole limit."""
    if config.server.workers <= 1 or config.storage.redis_url:
        return None
    return (
        f"server.workers: {config.server.workers} workers with rate limits (tier {tier!r}) need "
        "storage.redis_url: in-process limits live in one worker's memory, so each worker would admit a key's "
        "whole limit. Set storage.redis_url (e.g. redis://127.0.0.1:6379/0) or run one worker (server.workers = 1)"
    )


def _validate_tiers(config: Config) -> list[str]:
    problems: list[str] = []
    names = {name for m in config.models for name in (m.id, *m.aliases)}
    seen: set[str] = set()
    for i, tier in enumerate(config.tiers):
        at = f"tiers[{i}]"
        if not tier.name:
            problems.append(f"{at}.name: must not be empty")
        elif tier.name in seen:
            problems.append(f"{at}.name: the tier {tier.name!r} is defined twice")
        seen.add(tier.name)
        problems += tier_problems(tier, at, names)
    limited = [t.name for t in config.tiers if has_limits(t)]
    if limited and (problem := workers_problem(config, limited[0])) is not None:
        problems.append(problem)
    default = config.auth.default_tier
    if default is not None and default not in seen:
        known = ", ".join(sorted(seen)) or "none is defined"
        problems.append(f"auth.default_tier: no tier named {default!r} ([[tiers]]: {known})")
    return problems


def validate_admin(admin: Admin, where: str | None = None) -> list[str]:
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


def _validate_billing(billing: Billing) -> list[str]:
    problems: list[str] = []
    if not 5 <= billing.hold_ttl_seconds <= 3600:
        problems.append(f"billing.hold_ttl_seconds: must be between 5 and 3600, got {billing.hold_ttl_seconds}")
    if isinstance(billing.slice_calls, bool) or not 1 <= billing.slice_calls <= 10_000:
        problems.append(f"billing.slice_calls: must be a whole number from 1 to 10000, got {billing.slice_calls}")
    if isinstance(billing.byok_fee_percent, bool) or not 0 <= billing.byok_fee_percent <= 100:
        fee = billing.byok_fee_percent
        problems.append(f"billing.byok_fee_percent: must be a whole number from 0 to 100, got {fee}")
    if billing.byok_key is not None:
        try:
            Fernet(billing.byok_key.encode())
        except ValueError:
            problems.append("billing.byok_key: not a Fernet key (32 url-safe base64-encoded bytes: weir byok keygen)")
    if not 0 < billing.slice_idle_seconds <= 3600:
        problems.append(
            f"billing.slice_idle_seconds: must be greater than 0 and at most 3600, got {billing.slice_idle_seconds}"
        )
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
        problems += price_problems(m.price, f"{at}.price")
        if not m.routes:
            problems.append(f"{at}.routes: needs at least one route")
        if m.max_tokens < 1:
            problems.append(f"{at}.max_tokens: must be at least 1, got {m.max_tokens}")
        if m.max_output_tokens is not None and m.max_output_tokens < 1:
            problems.append(f"{at}.max_output_tokens: must be at least 1, got {m.max_output_tokens}")
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
