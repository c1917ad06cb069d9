-- Each marketplace action carries its payload: what to send, as its event said it (JSON).
ALTER TABLE marketplace_actions ADD COLUMN payload text;

-- What the outbox projection keeps of each order to compose its actions: the order's channel
-- and marketplace id, and its lines (JSON: unit price, quantity, quantity cancelled).
CREATE TABLE outbox_orders (
    order_id uuid PRIMARY KEY,
    channel text NOT NULL,
    marketplace_order_id text NOT NULL,
    lines text NOT NULL
);

-- The outbox projection reads the log again from the start once: it fills outbox_orders and
-- the payload of the actions written before; their delivery state is left as it is.
UPDATE projection_positions SET position = 0, failed_position = NULL, error = NULL
    WHERE name = 'marketplace_actions';
