"""Marketplace sync routes: each order's actions and their delivery state, import errors,
and the sync's status per channel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.deps import ServiceDep, SettingsDep, SyncDep, SyncStoreDep
from app.api.problems import ProblemError
from app.api.schemas import BIGINT_MAX, from_epoch, problem_doc
from app.domain.order import Channel
from app.ports.stores import Action, ImportFailure

router = APIRouter(prefix="/v1", tags=["marketplace sync"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)



class ActionPublic(BaseModel):
    id: int
    kind: Literal["accept", "refuse", "ship", "cancel", "refund"]
    state: Literal["pending", "sent", "confirmed", "failed", "expired", "canceled"]
    event_version: int
    attempts: int
    error: str | None
    error_code: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, action: Action) -> ActionPublic:
        return cls(
            id=action.id,
            kind=action.kind,  # type: ignore[arg-type]
            state=action.state,  # type: ignore[arg-type]
            event_version=action.event_version,
            attempts=action.attempts,
            error=action.last_error,
            error_code=action.error_code,
            created_at=from_epoch(action.created_at),  # type: ignore[arg-type]
            updated_at=from_epoch(action.updated_at),  # type: ignore[arg-type]
            next_attempt_at=(
                from_epoch(action.next_attempt_at)
                if action.state in ("pending", "sent") and action.next_attempt_at
                else None
            ),
        )


class MarketplaceStatePublic(BaseModel):
    state: str
    last_updated: datetime
    seen_at: datetime


class OrderSyncPublic(BaseModel):
    order_id: UUID
    marketplace: MarketplaceStatePublic | None
    actions: list[ActionPublic]


class ImportErrorPublic(BaseModel):
    id: int
    channel: str
    marketplace_order_id: str
    kind: Literal["unparsable", "unknown_state", "unreconciled"]
    field: str | None
    reason: str
    marketplace_state: str | None
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, e: ImportFailure) -> ImportErrorPublic:
        return cls(
            id=e.id, channel=e.channel, marketplace_order_id=e.marketplace_order_id,
            kind=e.kind,  # type: ignore[arg-type]
            field=e.field, reason=e.reason, marketplace_state=e.marketplace_state,
            occurrences=e.occurrences, first_seen=from_epoch(e.first_seen),  # type: ignore[arg-type]
            last_seen=from_epoch(e.last_seen),  # type: ignore[arg-type]
            resolved_at=from_epoch(e.resolved_at),
        )


class ImportErrorListPublic(BaseModel):
    items: list[ImportErrorPublic]
    next_cursor: str | None


class ChannelSyncPublic(BaseModel):
    channel: str
    configured: bool
    auto_accept: bool
    last_update_date: datetime | None
    last_run_at: datetime | None
    last_run_orders: int | None
    last_error: str | None


class SyncStatusPublic(BaseModel):
    mode: Literal["embedded", "off"]
    channels: list[ChannelSyncPublic]
    actions: dict[str, int]


@router.get(
    "/orders/{order_id}/actions",
    dependencies=[requires("sync:read")],
    response_model=OrderSyncPublic,
    summary="The order's actions for the marketplace and their delivery state",
    responses={404: problem_doc("No order has this id"), 422: problem_doc("The order id is not a UUID")},
)
def order_actions(order_id: UUID, service: ServiceDep, store: SyncStoreDep) -> OrderSyncPublic:
    order = service.get_order(order_id)
    seen = store.marketplace_state(order.channel, order.marketplace_order_id)
    return OrderSyncPublic(
        order_id=order_id,
        marketplace=(
            MarketplaceStatePublic(state=seen[0], last_updated=from_epoch(seen[1]),  # type: ignore[arg-type]
                                   seen_at=from_epoch(seen[2]))  # type: ignore[arg-type]
            if seen else None
        ),
        actions=[ActionPublic.of(a) for a in store.actions_of(order_id)],
    )


@router.post(
    "/orders/{order_id}/actions/{action_id}/retry",
    dependencies=[requires("sync:write")],
    response_model=ActionPublic,
    summary="Send a failed or expired action again",
    responses={
        404: problem_doc("No order has this id, or the order has no such action"),
        409: problem_doc("The action is not failed or expired (type /problems/invalid-status)"),
        422: problem_doc("The order id is not a UUID, or the action id not an integer from 0 "
                         "to 2^63-1"),
    },
)
def retry_action(
    order_id: UUID,
    action_id: Annotated[int, Path(ge=0, le=BIGINT_MAX)],
    service: ServiceDep,
    store: SyncStoreDep,
    sync: SyncDep,
) -> ActionPublic:
    service.get_order(order_id)
    action = store.action(action_id)
    if action is None or action.order_id != order_id:
        raise ProblemError(404, "not-found", "Not found",
                           f"order {order_id} has no action {action_id}")
    now = service.clock().timestamp()
    if not store.move_action(action_id, from_states=["failed", "expired"], to_state="pending",
                             at=now, next_attempt_at=now, requeue=True):
        raise ProblemError(
            409, "invalid-status", "The action cannot be retried",
            f"action {action_id} is {action.state}; only failed or expired actions are retried",
            field="state", rule="retryable_state",
        )
    if sync is not None:
        sync.wake_delivery()
    retried = store.action(action_id)
    assert retried is not None
    return ActionPublic.of(retried)


@router.get(
    "/import-errors",
    dependencies=[requires("sync:read")],
    response_model=ImportErrorListPublic,
    summary="Marketplace orders the sync could not import or bring up to date, and why",
    responses={422: problem_doc("A query parameter is invalid: the problem names it")},
)
def import_errors(
    store: SyncStoreDep,
    channel: Channel | None = None,
    kind: Literal["unparsable", "unknown_state", "unreconciled"] | None = None,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> ImportErrorListPublic:
    rows = store.errors(
        channel=channel.value if channel else None, kind=kind,
        include_resolved=include_resolved, after_id=int(cursor or 0), limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return ImportErrorListPublic(
        items=[ImportErrorPublic.of(r) for r in rows],
        next_cursor=str(rows[-1].id) if more else None,
    )


@router.get(
    "/sync/status",
    dependencies=[requires("sync:read")],
    response_model=SyncStatusPublic,
    summary="Each channel's import cursor and last round, and the actions by state",
)
def sync_status(settings: SettingsDep, store: SyncStoreDep) -> SyncStatusPublic:
    configured = {ch.name: ch for ch in settings.channels()}
    cursors = {c["channel"]: c for c in store.cursors()}
    channels = []
    for name in (c.value for c in Channel):
        cur = cursors.get(name, {})
        # The admin's choice (PUT /v1/channels/{channel}) wins over the configuration, as in
        # the import job.
        chosen = store.auto_accept(name)
        default = configured[name].auto_accept if name in configured else False
        channels.append(ChannelSyncPublic(
            channel=name,
            configured=name in configured,
            auto_accept=default if chosen is None else chosen,
            last_update_date=from_epoch(cur.get("last_update_date")),
            last_run_at=from_epoch(cur.get("last_run_at")),
            last_run_orders=cur.get("last_run_orders"),
            last_error=cur.get("last_error"),
        ))
    return SyncStatusPublic(mode=settings.sync_mode, channels=channels, actions=store.counts())
