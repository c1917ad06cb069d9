-- Commands sent with an Idempotency-Key are remembered as facts (the aggregate and version
-- they reached, or why they were refused) instead of a rendered HTTP answer. Records of the
-- old form are not carried over: they only served retries of recent requests, and a retry
-- that finds none is still never applied twice (commands need the version they saw).
CREATE TABLE command_records (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('created', 'changed', 'refused')),
    aggregate_id TEXT,
    aggregate_version INTEGER,
    refusal TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX command_records_created_at_idx ON command_records (created_at);

DROP TABLE idempotency_keys;
