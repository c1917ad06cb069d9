"""The order list behind the tabs, and the count per tab, read from the order tabs projection."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.deps import OrderTabsDep, RunnersDep, ServiceDep, SettingsDep
from app.api.problems import ProblemError
from app.api.schemas import BIGINT_MAX, DateTime, problem_doc
from app.domain.order import Channel, OrderStatus
from app.projections.order_tabs import (
    InvalidCursor,
    OrderFilters,
    OrderRow,
    OrderTabsQueries,
    time_left,
)
from app.projections.runner import ProjectionRunner

router = APIRouter(prefix="/v1/orders", tags=["order tabs"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)

Tab = Literal["new", "waiting_shipment", "sent", "canceled"]


class TrackingPublic(BaseModel):
    carrier: str
    tracking_number: str
    tracking_url: str | None


class OrderSummaryPublic(BaseModel):
    id: UUID
    channel: str
    marketplace_order_id: str
    status: str
    tab: str
    customer_name: str
    goods_total: Decimal
    shipping_price: Decimal
    order_total: Decimal
    refunded_amount: Decimal
    line_count: int
    created_at: datetime
    acceptance_deadline: datetime
    time_left_to_accept_seconds: int | None
    # Still to accept and within OMS_DEADLINE_WARNING_HOURS of the 72-hour deadline.
    deadline_near: bool
    shipped_at: datetime | None
    tracking: TrackingPublic | None
    last_event_at: datetime
    version: int
    # The marketplace's shipping deadline, else its lead time after acceptance.
    ship_by: datetime | None
    # Waiting for shipment past its ship-by time.
    late: bool
    has_customer_message: bool
    has_incident: bool
    can_cancel: bool
    can_refund: bool


class OrderListPublic(BaseModel):
    items: list[OrderSummaryPublic]
    next_cursor: str | None
    has_more: bool
    position: int
    caught_up: bool


class TabCountPublic(BaseModel):
    total: int
    by_status: dict[str, int]


class TabCountsPublic(BaseModel):
    tabs: dict[str, TabCountPublic]
    position: int


def _summary_json(row: OrderRow, now: datetime, warning_seconds: float = 0) -> dict[str, Any]:
    """The JSON of OrderSummaryPublic for one row, built without a model per row."""
    waiting = row.status == OrderStatus.CREATED
    left = time_left(row.acceptance_deadline, now).total_seconds() if waiting else None
    return {
        "id": str(row.order_id),
        "channel": row.channel,
        "marketplace_order_id": row.marketplace_order_id,
        "status": row.status,
        "tab": row.tab,
        "customer_name": row.customer_name,
        "goods_total": str(row.goods_total),
        "shipping_price": str(row.shipping_price),
        "order_total": str(row.order_total),
        "refunded_amount": str(row.refunded_amount),
        "line_count": row.line_count,
        "created_at": row.created_at,
        "acceptance_deadline": row.acceptance_deadline,
        "time_left_to_accept_seconds": int(left) if left is not None else None,
        "deadline_near": left is not None and left <= warning_seconds,
        "shipped_at": row.shipped_at,
        "tracking": (
            {
                "carrier": row.carrier,
                "tracking_number": row.tracking_number,
                "tracking_url": row.tracking_url,
            }
            if row.carrier and row.tracking_number
            else None
        ),
        "last_event_at": row.last_event_at,
        "version": row.version,
        "ship_by": row.ship_by,
        "late": row.is_late(now),
        "has_customer_message": row.has_customer_message,
        "has_incident": row.has_incident,
        "can_cancel": row.can_cancel,
        "can_refund": row.can_refund,
    }


def _in_utc(name: str, value: datetime | None) -> datetime | None:
    """The time in UTC; one that UTC cannot hold (year 1 east of Greenwich) is refused."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ProblemError(
            422,
            "invalid-request",
            "The request is invalid",
            f"{name} is out of the range of UTC times",
            field=name,
            rule="datetime_range",
        ) from None


def _wait_for(
    queries: OrderTabsQueries, position: int | None, runners: Mapping[str, ProjectionRunner],
    wait_seconds: float,
) -> bool:
    """Wait, briefly, until the read model has applied `position`."""
    if position is None:
        return True
    runner = runners.get("order_tabs")
    deadline = time.monotonic() + wait_seconds
    while queries.position() < position:
        if time.monotonic() >= deadline:
            return False
        if runner is not None:
            runner.wake()
        time.sleep(0.005)
    return True


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: problem_doc("A query parameter is invalid (the problem names it and the rule)"),
    503: problem_doc("The store is unavailable; retry later"),
}


@router.get(
    "",
    dependencies=[requires("orders:read")],
    response_model=OrderListPublic,
    summary="List orders of a tab, newest first, by acceptance deadline or by ship-by time",
    description="`sort=ship_by` lists the orders to ship first (those without a ship-by time "
    "last). Keyset pagination: pass `next_cursor` back as `cursor` for the next page. "
    "With `min_position` (the `X-Event-Position` of a command response) the call waits "
    "briefly until the list includes that write; `caught_up` says whether it does.",
    responses=_PROBLEMS,
)
def list_orders(
    queries: OrderTabsDep,
    runners: RunnersDep,
    settings: SettingsDep,
    service: ServiceDep,
    tab: Tab | None = None,
    status: OrderStatus | None = None,
    channel: Channel | None = None,
    created_from: DateTime | None = None,
    created_to: DateTime | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    sort: Literal["newest", "deadline", "ship_by"] = "newest",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    min_position: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
) -> Response:
    filters = OrderFilters(
        tab=tab,
        status=status.value if status else None,
        channel=channel.value if channel else None,
        created_from=_in_utc("created_from", created_from),
        created_to=_in_utc("created_to", created_to),
        q=q,
    )
    caught_up = _wait_for(queries, min_position, runners, settings.read_wait_seconds)
    try:
        page = queries.list(filters, sort, limit, cursor)
    except InvalidCursor as exc:
        raise ProblemError(
            422, "invalid-request", "The request is invalid", str(exc), field="cursor", rule="cursor"
        ) from None
    now = service.clock()
    warning = settings.deadline_warning_hours * 3600
    body = {
        "items": [_summary_json(row, now, warning) for row in page.rows],
        "next_cursor": page.next_cursor,
        "has_more": page.next_cursor is not None,
        "position": page.position,
        "caught_up": caught_up and (min_position is None or page.position >= min_position),
    }
    # The hottest read of the service: serialised straight to JSON (the shape is
    # OrderListPublic, which documents it).
    return Response(
        orjson.dumps(body, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers={"X-Read-Position": str(page.position)},
    )


@router.get(
    "/tabs",
    dependencies=[requires("orders:read")],
    response_model=TabCountsPublic,
    summary="How many orders each tab holds, per status",
    responses={503: _PROBLEMS[503]},
)
def tab_counts(queries: OrderTabsDep) -> TabCountsPublic:
    position = queries.position()
    counts = queries.counts()
    return TabCountsPublic(
        tabs={
            tab: TabCountPublic(total=sum(by_status.values()), by_status=by_status)
            for tab, by_status in counts.items()
        },
        position=position,
    )
