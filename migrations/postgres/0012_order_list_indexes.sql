-- The order list's sort by ship-by time reads its index in order: the expression is the one
-- the query sorts on (orders without a ship-by time last), not the bare column.
CREATE INDEX order_tabs_tab_ship_by_key_idx ON order_tabs
    (generation, tab, COALESCE(ship_by, '9999-12-31 23:59:59+00'::timestamptz), order_id);
DROP INDEX IF EXISTS order_tabs_tab_ship_by_idx;

-- The search (q) is a substring match, search LIKE '%text%': a trigram index answers it without
-- reading every row. Where the pg_trgm extension is not installed with PostgreSQL the list
-- still works, reading the rows; the same when the database user may not create it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX order_tabs_search_trgm_idx ON order_tabs USING gin (search gin_trgm_ops);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm not installed: the order search reads the rows';
END
$$;
