-- One row that /healthz rewrites when nothing else has been written for a few seconds: a real commit, so that a
-- database that can still be read but not written (a full disk, a read-only standby after a failover) is reported.
CREATE TABLE write_probe (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT   NOT NULL
);
