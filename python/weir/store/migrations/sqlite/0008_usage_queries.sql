-- The management API reads usage records newest first, per account (optionally per key) and across accounts, in
-- pages that start after a (created_at, request_id) position: one index for each of those orders, so that a page
-- reads its own rows and needs no sort. The account index gains request_id for that.
DROP INDEX usage_records_account_created_idx;
CREATE INDEX usage_records_account_time_idx ON usage_records (account_id, created_at, request_id);
CREATE INDEX usage_records_account_key_time_idx ON usage_records (account_id, key_id, created_at, request_id);
CREATE INDEX usage_records_time_idx ON usage_records (created_at, request_id);
