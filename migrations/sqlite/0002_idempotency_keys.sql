-- Responses of commands sent with an Idempotency-Key, replayed on retries. A command's row is
-- written in the same transaction as the events it caused.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
