-- OpenAI Responses conversations kept for `previous_response_id`. Each row holds the whole conversation after
-- that response (earlier items, the request's input items, the response's output items) as one JSON array, so a
-- continuation is one primary-key read. Rows past expires_at are deleted in bounded batches.
CREATE TABLE responses (
    id         TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    model      TEXT    NOT NULL,
    items      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX responses_expires_at_idx ON responses (expires_at);
