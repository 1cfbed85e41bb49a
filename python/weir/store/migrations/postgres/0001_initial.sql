-- Weir storage schema, version 1 (PostgreSQL). Times are epoch milliseconds; money is integer microcents.

CREATE TABLE accounts (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               TEXT   NOT NULL UNIQUE,
    balance_microcents BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    kind         TEXT   NOT NULL CHECK (kind IN ('inference', 'management')),
    name         TEXT,
    secret_hmac  BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE INDEX api_keys_account_id_idx ON api_keys (account_id);

CREATE TABLE usage_records (
    request_id       TEXT    PRIMARY KEY,
    account_id       BIGINT  NOT NULL REFERENCES accounts (id),
    key_id           TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    upstream_model   TEXT    NOT NULL,
    status           INTEGER NOT NULL,
    input_tokens     BIGINT  NOT NULL,
    cached_tokens    BIGINT  NOT NULL,
    output_tokens    BIGINT  NOT NULL,
    reasoning_tokens BIGINT  NOT NULL,
    cost_microcents  BIGINT  NOT NULL CHECK (cost_microcents >= 0),
    duration_ms      BIGINT  NOT NULL,
    ttfb_ms          BIGINT,
    stream           BOOLEAN NOT NULL,
    created_at       BIGINT  NOT NULL
);

CREATE INDEX usage_records_account_created_idx ON usage_records (account_id, created_at);

CREATE TABLE ledger (
    id                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id               BIGINT NOT NULL REFERENCES accounts (id),
    kind                     TEXT   NOT NULL CHECK (kind IN ('initial', 'topup', 'usage', 'adjustment')),
    amount_microcents        BIGINT NOT NULL,
    balance_after_microcents BIGINT NOT NULL,
    request_id               TEXT,
    note                     TEXT,
    created_at               BIGINT NOT NULL
);

CREATE INDEX ledger_account_id_idx ON ledger (account_id, id);

-- A request is charged at most once: usage_records' primary key is the guard. A 'usage' ledger entry is one
-- group commit's debit of one account (its note counts the calls); the calls themselves are usage_records.
