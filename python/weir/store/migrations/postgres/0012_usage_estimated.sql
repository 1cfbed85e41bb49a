-- Whether Weir counted a call's usage itself (a client that left a stream before the upstream reported it).
ALTER TABLE usage_records ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT FALSE;
