"""The event stream: every order event in log order, for integrators to follow.

A consumer keeps the last `position` it handled and asks for what comes after it; positions
only grow, so it never misses an event nor sees one twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.deps import DatabaseDep
from app.api.schemas import BIGINT_MAX, ActorPublic, problem_doc
from app.domain.actor import EVENT_ENVELOPE
from app.projections.log import EventLog

router = APIRouter(prefix="/v1", tags=["event stream"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)



class StreamEventPublic(BaseModel):
    position: int
    order_id: UUID
    type: str
    version: int
    timestamp: datetime
    actor: ActorPublic | None
    correlation_id: str | None
    data: dict[str, Any]


class EventPagePublic(BaseModel):
    items: list[StreamEventPublic]
    # Pass it as `after` to read on; equal to `after` when nothing new has come.
    next_after: int


@router.get(
    "/events",
    response_model=EventPagePublic,
    dependencies=[requires("events:read")],
    summary="Order events after a log position, oldest first",
    responses={422: problem_doc("`after` or `limit` is out of range")},
)
def event_stream(
    db: DatabaseDep,
    after: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPagePublic:
    log = EventLog(db)
    items = []
    for event in log.after(after, limit):
        data = event.data
        actor = data.get("actor")
        items.append(StreamEventPublic(
            position=event.position,
            order_id=event.originator_id,
            type=event.type,
            version=event.version,
            timestamp=event.timestamp,
            actor=ActorPublic(**actor) if actor else None,
            correlation_id=data.get("correlation_id"),
            data={k: v for k, v in data.items() if k not in EVENT_ENVELOPE},
        ))
    return EventPagePublic(items=items, next_after=items[-1].position if items else after)
