-- Marketplace sync. Times are epoch seconds from the service's clock, so that jobs and
-- tests reason about them the same way on every store.

-- The merchant's actions waiting to be delivered to the marketplace: one row per event
-- that asks for one (accept, refuse, ship, cancel, refund), written by the outbox
-- projection in the same transaction that moves its position.
CREATE TABLE marketplace_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    event_version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    error_code TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    UNIQUE (order_id, event_version)
);
CREATE INDEX marketplace_actions_open_idx ON marketplace_actions (next_attempt_at)
    WHERE state IN ('pending', 'sent');
CREATE INDEX marketplace_actions_order_idx ON marketplace_actions (order_id, id);

-- Up to where each channel's orders were read (the marketplace's last update date).
CREATE TABLE sync_cursors (
    channel TEXT PRIMARY KEY,
    last_update_date REAL,
    last_run_at REAL,
    last_run_orders INTEGER,
    last_error TEXT
);

-- Each order as last read from the marketplace, with a digest of its whole content: an
-- order read again unchanged is not reconciled again.
CREATE TABLE marketplace_orders (
    channel TEXT NOT NULL,
    marketplace_order_id TEXT NOT NULL,
    state TEXT NOT NULL,
    last_updated REAL NOT NULL,
    digest TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (channel, marketplace_order_id)
);

-- Orders the sync could not import or reconcile, with the reason; resolved when a later
-- read succeeds.
CREATE TABLE import_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    marketplace_order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    field TEXT,
    reason TEXT NOT NULL,
    marketplace_state TEXT,
    occurrences INTEGER NOT NULL DEFAULT 1,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    resolved_at REAL,
    UNIQUE (channel, marketplace_order_id, kind)
);

-- Which process runs each periodic job: a lease renewed while it runs.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
);
