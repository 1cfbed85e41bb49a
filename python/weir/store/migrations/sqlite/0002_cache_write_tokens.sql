-- Anthropic-style prompt caching: tokens written to the cache are billed apart from plain input.
ALTER TABLE usage_records ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
