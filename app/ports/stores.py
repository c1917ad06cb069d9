"""The stores the use cases keep their own facts in, as protocols, with the records they hold.

The adapters (`app.adapters`) implement them over SQL; the read models (`app.projections`)
implement the queries. The use cases (`app.application`) see only these.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

# offer_imports.state
RUNNING = "running"
COMPLETE = "complete"
FAILED = "failed"
# offer_sync.state
SENT = "sent"
LIVE = "live"
REJECTED = "rejected"
PENDING = "pending"


@dataclass(frozen=True)
class OfferImportRecord:
    """One row of offer_imports."""

    id: int
    channel: str
    import_id: str
    reason: str
    operation: str | None
    state: str
    offers: int
    lines_in_error: int | None
    message: str | None
    created_at: float
    finished_at: float | None


class OfferFeedStore(Protocol):
    def imports(self, channel: str, *, limit: int = 50,
                state: str | None = None) -> list[OfferImportRecord]: ...

    def last_feed_start(self, channel: str) -> datetime | None: ...

    def record_sent(self, channel: str, import_id: str, *, reason: str, operation: str | None,
                    versions: Mapping[str, int], created_at: float, at: float) -> None: ...

    def record_complete(self, record: OfferImportRecord, errors: Mapping[str, str],
                        lines_in_error: int, *, at: float) -> None: ...

    def record_failed(self, record: OfferImportRecord, reason: str, *, at: float) -> None: ...

    def advance_sent_versions(self, channel: str, import_id: str,
                              versions: Mapping[str, tuple[int, int]], *, at: float) -> None: ...

    def retry_rejected(self, channel: str, messages: Sequence[str], *,
                       rejected_before: float, at: float) -> int: ...


class PendingOffer(Protocol):
    """An offer of the read model, as the feed decides on it."""

    channel: str
    sku: str
    version: int
    values: Mapping[str, Any]
    errors: Sequence[Any]
    promotion: Mapping[str, Any] | None
    sent_version: int | None


class OfferRows(Protocol):
    """The offers read model, as far as the feed reads it."""

    def list(self, *, channel: str | None = None, sync: str | None = None,
             has_errors: bool | None = None, after: tuple[str, str] | None = None,
             limit: int = 50) -> Sequence[PendingOffer]: ...


class Leases(Protocol):
    """Named leases shared by every process on one database."""

    def acquire(self, name: str, ttl: float) -> bool: ...

    def release(self, name: str) -> None: ...


class OfferSources(Protocol):
    """Digests of the offers' values as last taken from a source, and offers' stored events."""

    def digests(self, channel: str) -> dict[str, str]: ...

    def record_digests(self, rows: Sequence[tuple[str, str, str, int]]) -> None: ...

    def stored_events(self, ids: Sequence[UUID]) -> Iterator[StoredEvent]: ...


# ==================================================================== the order sync


OPEN_ACTION_STATES = ("pending", "sent")
ACTION_STATES = ("pending", "sent", "confirmed", "failed", "expired", "canceled")


@dataclass(frozen=True)
class Action:
    id: int
    order_id: UUID
    event_version: int
    position: int
    kind: str
    state: str
    attempts: int
    last_error: str | None
    error_code: str | None
    result: dict[str, Any] | None
    created_at: float
    updated_at: float
    next_attempt_at: float
    # What to send, as the action's event said it (see the outbox projection).
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportFailure:
    id: int
    channel: str
    marketplace_order_id: str
    kind: str
    field: str | None
    reason: str
    marketplace_state: str | None
    occurrences: int
    first_seen: float
    last_seen: float
    resolved_at: float | None


def refund_links_of(actions: Sequence[Action]) -> dict[str, list[str]]:
    """Our refund id -> the marketplace refund ids, from an order's confirmed refund actions."""
    return {
        action.result["refund_id"]: list(action.result["marketplace_refund_ids"])
        for action in actions
        if action.kind == "refund" and action.state == "confirmed" and action.result
    }


class SyncStore(Protocol):
    """The order sync's own facts: cursors, what was seen of each marketplace order, import
    errors, channel settings, and the outbox of marketplace actions."""

    def cursor(self, channel: str) -> float | None: ...

    def save_cursor(self, channel: str, last_update_date: float | None, *, at: float,
                    orders: int) -> None: ...

    def record_run_error(self, channel: str, error: str, *, at: float) -> None: ...

    def auto_accept(self, channel: str) -> bool | None: ...

    def out_of_stock(self, channel: str, skus: Sequence[str]) -> set[str]: ...

    def existing_orders(self, order_ids: Sequence[UUID]) -> set[UUID]: ...

    def seen(self, channel: str, order_ids: Sequence[str]) -> dict[str, str]: ...

    def mark_seen(self, channel: str, rows: Sequence[tuple[str, str, float, str]], *,
                  at: float) -> None: ...

    def record_error(self, channel: str, order_id: str, *, kind: str, reason: str,
                     field: str | None, state: str | None, at: float) -> None: ...

    def due_actions(self, now: float, limit: int = 100) -> list[Action]: ...

    def actions_of(self, order_id: UUID) -> list[Action]: ...

    def move_action(self, action_id: int, *, from_states: Sequence[str], to_state: str,
                    at: float, next_attempt_at: float | None = None, attempt: bool = False,
                    error: str | None = None, error_code: str | None = None,
                    result: dict[str, Any] | None = None, requeue: bool = False) -> bool: ...

    def expire_actions(self, before: float, *, at: float) -> int: ...

    def refund_superseded(self, action: Action) -> bool: ...

    def refund_links(self, order_id: UUID) -> dict[str, list[str]]: ...


class SentRefunds(Protocol):
    """Whether a refund request has left for the marketplace (its delivery under way or done)."""

    def refund_sent(self, order_id: UUID, refund_id: str) -> bool: ...
