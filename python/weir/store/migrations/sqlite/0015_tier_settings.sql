-- An operator's settings for a configured tier (`weir tiers set`, PATCH /admin/v1/tiers/{name}): the JSON of the
-- configuration's [[tiers]] entry, every field present, in place of the configured one; no row: the configuration's.
-- Every worker and replica applies them within auth.key_cache_ttl_seconds.
CREATE TABLE tier_state (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
