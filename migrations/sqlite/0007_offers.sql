-- The offers read model: one row per offer and generation, fed by the offers projection.
-- `offer_values` holds every field as the feed sends it (JSON, money as strings).
CREATE TABLE offer_list (
    generation INTEGER NOT NULL,
    offer_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    ean TEXT,
    price_cents INTEGER,
    quantity INTEGER,
    published INTEGER NOT NULL,
    has_errors INTEGER NOT NULL,
    errors TEXT NOT NULL,
    offer_values TEXT NOT NULL,
    promotion TEXT,
    operation TEXT,
    search TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (generation, offer_id)
);
CREATE UNIQUE INDEX offer_list_key_idx ON offer_list (generation, channel, sku);

-- A digest of each offer's values and the version it was taken at: a source row whose values
-- are those of the stored offer is skipped without loading the offer. The highest version wins.
CREATE TABLE offer_sources (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    digest TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- What the marketplace has of each offer: the version last sent, in which import, and its
-- outcome (sent: import running; live; rejected with the marketplace's message).
CREATE TABLE offer_sync (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    sent_version INTEGER NOT NULL,
    import_id TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- Offer imports sent to the marketplace (OF01) and followed (OF02, OF03).
CREATE TABLE offer_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    import_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    operation TEXT,
    state TEXT NOT NULL,
    offers INTEGER NOT NULL,
    lines_in_error INTEGER,
    message TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX offer_imports_channel_idx ON offer_imports (channel, id);
