-- OpenAI Responses conversations kept for `previous_response_id`. Each row holds the whole conversation after
-- that response (earlier items, the request's input items, the response's output items) as one JSON array, so a
-- continuation is one primary-key read. Rows past expires_at are deleted in bounded batches. The items are TEXT,
-- not JSONB: they are only ever read back whole, byte for byte, and never queried.
CREATE TABLE responses (
    id         TEXT   PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    model      TEXT   NOT NULL,
    items      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX responses_expires_at_idx ON responses (expires_at);
