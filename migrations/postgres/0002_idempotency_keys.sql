-- Responses of commands sent with an Idempotency-Key, replayed on retries.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash text NOT NULL,
    state text NOT NULL CHECK (state IN ('started', 'done')),
    status_code integer,
    response_body text,
    response_headers text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
