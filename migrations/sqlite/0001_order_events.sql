-- The event store of the orders application: the layout that the eventsourcing library
-- reads and writes (its own table creation is off); rowid is the notification id.
CREATE TABLE orders_events (
    originator_id TEXT,
    originator_version INTEGER,
    topic TEXT,
    state BLOB,
    PRIMARY KEY (originator_id, originator_version)
);
