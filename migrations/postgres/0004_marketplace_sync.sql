-- Marketplace sync. Times are epoch seconds from the service's clock, so that jobs and
-- tests reason about them the same way on every store.

-- The merchant's actions waiting to be delivered to the marketplace: one row per event
-- that asks for one (accept, refuse, ship, cancel, refund), written by the outbox
-- projection in the same transaction that moves its position.
CREATE TABLE marketplace_actions (
    id bigserial PRIMARY KEY,
    order_id uuid NOT NULL,
    event_version integer NOT NULL,
    position bigint NOT NULL,
    kind text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    error_code text,
    result text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    next_attempt_at double precision NOT NULL DEFAULT 0,
    UNIQUE (order_id, event_version)
);
CREATE INDEX marketplace_actions_open_idx ON marketplace_actions (next_attempt_at)
    WHERE state IN ('pending', 'sent');
CREATE INDEX marketplace_actions_order_idx ON marketplace_actions (order_id, id);

-- Up to where each channel's orders were read (the marketplace's last update date).
CREATE TABLE sync_cursors (
    channel text PRIMARY KEY,
    last_update_date double precision,
    last_run_at double precision,
    last_run_orders integer,
    last_error text
);

-- Each order as last read from the marketplace, with a digest of its whole content: an
-- order read again unchanged is not reconciled again.
CREATE TABLE marketplace_orders (
    channel text NOT NULL,
    marketplace_order_id text NOT NULL,
    state text NOT NULL,
    last_updated double precision NOT NULL,
    digest text NOT NULL,
    seen_at double precision NOT NULL,
    PRIMARY KEY (channel, marketplace_order_id)
);

-- Orders the sync could not import or reconcile, with the reason; resolved when a later
-- read succeeds.
CREATE TABLE import_errors (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    marketplace_order_id text NOT NULL,
    kind text NOT NULL,
    field text,
    reason text NOT NULL,
    marketplace_state text,
    occurrences integer NOT NULL DEFAULT 1,
    first_seen double precision NOT NULL,
    last_seen double precision NOT NULL,
    resolved_at double precision,
    UNIQUE (channel, marketplace_order_id, kind)
);

-- Which process runs each periodic job: a lease renewed while it runs.
CREATE TABLE job_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    expires_at double precision NOT NULL
);
