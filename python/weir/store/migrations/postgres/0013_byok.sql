-- Bring your own key: an account's own API key for a provider, encrypted with billing.byok_key (Fernet: AES-128-CBC
-- and HMAC-SHA256, from the cryptography package), and whether a call was made with one.
CREATE TABLE byok_keys (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    provider   TEXT   NOT NULL,
    secret     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, provider)
);
ALTER TABLE usage_records ADD COLUMN byok BOOLEAN NOT NULL DEFAULT FALSE;
