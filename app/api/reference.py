"""The marketplace's reasons and carriers per channel, as its API lists them (RE01, SH21)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.deps import ReferenceDep
from app.api.schemas import from_epoch, problem_doc
from app.application.reference_data import Carrier, Reason
from app.domain.order import Channel

router = APIRouter(prefix="/v1/channels", tags=["marketplace reference"],
                   responses=AUTH_PROBLEMS, route_class=AuthorisedRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: problem_doc("Unknown channel or invalid query"),
    502: problem_doc("The marketplace did not answer or refused the call, and nothing was "
                     "read from it before; retry later"),
}
_REFRESH = Query(description="Read the list from the marketplace now rather than from the "
                             "copy kept (refreshed every hour)")


class ReasonPublic(BaseModel):
    code: str
    label: str
    type: str
    is_shop_right: bool


class CarrierPublic(BaseModel):
    code: str
    label: str
    tracking_url: str | None


class ReasonList(BaseModel):
    channel: str
    configured: bool
    fetched_at: datetime | None
    items: list[ReasonPublic]


class CarrierList(BaseModel):
    channel: str
    configured: bool
    fetched_at: datetime | None
    items: list[CarrierPublic]


@router.get(
    "/{channel}/reasons",
    dependencies=[requires("sync:read")],
    response_model=ReasonList,
    summary="The marketplace's reasons of the channel (refusal, cancelation, refund...)",
    description="The codes a refusal or cancelation (type CANCELATION) or a refund (type "
    "REFUND) must use. A channel without a marketplace configured lists none "
    "(`configured: false`) and takes any non-empty reason.",
    responses=_ERRORS,
)
def list_reasons(
    channel: Channel,
    reference: ReferenceDep,
    type: Annotated[str | None, Query(pattern=r"^[A-Z_]{1,40}$",
                                      description="Only the reasons of this RE01 type, "
                                      "e.g. REFUND or CANCELATION")] = None,
    refresh: Annotated[bool, _REFRESH] = False,
) -> ReasonList:
    listing = reference.reasons(channel.value, refresh=refresh)
    reasons: list[Reason] = list(listing.items) if listing else []
    return ReasonList(
        channel=channel.value,
        configured=listing is not None,
        fetched_at=from_epoch(listing.fetched_at) if listing else None,
        items=[ReasonPublic(code=r.code, label=r.label, type=r.type,
                            is_shop_right=r.is_shop_right)
               for r in reasons if type is None or r.type == type],
    )


@router.get(
    "/{channel}/carriers",
    dependencies=[requires("sync:read")],
    response_model=CarrierList,
    summary="The marketplace's carriers of the channel",
    description="A carrier listed here is sent to the marketplace by its code; another one "
    "needs a tracking_url when shipping, unless it is one whose URL we build.",
    responses=_ERRORS,
)
def list_carriers(
    channel: Channel,
    reference: ReferenceDep,
    refresh: Annotated[bool, _REFRESH] = False,
) -> CarrierList:
    listing = reference.carriers(channel.value, refresh=refresh)
    carriers: list[Carrier] = list(listing.items) if listing else []
    return CarrierList(
        channel=channel.value,
        configured=listing is not None,
        fetched_at=from_epoch(listing.fetched_at) if listing else None,
        items=[CarrierPublic(code=c.code, label=c.label, tracking_url=c.tracking_url)
               for c in carriers],
    )
