-- API keys: only a SHA-256 digest of each key is kept (keys are 256-bit random values, so a
-- plain digest cannot be reversed); the key itself is shown once, when it is created.
CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    created_at double precision NOT NULL,
    last_used_at double precision,
    revoked_at double precision
);

-- Channel settings an admin changes through the API; absent values fall back to the
-- service's configuration.
CREATE TABLE channel_settings (
    channel text PRIMARY KEY,
    auto_accept boolean,
    updated_at double precision NOT NULL,
    updated_by text NOT NULL
);
