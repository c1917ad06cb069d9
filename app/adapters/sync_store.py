"""SQL for the sync's own tables: cursors, marketplace states, import errors, actions.

Times are epoch seconds (floats) from the service's clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from app.adapters.db import Database
from app.adapters.recorders import EVENTS_TABLE
from app.ports.stores import Action, ImportFailure, refund_links_of

_ACTION_COLUMNS = (
    "id, order_id, event_version, position, kind, state, attempts, last_error, error_code,"
    " result, created_at, updated_at, next_attempt_at, payload"
)
_ERROR_COLUMNS = (
    "id, channel, marketplace_order_id, kind, field, reason, marketplace_state, occurrences,"
    " first_seen, last_seen, resolved_at"
)


class SyncStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.native_ids = db.dialect == "postgres"

    def _id(self, order_id: UUID) -> Any:
        return order_id if self.native_ids else str(order_id)

    # ---------------------------------------------------------------- cursors

    def cursor(self, channel: str) -> float | None:
        rows = self.db.execute(
            "SELECT last_update_date FROM sync_cursors WHERE channel = %s", (channel,)
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def save_cursor(
        self, channel: str, last_update_date: float | None, *, at: float, orders: int
    ) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO sync_cursors (channel, last_update_date, last_run_at, last_run_orders,"
                " last_error) VALUES (%s, %s, %s, %s, NULL) ON CONFLICT (channel) DO UPDATE SET"
                " last_update_date = excluded.last_update_date, last_run_at = excluded.last_run_at,"
                " last_run_orders = excluded.last_run_orders, last_error = NULL",
                (channel, last_update_date, at, orders),
            )

    def record_run_error(self, channel: str, error: str, *, at: float) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO sync_cursors (channel, last_run_at, last_error) VALUES (%s, %s, %s)"
                " ON CONFLICT (channel) DO UPDATE SET last_run_at = excluded.last_run_at,"
                " last_error = excluded.last_error",
                (channel, at, error),
            )

    def cursors(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT channel, last_update_date, last_run_at, last_run_orders, last_error"
            " FROM sync_cursors ORDER BY channel"
        )
        return [
            {"channel": c, "last_update_date": u, "last_run_at": r, "last_run_orders": n,
             "last_error": e}
            for c, u, r, n, e in rows
        ]

    # ---------------------------------------------------------------- channel settings

    def auto_accept(self, channel: str) -> bool | None:
        """The admin's auto-accept choice for the channel; None when not set (configuration)."""
        rows = self.db.execute(
            "SELECT auto_accept FROM channel_settings WHERE channel = %s", (channel,)
        )
        return None if not rows or rows[0][0] is None else bool(rows[0][0])

    def set_auto_accept(self, channel: str, auto_accept: bool, *, by: str, at: float) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO channel_settings (channel, auto_accept, updated_at, updated_by)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (channel) DO UPDATE SET"
                " auto_accept = excluded.auto_accept, updated_at = excluded.updated_at,"
                " updated_by = excluded.updated_by",
                (channel, auto_accept, at, by),
            )

    def out_of_stock(self, channel: str, skus: Sequence[str]) -> set[str]:
        """Which of these SKUs are offers of the channel with no stock (quantity 0)."""
        if not skus:
            return set()
        marks = ", ".join(["%s"] * len(skus))
        rows = self.db.execute(
            "SELECT o.sku FROM offer_list o JOIN projection_positions p ON p.name = 'offers'"
            f" AND o.generation = p.generation WHERE o.channel = %s AND o.sku IN ({marks})"
            " AND o.quantity = 0",
            (channel, *skus),
        )
        return {row[0] for row in rows}

    # ---------------------------------------------------------------- marketplace states

    def existing_orders(self, order_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these orders are in the event store already (one query)."""
        if not order_ids:
            return set()
        marks = ", ".join(["%s"] * len(order_ids))
        rows = self.db.execute(
            f"SELECT originator_id FROM {EVENTS_TABLE} WHERE originator_version = 1"
            f" AND originator_id IN ({marks})",
            # The event store keeps ids as UUIDs on PostgreSQL and as hex strings on SQLite.
            tuple(oid if self.native_ids else oid.hex for oid in order_ids),
        )
        return {r[0] if isinstance(r[0], UUID) else UUID(r[0]) for r in rows}

    def seen(self, channel: str, order_ids: Sequence[str]) -> dict[str, str]:
        """The digest of each of these orders as last applied."""
        if not order_ids:
            return {}
        if self.native_ids:
            # A join on the ids: with `IN (...)` PostgreSQL may keep a plan that scans every
            # row of the channel (chosen while the table was small, as on a first import) and
            # a page's read would grow with the table.
            rows = self.db.execute(
                "SELECT m.marketplace_order_id, m.digest FROM unnest(%s::text[]) AS i (id)"
                " JOIN marketplace_orders m ON m.channel = %s AND m.marketplace_order_id = i.id",
                (list(order_ids), channel),
            )
        else:
            marks = ", ".join(["%s"] * len(order_ids))
            rows = self.db.execute(
                "SELECT marketplace_order_id, digest FROM marketplace_orders"
                f" WHERE channel = %s AND marketplace_order_id IN ({marks})",
                (channel, *order_ids),
            )
        return {oid: digest for oid, digest in rows}

    def mark_seen(
        self, channel: str, rows: Sequence[tuple[str, str, float, str]], *, at: float
    ) -> None:
        """Record (order id, state, last update date, digest) of orders just applied, and
        resolve their open import errors."""
        if not rows:
            return
        marks = ", ".join(["%s"] * len(rows))
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE import_errors SET resolved_at = %s WHERE channel = %s"
                f" AND resolved_at IS NULL AND marketplace_order_id IN ({marks})",
                (at, channel, *(row[0] for row in rows)),
            )
            if self.native_ids:
                # One statement for the page; an order given twice keeps its last row.
                last = list({row[0]: row for row in rows}.values())
                tx.execute(
                    "INSERT INTO marketplace_orders (channel, marketplace_order_id, state,"
                    " last_updated, digest, seen_at)"
                    " SELECT %s, i.id, i.state, i.updated, i.digest, %s"
                    " FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[])"
                    " AS i (id, state, updated, digest)"
                    " ON CONFLICT (channel, marketplace_order_id) DO UPDATE SET"
                    " state = excluded.state, last_updated = excluded.last_updated,"
                    " digest = excluded.digest, seen_at = excluded.seen_at",
                    (channel, at, [r[0] for r in last], [r[1] for r in last],
                     [r[2] for r in last], [r[3] for r in last]),
                )
                return
            tx.executemany(
                "INSERT INTO marketplace_orders (channel, marketplace_order_id, state,"
                " last_updated, digest, seen_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (channel, marketplace_order_id) DO UPDATE SET"
                " state = excluded.state, last_updated = excluded.last_updated,"
                " digest = excluded.digest, seen_at = excluded.seen_at",
                [(channel, oid, state, updated, digest, at) for oid, state, updated, digest in rows],
            )

    def marketplace_state(self, channel: str, order_id: str) -> tuple[str, float, float] | None:
        rows = self.db.execute(
            "SELECT state, last_updated, seen_at FROM marketplace_orders"
            " WHERE channel = %s AND marketplace_order_id = %s",
            (channel, order_id),
        )
        return (rows[0][0], float(rows[0][1]), float(rows[0][2])) if rows else None

    # ---------------------------------------------------------------- import errors

    def record_error(
        self,
        channel: str,
        order_id: str,
        *,
        kind: str,
        reason: str,
        field: str | None,
        state: str | None,
        at: float,
    ) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO import_errors (channel, marketplace_order_id, kind, field, reason,"
                " marketplace_state, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (channel, marketplace_order_id, kind) DO UPDATE SET"
                " field = excluded.field, reason = excluded.reason,"
                " marketplace_state = excluded.marketplace_state,"
                " occurrences = import_errors.occurrences + 1, last_seen = excluded.last_seen,"
                " resolved_at = NULL",
                (channel, order_id, kind, field, reason, state, at, at),
            )

    def resolve_errors(self, channel: str, order_ids: Sequence[str], *, at: float) -> None:
        if not order_ids:
            return
        marks = ", ".join(["%s"] * len(order_ids))
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE import_errors SET resolved_at = %s WHERE channel = %s"
                f" AND marketplace_order_id IN ({marks}) AND resolved_at IS NULL",
                (at, channel, *order_ids),
            )

    def errors(
        self,
        *,
        channel: str | None = None,
        kind: str | None = None,
        include_resolved: bool = False,
        after_id: int = 0,
        limit: int = 50,
    ) -> list[ImportFailure]:
        where = ["id > %s"]
        params: list[Any] = [after_id]
        if channel:
            where.append("channel = %s")
            params.append(channel)
        if kind:
            where.append("kind = %s")
            params.append(kind)
        if not include_resolved:
            where.append("resolved_at IS NULL")
        rows = self.db.execute(
            f"SELECT {_ERROR_COLUMNS} FROM import_errors WHERE {' AND '.join(where)}"
            " ORDER BY id LIMIT %s",
            (*params, limit),
        )
        return [ImportFailure(*row) for row in rows]

    # ---------------------------------------------------------------- actions

    def _action(self, row: tuple[Any, ...]) -> Action:
        values = list(row)
        values[1] = values[1] if isinstance(values[1], UUID) else UUID(values[1])
        values[9] = json.loads(values[9]) if values[9] else None
        values[13] = json.loads(values[13]) if values[13] else None
        return Action(*values)

    def due_actions(self, now: float, limit: int = 100) -> list[Action]:
        """Open actions whose turn has come, the oldest first, one per order at a time."""
        rows = self.db.execute(
            f"SELECT {_ACTION_COLUMNS} FROM marketplace_actions a"
            " WHERE state IN ('pending', 'sent') AND next_attempt_at <= %s"
            " AND NOT EXISTS (SELECT 1 FROM marketplace_actions b WHERE b.order_id = a.order_id"
            " AND b.id < a.id AND b.state IN ('pending', 'sent'))"
            " ORDER BY id LIMIT %s",
            (now, limit),
        )
        return [self._action(row) for row in rows]

    def actions_of(self, order_id: UUID) -> list[Action]:
        rows = self.db.execute(
            f"SELECT {_ACTION_COLUMNS} FROM marketplace_actions WHERE order_id = %s ORDER BY id",
            (self._id(order_id),),
        )
        return [self._action(row) for row in rows]

    def action(self, action_id: int) -> Action | None:
        rows = self.db.execute(
            f"SELECT {_ACTION_COLUMNS} FROM marketplace_actions WHERE id = %s", (action_id,)
        )
        return self._action(rows[0]) if rows else None

    def move_action(
        self,
        action_id: int,
        *,
        from_states: Sequence[str],
        to_state: str,
        at: float,
        next_attempt_at: float | None = None,
        attempt: bool = False,
        error: str | None = None,
        error_code: str | None = None,
        result: dict[str, Any] | None = None,
        requeue: bool = False,
    ) -> bool:
        """Move an action if it is still in one of `from_states`; False when it was not.

        `requeue` (an operator's retry): attempts count from 0 again and so does the expiry
        delay, which otherwise runs from the action's creation.
        """
        sets = ["state = %s", "updated_at = %s", "last_error = %s", "error_code = %s"]
        params: list[Any] = [to_state, at, error, error_code]
        if next_attempt_at is not None:
            sets.append("next_attempt_at = %s")
            params.append(next_attempt_at)
        if attempt:
            sets.append("attempts = attempts + 1")
        if requeue:
            sets.extend(["attempts = 0", "queued_at = %s"])
            params.append(at)
        if result is not None:
            sets.append("result = %s")
            params.append(json.dumps(result))
        marks = ", ".join(["%s"] * len(from_states))
        with self.db.transaction() as tx:
            tx.execute(
                f"UPDATE marketplace_actions SET {', '.join(sets)}"
                f" WHERE id = %s AND state IN ({marks})",
                (*params, action_id, *from_states),
            )
            return tx.rowcount == 1

    def expire_actions(self, before: float, *, at: float) -> int:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE marketplace_actions SET state = 'expired', updated_at = %s,"
                " last_error = 'not confirmed by the marketplace within the expiry delay'"
                " WHERE state IN ('pending', 'sent') AND COALESCE(queued_at, created_at) < %s",
                (at, before),
            )
            return tx.rowcount

    def refund_sent(self, order_id: UUID, refund_id: str) -> bool:
        """Whether the delivery of this refund request has gone out: sent (its outcome not
        known yet), confirmed, or expired after an attempt that may have reached the
        marketplace. A pending one, or one the marketplace refused, has not."""
        return any(
            (action.payload or {}).get("refund_id") == refund_id
            and (action.state in ("sent", "confirmed")
                 or (action.state == "expired" and action.attempts > 0))
            for action in self.actions_of(order_id) if action.kind == "refund"
        )

    def refund_superseded(self, action: Action) -> bool:
        """Whether a later refund request of the same order replaced this one's refund."""
        refund_id = (action.payload or {}).get("refund_id")
        rows = self.db.execute(
            "SELECT payload FROM marketplace_actions WHERE order_id = %s AND kind = 'refund'"
            " AND event_version > %s",
            (self._id(action.order_id), action.event_version),
        )
        return any(json.loads(payload or "{}").get("supersedes") == refund_id
                   for (payload,) in rows)

    def refund_links(self, order_id: UUID) -> dict[str, list[str]]:
        """Our refund id -> the marketplace refund ids its delivery created."""
        return refund_links_of(self.actions_of(order_id))

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM marketplace_actions GROUP BY state")
        return {state: int(n) for state, n in rows}


__all__ = ["SyncStore"]
