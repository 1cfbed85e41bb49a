-- One row that /healthz rewrites when nothing else has been written for a few seconds: a real commit, so that a
-- database that can still be read but not written (a full disk, an immutable or read-only file) is reported.
CREATE TABLE write_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
