"""The outbox of marketplace actions, fed from the event log.

Every event in which the merchant asks for something the marketplace must hear about
(accept, refuse, ship, cancel, refund) becomes one `marketplace_actions` row, written in the
same transaction that moves this projection's position: no action is missed, none is added
twice. Events that mirror a change made on the marketplace (origin "marketplace") are not
sent back. The rows are not a read model to rebuild: they carry delivery state, so a rebuild
or a replay leaves existing rows as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.adapters.db import Transaction
from app.projections.log import ProjectedEvent

NAME = "marketplace_actions"

ACTION_OF_EVENT = {
    "Accepted": "accept",
    "Refused": "refuse",
    "Shipped": "ship",
    "LinesCanceled": "cancel",
    "RefundRequested": "refund",
}

_INSERT = (
    "INSERT INTO marketplace_actions"
    " (order_id, event_version, position, kind, state, created_at, updated_at, next_attempt_at)"
    " VALUES (%s, %s, %s, %s, 'pending', %s, %s, 0)"
    " ON CONFLICT (order_id, event_version) DO NOTHING"
)


class MarketplaceActionsProjection:
    name = NAME

    def __init__(self, dialect: str) -> None:
        self.native_ids = dialect == "postgres"

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        rows = []
        for event in events:
            kind = ACTION_OF_EVENT.get(event.type) if event.aggregate == "Order" else None
            if kind is None or event.field("origin") == "marketplace":
                continue
            at = event.timestamp.timestamp()
            order_id = event.originator_id if self.native_ids else str(event.originator_id)
            rows.append((order_id, event.version, event.position, kind, at, at))
        tx.executemany(_INSERT, rows)

    def clear(self, tx: Transaction, generation: int) -> None:
        """Actions carry delivery state: a rebuild keeps them."""


__all__ = ["ACTION_OF_EVENT", "NAME", "MarketplaceActionsProjection"]
