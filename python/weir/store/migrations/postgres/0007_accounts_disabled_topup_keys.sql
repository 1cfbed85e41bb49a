-- An operator can disable an account: authentication refuses every key of it (403 account_disabled) within
-- auth.key_cache_ttl_seconds, and enabling it again brings them back.
ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- Top-ups carry the caller's idempotency key: a retried top-up finds the entry it made and is applied once.
ALTER TABLE ledger ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX ledger_idempotency_key_idx ON ledger (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
