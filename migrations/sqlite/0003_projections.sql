-- Where each projection is in the event log, and its read model generation. A projection
-- writes its rows and its position in one transaction.
CREATE TABLE projection_positions (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL DEFAULT 1,
    position INTEGER NOT NULL DEFAULT 0,
    failed_position INTEGER,
    error TEXT,
    rebuild_generation INTEGER,
    rebuild_position INTEGER,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The order tabs read model: one row per order and generation. Times are UTC ISO-8601 text
-- (they sort as text); amounts are in cents.
CREATE TABLE order_tabs (
    generation INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    marketplace_order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    tab TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    search TEXT NOT NULL,
    goods_total_cents INTEGER NOT NULL,
    shipping_price_cents INTEGER NOT NULL,
    order_total_cents INTEGER NOT NULL,
    refunded_cents INTEGER NOT NULL DEFAULT 0,
    line_count INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    acceptance_deadline TEXT NOT NULL,
    shipped_at TEXT,
    carrier TEXT,
    tracking_number TEXT,
    tracking_url TEXT,
    last_event_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (generation, order_id)
);

CREATE INDEX order_tabs_tab_created_idx
    ON order_tabs (generation, tab, created_at DESC, order_id DESC);
CREATE INDEX order_tabs_tab_deadline_idx
    ON order_tabs (generation, tab, acceptance_deadline, order_id);
CREATE INDEX order_tabs_created_idx
    ON order_tabs (generation, created_at DESC, order_id DESC);
