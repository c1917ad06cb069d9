-- The order list's ship-by time (the marketplace's shipping deadline, else its lead time after
-- acceptance) and the marketplace's flags on each order. Rows written before stay at NULL and
-- false until the projection is rebuilt from the events.
ALTER TABLE order_tabs ADD COLUMN ship_by timestamptz;
ALTER TABLE order_tabs ADD COLUMN has_customer_message boolean NOT NULL DEFAULT false;
ALTER TABLE order_tabs ADD COLUMN has_incident boolean NOT NULL DEFAULT false;
ALTER TABLE order_tabs ADD COLUMN can_cancel boolean NOT NULL DEFAULT false;
ALTER TABLE order_tabs ADD COLUMN can_refund boolean NOT NULL DEFAULT false;

CREATE INDEX order_tabs_tab_ship_by_idx ON order_tabs (generation, tab, ship_by, order_id);
