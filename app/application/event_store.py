"""The event store every aggregate of the service shares: one log, one sequence of positions.

Orders and offers are saved through one `EventStore` (an eventsourcing application whose
recorder is configured by the adapters), so projections and integrators read a single log.
Each aggregate has its own application service over it (`OrderService`, `OfferService`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from app.domain.actor import EVENT_ENVELOPE
from app.ports.idempotency import IdempotencyClaim

Clock = Callable[[], datetime]
# The log position of the last events this thread (or request) saved: read-your-writes.
last_saved_position: ContextVar[int | None] = ContextVar("last_saved_position", default=None)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HistoryEntry:
    type: str
    version: int
    timestamp: datetime
    data: dict[str, Any]
    actor: dict[str, str] | None = None
    correlation_id: str | None = None


class EventStore(Application[UUID]):
    """Saves and loads aggregates; tells listeners after each write."""

    name = "orders"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env=env)
        self._saved_listeners: list[Callable[[], None]] = []

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each write (wakes in-process projection runners)."""
        self._saved_listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            last_saved_position.set(recordings[-1].notification.id)
            for listener in self._saved_listeners:
                listener()
        return recordings

    def save_command(self, aggregate: Any, claim: IdempotencyClaim | None, *others: Any,
                     created: bool = False) -> Any:
        """Save a command's aggregate (and any others it changed); with a claim, the command's
        record goes in the same transaction."""
        if claim is None:
            return self.save(aggregate, *others)
        record = claim.applied(aggregate.id, aggregate.version, created=created)
        return self.save(aggregate, *others, idempotency=record)

    def history(self, aggregate_id: UUID) -> list[HistoryEntry]:
        """Every event of one aggregate, oldest first, with who caused it."""
        return [
            HistoryEntry(
                type=type(e).__name__,
                version=e.originator_version,
                timestamp=e.timestamp,
                data={k: v for k, v in vars(e).items() if k not in EVENT_ENVELOPE},
                actor=vars(e).get("actor"),
                correlation_id=vars(e).get("correlation_id"),
            )
            for e in self.repository.event_store.get(aggregate_id)
        ]


__all__ = ["Clock", "EventStore", "HistoryEntry", "last_saved_position", "utc_now"]
