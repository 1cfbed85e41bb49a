-- An operator's prices for a configured model (`weir models price`, PATCH /admin/v1/models/{id}): the JSON of the
-- configuration's [models.price] table, every field present; NULL: the configuration's prices. Every worker and
-- replica bills at them within auth.key_cache_ttl_seconds.
ALTER TABLE model_state ADD COLUMN price TEXT;
