-- Responses of commands sent with an Idempotency-Key, replayed on retries. A command's row is
-- written in the same transaction as the events it caused.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash text NOT NULL,
    status_code integer NOT NULL,
    response_body text NOT NULL,
    response_headers text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
