-- Operator state of providers, shared by every worker and replica: a pause (with its reason) and the instant of
-- the last "bring every key back" command. Workers poll it every auth.key_cache_ttl_seconds.
CREATE TABLE provider_state (
    name          TEXT    PRIMARY KEY,
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    reason        TEXT,
    keys_reset_at BIGINT  NOT NULL DEFAULT 0,
    updated_at    BIGINT  NOT NULL
);

-- What each worker last saw of a provider's routes and keys (breaker states, key states), as JSON, so the CLI and
-- the admin API can show health that lives in the workers' memory. Rows of workers gone quiet are ignored.
CREATE TABLE provider_health (
    provider   TEXT    NOT NULL,
    worker     TEXT    NOT NULL,
    health     TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, worker)
);
