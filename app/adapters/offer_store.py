"""What the offers service keeps beside the event store: the digest of each offer's values as
last taken from a source (`offer_sources`), and many offers' events read in a few statements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from app.adapters.db import Database
from app.adapters.recorders import EVENTS_TABLE


class OfferSourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # The event store keeps ids as UUIDs on PostgreSQL, as hex strings on SQLite.
        self.native_ids = db.dialect == "postgres"

    def digests(self, channel: str) -> dict[str, str]:
        return {sku: digest for sku, digest in self.db.execute(
            "SELECT sku, digest FROM offer_sources WHERE channel = %s", (channel,))}

    def record_digests(self, rows: Sequence[tuple[str, str, str, int]]) -> None:
        """(channel, sku, digest, version) rows; a digest taken at a lower version never
        replaces one taken at a higher one."""
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO offer_sources (channel, sku, digest, version) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (channel, sku) DO UPDATE SET digest = excluded.digest,"
                " version = excluded.version WHERE excluded.version > offer_sources.version",
                rows,
            )

    def stored_events(self, ids: Sequence[UUID]) -> Iterator[StoredEvent]:
        """The events of these aggregates, each aggregate's in version order."""
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            rows = self.db.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {EVENTS_TABLE}"
                f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                tuple(i if self.native_ids else i.hex for i in chunk),
            )
            for oid, version, topic, state in rows:
                yield StoredEvent(originator_id=oid if isinstance(oid, UUID) else UUID(oid),
                                  originator_version=version, topic=topic, state=bytes(state))


__all__ = ["OfferSourceStore"]
