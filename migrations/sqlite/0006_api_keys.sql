-- API keys: only a SHA-256 digest of each key is kept (keys are 256-bit random values, so a
-- plain digest cannot be reversed); the key itself is shown once, when it is created.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);

-- Channel settings an admin changes through the API; absent values fall back to the
-- service's configuration.
CREATE TABLE channel_settings (
    channel TEXT PRIMARY KEY,
    auto_accept INTEGER,
    updated_at REAL NOT NULL,
    updated_by TEXT NOT NULL
);
