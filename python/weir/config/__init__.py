"""weir.toml: the schema (msgspec Structs), `${NAME}` expansion, and validation with key paths.

Every problem is reported as `<key path>: <plain sentence>`, all of them at once, and nothing starts.
`schema` holds the Structs, `load` reads a file (or the embedded defaults), `validate` checks the values.
"""

from __future__ import annotations

from weir.config.errors import ConfigError, ConfigNotFound
from weir.config.load import default_data_dir, embedded_config, finalize, load_config, parse_config, self_url
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
from weir.config.validate import (
    MIN_ADMIN_TOKEN,
    TIER_LIMITS,
    has_limits,
    price_problems,
    tier_problems,
    usd_to_microcents,
    validate,
    validate_admin_tokens,
    workers_problem,
)

__all__ = [
    "DEMO_MODEL",
    "DEMO_PROVIDER",
    "MIN_ADMIN_TOKEN",
    "Admin",
    "Auth",
    "Config",
    "ConfigError",
    "ConfigNotFound",
    "Dialect",
    "Billing",
    "CatalogOptions",
    "LimitsOptions",
    "Model",
    "Price",
    "Provider",
    "Route",
    "Routing",
    "Server",
    "Storage",
    "Tier",
    "default_data_dir",
    "embedded_config",
    "finalize",
    "load_config",
    "parse_config",
    "self_url",
    "price_problems",
    "TIER_LIMITS",
    "has_limits",
    "tier_problems",
    "workers_problem",
    "usd_to_microcents",
    "validate",
    "validate_admin_tokens",
]
