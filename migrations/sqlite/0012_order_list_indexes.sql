-- The order list's sort by ship-by time reads its index in order: the expression is the one
-- the query sorts on (orders without a ship-by time last), not the bare column.
CREATE INDEX order_tabs_tab_ship_by_key_idx ON order_tabs
    (generation, tab, COALESCE(ship_by, '9999-12-31T23:59:59.000000Z'), order_id);
DROP INDEX IF EXISTS order_tabs_tab_ship_by_idx;
