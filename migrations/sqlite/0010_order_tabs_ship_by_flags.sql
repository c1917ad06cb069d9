-- The order list's ship-by time (the marketplace's shipping deadline, else its lead time after
-- acceptance) and the marketplace's flags on each order. Rows written before stay at NULL and
-- false until the projection is rebuilt from the events.
ALTER TABLE order_tabs ADD COLUMN ship_by TEXT;
ALTER TABLE order_tabs ADD COLUMN has_customer_message INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_tabs ADD COLUMN has_incident INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_tabs ADD COLUMN can_cancel INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_tabs ADD COLUMN can_refund INTEGER NOT NULL DEFAULT 0;

CREATE INDEX order_tabs_tab_ship_by_idx ON order_tabs (generation, tab, ship_by, order_id);
