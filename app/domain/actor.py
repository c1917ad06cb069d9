"""Who is acting: every event records the actor and the correlation id of the request or job
that caused it.

The API sets them for each request (the API key's name and role, the request id); the sync
jobs set themselves as the actor. The aggregate reads them when it records an event, so no
command has to pass them along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class Actor:
    name: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)
current_correlation_id: ContextVar[str | None] = ContextVar("current_correlation_id", default=None)


@contextmanager
def acting_as(actor: Actor, correlation_id: str | None) -> Iterator[None]:
    """Events recorded inside the block name `actor` and `correlation_id`."""
    actor_token = current_actor.set(actor)
    correlation_token = current_correlation_id.set(correlation_id)
    try:
        yield
    finally:
        current_actor.reset(actor_token)
        current_correlation_id.reset(correlation_token)


def event_context() -> dict[str, object]:
    """The actor and correlation id to record in an event now."""
    actor = current_actor.get()
    return {
        "actor": actor.as_dict() if actor is not None else None,
        "correlation_id": current_correlation_id.get(),
    }


# What every stored event carries besides its own data: the aggregate it belongs to, its
# version and time, and who caused it.
EVENT_ENVELOPE = frozenset({
    "originator_id", "originator_version", "timestamp", "originator_topic", "actor",
    "correlation_id",
})


class AttributedAggregate(Aggregate):
    """An aggregate whose every event says who caused it and under which request or job."""

    class Event(Aggregate.Event):
        actor: dict[str, str] | None
        correlation_id: str | None

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: Any, **kwargs: Any) -> Any:
        return super()._create(event_class, **event_context(), **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **event_context(), **kwargs)


__all__ = [
    "Actor",
    "AttributedAggregate",
    "EVENT_ENVELOPE",
    "acting_as",
    "current_actor",
    "current_correlation_id",
    "event_context",
]
