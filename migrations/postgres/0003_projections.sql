-- Where each projection is in the event log, and its read model generation. A projection
-- writes its rows and its position in one transaction.
CREATE TABLE projection_positions (
    name text PRIMARY KEY,
    generation integer NOT NULL DEFAULT 1,
    position bigint NOT NULL DEFAULT 0,
    failed_position bigint,
    error text,
    rebuild_generation integer,
    rebuild_position bigint,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The order tabs read model: one row per order and generation; the active generation is
-- the one in projection_positions, a rebuild fills the next one and then switches.
CREATE TABLE order_tabs (
    generation integer NOT NULL,
    order_id uuid NOT NULL,
    channel text NOT NULL,
    marketplace_order_id text NOT NULL,
    status text NOT NULL,
    tab text NOT NULL,
    customer_name text NOT NULL,
    search text NOT NULL,
    goods_total_cents bigint NOT NULL,
    shipping_price_cents bigint NOT NULL,
    order_total_cents bigint NOT NULL,
    refunded_cents bigint NOT NULL DEFAULT 0,
    line_count integer NOT NULL,
    created_at timestamptz NOT NULL,
    acceptance_deadline timestamptz NOT NULL,
    shipped_at timestamptz,
    carrier text,
    tracking_number text,
    tracking_url text,
    last_event_at timestamptz NOT NULL,
    version integer NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (generation, order_id)
);

CREATE INDEX order_tabs_tab_created_idx
    ON order_tabs (generation, tab, created_at DESC, order_id DESC);
CREATE INDEX order_tabs_tab_deadline_idx
    ON order_tabs (generation, tab, acceptance_deadline, order_id);
CREATE INDEX order_tabs_created_idx
    ON order_tabs (generation, created_at DESC, order_id DESC);
