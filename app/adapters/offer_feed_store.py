"""The offer feed's own tables: `offer_imports` (each file sent and what became of it) and
`offer_sync` (per offer, the version last sent, the import it went in, and its state there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from app.adapters.db import Database
from app.ports.stores import (
    COMPLETE,
    FAILED,
    LIVE,
    PENDING,
    REJECTED,
    RUNNING,
    SENT,
    OfferImportRecord,
)

_IMPORT_COLUMNS = ("id, channel, import_id, reason, operation, state, offers, lines_in_error,"
                   " message, created_at, finished_at")

_UPSERT_SYNC = (
    "INSERT INTO offer_sync (channel, sku, sent_version, import_id, state, message, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, NULL, %s)"
    " ON CONFLICT (channel, sku) DO UPDATE SET sent_version = excluded.sent_version,"
    " import_id = excluded.import_id, state = excluded.state, message = NULL,"
    " updated_at = excluded.updated_at"
    # An older version never overwrites a newer one sent meanwhile.
    " WHERE excluded.sent_version >= offer_sync.sent_version"
)


def _import_record(row: Sequence[Any]) -> OfferImportRecord:
    return OfferImportRecord(
        id=int(row[0]), channel=row[1], import_id=row[2], reason=row[3], operation=row[4],
        state=row[5], offers=int(row[6]), lines_in_error=row[7], message=row[8],
        created_at=float(row[9]), finished_at=None if row[10] is None else float(row[10]),
    )


class OfferFeedStore:
    """What one database knows of the offer feeds of every channel."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def imports(self, channel: str, *, limit: int = 50,
                state: str | None = None) -> list[OfferImportRecord]:
        """The channel's imports, newest first."""
        sql = f"SELECT {_IMPORT_COLUMNS} FROM offer_imports WHERE channel = %s"
        params: list[Any] = [channel]
        if state is not None:
            sql += " AND state = %s"
            params.append(state)
        sql += " ORDER BY id DESC LIMIT %s"
        return [_import_record(r) for r in self.db.execute(sql, (*params, limit))]

    def last_feed_start(self, channel: str) -> datetime | None:
        """When the last file of all pending offers started (a feed or a stock-out)."""
        rows = self.db.execute(
            "SELECT MAX(created_at) FROM offer_imports WHERE channel = %s"
            " AND reason IN ('feed', 'stockout')",
            (channel,),
        )
        if not rows or rows[0][0] is None:
            return None
        return datetime.fromtimestamp(float(rows[0][0]), UTC)

    def record_sent(self, channel: str, import_id: str, *, reason: str, operation: str | None,
                    versions: Mapping[str, int], created_at: float, at: float) -> None:
        """A file the marketplace took: the import, and each offer's version in it."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO offer_imports (channel, import_id, reason, operation, state, offers,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (channel, import_id, reason, operation, RUNNING, len(versions), created_at),
            )
            tx.executemany(_UPSERT_SYNC, [
                (channel, sku, version, import_id, SENT, at) for sku, version in versions.items()
            ])

    def record_complete(self, record: OfferImportRecord, errors: Mapping[str, str],
                        lines_in_error: int, *, at: float) -> None:
        """The offers the marketplace refused are rejected with its message, the others live."""
        with self.db.transaction() as tx:
            if errors:
                tx.executemany(
                    "UPDATE offer_sync SET state = %s, message = %s, updated_at = %s"
                    " WHERE channel = %s AND sku = %s AND import_id = %s",
                    [(REJECTED, message, at, record.channel, sku, record.import_id)
                     for sku, message in errors.items()],
                )
            tx.execute(
                "UPDATE offer_sync SET state = %s, message = NULL, updated_at = %s"
                " WHERE channel = %s AND import_id = %s AND state = %s",
                (LIVE, at, record.channel, record.import_id, SENT),
            )
            tx.execute(
                "UPDATE offer_imports SET state = %s, lines_in_error = %s, finished_at = %s"
                " WHERE id = %s AND state = %s",
                (COMPLETE, lines_in_error, at, record.id, RUNNING),
            )

    def record_failed(self, record: OfferImportRecord, reason: str, *, at: float) -> None:
        """The import did nothing: its offers are pending again (sent version 0)."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE offer_sync SET sent_version = 0, state = %s, message = %s,"
                " updated_at = %s WHERE channel = %s AND import_id = %s",
                (PENDING, reason, at, record.channel, record.import_id),
            )
            tx.execute(
                "UPDATE offer_imports SET state = %s, message = %s, finished_at = %s"
                " WHERE id = %s AND state = %s",
                (FAILED, reason, at, record.id, RUNNING),
            )

    def advance_sent_versions(self, channel: str, import_id: str,
                              versions: Mapping[str, tuple[int, int]], *, at: float) -> None:
        """Offers whose only change since the file is a recorded fact about that file: their
        sent version moves from the first to the second number."""
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE offer_sync SET sent_version = %s, updated_at = %s WHERE channel = %s"
                " AND sku = %s AND import_id = %s AND sent_version = %s",
                [(new, at, channel, sku, import_id, old)
                 for sku, (old, new) in versions.items()],
            )

    def retry_rejected(self, channel: str, messages: Sequence[str], *,
                       rejected_before: float, at: float) -> int:
        """Offers rejected at `rejected_before` or earlier with a message containing one of
        `messages` (lowercase) are pending again (sent version 0), their message kept; how
        many."""
        if not messages:
            return 0
        matches = " OR ".join(["LOWER(message) LIKE %s"] * len(messages))
        with self.db.transaction() as tx:
            rows = tx.execute(
                "UPDATE offer_sync SET sent_version = 0, state = %s, updated_at = %s"
                " WHERE channel = %s AND state = %s AND updated_at <= %s"
                f" AND ({matches}) RETURNING sku",
                (PENDING, at, channel, REJECTED, rejected_before,
                 *(f"%{m.lower()}%" for m in messages)),
            )
        return len(rows)


__all__ = ["OfferFeedStore"]
