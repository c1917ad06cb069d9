-- The offers read model: one row per offer and generation, fed by the offers projection.
-- `offer_values` holds every field as the feed sends it (JSON, money as strings).
CREATE TABLE offer_list (
    generation integer NOT NULL,
    offer_id uuid NOT NULL,
    channel text NOT NULL,
    sku text NOT NULL,
    ean text,
    price_cents bigint,
    quantity integer,
    published boolean NOT NULL,
    has_errors boolean NOT NULL,
    errors text NOT NULL,
    offer_values text NOT NULL,
    promotion text,
    operation text,
    search text NOT NULL,
    version integer NOT NULL,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (generation, offer_id)
);
CREATE UNIQUE INDEX offer_list_key_idx ON offer_list (generation, channel, sku);

-- A digest of each offer's values and the version it was taken at: a source row whose values
-- are those of the stored offer is skipped without loading the offer. The highest version wins.
CREATE TABLE offer_sources (
    channel text NOT NULL,
    sku text NOT NULL,
    digest text NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- What the marketplace has of each offer: the version last sent, in which import, and its
-- outcome (sent: import running; live; rejected with the marketplace's message).
CREATE TABLE offer_sync (
    channel text NOT NULL,
    sku text NOT NULL,
    sent_version integer NOT NULL,
    import_id text NOT NULL,
    state text NOT NULL,
    message text,
    updated_at double precision NOT NULL,
    PRIMARY KEY (channel, sku)
);

-- Offer imports sent to the marketplace (OF01) and followed (OF02, OF03).
CREATE TABLE offer_imports (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    import_id text NOT NULL,
    reason text NOT NULL,
    operation text,
    state text NOT NULL,
    offers integer NOT NULL,
    lines_in_error integer,
    message text,
    created_at double precision NOT NULL,
    finished_at double precision
);
CREATE INDEX offer_imports_channel_idx ON offer_imports (channel, id);
