-- Admission and money settings (issues 12 and 13). A key has a tier (null: auth.default_tier) and may have its own
-- limits over the tier's (a JSON object of limit name -> number), its own model list (a JSON array of ids,
-- aliases or glob patterns; null: the tier's), an IP allow-list (a JSON array of CIDRs; null: any address), an
-- expiry, a default price cap per call, and a spend limit over a period (day, week, month, total).
ALTER TABLE api_keys ADD COLUMN tier TEXT;
ALTER TABLE api_keys ADD COLUMN limits TEXT;
ALTER TABLE api_keys ADD COLUMN models TEXT;
ALTER TABLE api_keys ADD COLUMN ip_allow TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN max_price_microcents INTEGER;
ALTER TABLE api_keys ADD COLUMN spend_limit_microcents INTEGER;
ALTER TABLE api_keys ADD COLUMN spend_period TEXT CHECK (spend_period IN ('day', 'week', 'month', 'total'));

-- An account's price multiplier in parts per million (1000000 = 1x), and the tiers its owner may give its keys
-- (a JSON array; null: none but the operator's choice).
ALTER TABLE accounts ADD COLUMN rate_multiplier_ppm INTEGER NOT NULL DEFAULT 1000000
    CHECK (rate_multiplier_ppm > 0);
ALTER TABLE accounts ADD COLUMN allowed_tiers TEXT;

-- Models an operator disabled (`weir models disable`): kept here so that every worker and replica refuses them
-- within auth.key_cache_ttl_seconds.
CREATE TABLE model_state (
    id         TEXT    PRIMARY KEY,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    reason     TEXT,
    updated_at INTEGER NOT NULL
);
