"""Order routes: parse the body, call one service method, answer with the order."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request, Response

from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.commands import (
    OrderCommand,
    OrderCommandDep,
    order_response,
    with_position,
)
from app.api.deps import ReferenceDep, ServiceDep
from app.api.schemas import (
    AcceptCommand,
    ActorPublic,
    CancelCommand,
    HistoryEventPublic,
    OrderCreate,
    OrderHistoryPublic,
    OrderPublic,
    RefundCreate,
    RefuseCommand,
    ShipCommand,
    problem_doc,
)
from app.application.reference_data import (
    CANCELATION,
    REFUND,
    REFUSAL,
    ChannelReference,
)
from app.domain.carriers import tracking_url_for
from app.ports.marketplace import MarketplaceError

router = APIRouter(prefix="/v1/orders", tags=["orders"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)

_ETAG_HEADER = {
    "ETag": {"description": 'The order\'s version, e.g. "3"', "schema": {"type": "string"}},
    "X-Event-Position": {
        "description": "Log position of the events written; pass it as min_position to the "
        "order list to read your own write",
        "schema": {"type": "integer"},
    },
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: problem_doc("No order has this id"),
    422: problem_doc("The order id is not a UUID"),
    503: problem_doc("The store is unavailable; retry later"),
}
_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The order after the command", "headers": _ETAG_HEADER},
    400: problem_doc("Malformed If-Match or Idempotency-Key header"),
    404: problem_doc("No order has this id"),
    409: problem_doc(
        "The command is not allowed in the order's status (type /problems/invalid-status), "
        "the acceptance deadline passed, or a request with the same Idempotency-Key is running"
    ),
    412: problem_doc("If-Match does not name the order's current version"),
    413: problem_doc("The body is too large"),
    422: problem_doc(
        "The body is invalid (unknown field, wrong type, broken rule: the problem names the "
        "field and the rule) or the Idempotency-Key was used for another request"
    ),
    428: problem_doc("If-Match is missing"),
    503: problem_doc("The store is unavailable; retry later"),
}


@router.post(
    "",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    status_code=201,
    summary="Import an order from the marketplace",
    responses={
        200: {"model": OrderPublic, "description": "The order was already imported: the existing one"},
        201: {
            "description": "Imported",
            "headers": {**_ETAG_HEADER, "Location": {"description": "The order's URL", "schema": {"type": "string"}}},
        },
        413: problem_doc("The body is too large"),
        422: problem_doc("The body is invalid: the problem names the field and the rule"),
        503: problem_doc("The store is unavailable; retry later"),
    },
)
def import_order(body: OrderCreate, service: ServiceDep, request: Request) -> Response:
    result = service.import_order(**body.import_fields())
    location = str(request.url_for("get_order", order_id=str(result.order.id)).path)
    response = order_response(result.order, 201 if result.created else 200, Location=location)
    return with_position(response) if result.created else response


@router.get(
    "/{order_id}",
    dependencies=[requires("orders:read")],
    response_model=OrderPublic,
    summary="The order's current state",
    responses={200: {"headers": _ETAG_HEADER, "description": "The order"}, **_READ_ERRORS},
)
def get_order(order_id: UUID, service: ServiceDep) -> Response:
    return order_response(service.get_order(order_id))


@router.get(
    "/{order_id}/events",
    dependencies=[requires("orders:history")],
    response_model=OrderHistoryPublic,
    summary="The order's full history, oldest first",
    responses=_READ_ERRORS,
)
def order_events(order_id: UUID, service: ServiceDep) -> OrderHistoryPublic:
    return OrderHistoryPublic(
        order_id=order_id,
        events=[
            HistoryEventPublic(
                type=e.type, version=e.version, timestamp=e.timestamp,
                actor=ActorPublic(**e.actor) if e.actor else None,
                correlation_id=e.correlation_id, data=e.data,
            )
            for e in service.history(order_id)
        ],
    )


@router.post(
    "/{order_id}/accept",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    summary="Accept a CREATED order (within 72 hours of its creation), refusing some lines "
    "if need be",
    description="Without a body, every line is accepted. With `refused_lines`, those lines "
    "are refused and the others accepted (OR21 decides line by line); at least one line must "
    "be accepted: refusing them all is refusing the order (`/refuse`).",
    responses=_COMMAND_ERRORS,
)
def accept_order(
    order_id: UUID, command: OrderCommandDep, body: AcceptCommand | None = None
) -> Response:
    refused = list(body.refused_lines) if body is not None and body.refused_lines else None
    return command.run(body, lambda claim: command.service.accept(
        order_id, expected_version=command.version, idempotency=claim, refused_lines=refused))


@router.post(
    "/{order_id}/refuse",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    summary="Refuse a CREATED order",
    description="`reason` is one of the channel's marketplace reasons of type CANCELATION "
    "(`GET /v1/channels/{channel}/reasons`), by code or label; the code is kept. A channel "
    "without a marketplace configured takes any non-empty reason.",
    responses=_COMMAND_ERRORS,
)
def refuse_order(
    order_id: UUID, body: RefuseCommand, command: OrderCommandDep, reference: ReferenceDep
) -> Response:
    return command.run(body, lambda claim: command.service.refuse(
        order_id, reason=_reason(command, reference, order_id, REFUSAL, body.reason),
        expected_version=command.version, idempotency=claim))


@router.post(
    "/{order_id}/ship",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    summary="Ship a TOSHIP order with its tracking",
    description="Without tracking_url, the URL is built for the carriers we know "
    "(Colissimo, Chronopost, DHL, UPS, GLS, DPD, Mondial Relay, Colis Privé) and, on a "
    "channel with a marketplace configured, from the template of a carrier it lists "
    "(`GET /v1/channels/{channel}/carriers`); for another carrier tracking_url is required. "
    "A carrier the marketplace lists is sent to it by its code.",
    responses=_COMMAND_ERRORS,
)
def ship_order(
    order_id: UUID, body: ShipCommand, command: OrderCommandDep, reference: ReferenceDep
) -> Response:
    return command.run(body, lambda claim: command.service.ship(
        order_id,
        tracking_number=body.tracking_number,
        carrier=body.carrier,
        tracking_url=_tracking_url(command, reference, order_id, body),
        expected_version=command.version,
        idempotency=claim,
    ))


@router.post(
    "/{order_id}/cancel",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    summary="Cancel a TOSHIP order, or some quantities of its lines, as out of stock",
    description="`reason` is one of the channel's marketplace reasons of type CANCELATION, "
    "by code or label; the code is kept and sent. A channel without a marketplace "
    "configured takes any non-empty reason.",
    responses=_COMMAND_ERRORS,
)
def cancel_order(
    order_id: UUID, body: CancelCommand, command: OrderCommandDep, reference: ReferenceDep
) -> Response:
    lines = [(ln.line_id, ln.quantity) for ln in body.lines] if body.lines else None
    return command.run(body, lambda claim: command.service.cancel(
        order_id, reason=_reason(command, reference, order_id, CANCELATION, body.reason), lines=lines, expected_version=command.version,
        idempotency=claim))


@router.post(
    "/{order_id}/refunds",
    dependencies=[requires("orders:write")],
    response_model=OrderPublic,
    summary="Request a refund of the whole order or of some lines, with or without shipping",
    description="`reason` is one of the channel's marketplace reasons of type REFUND, by "
    "code or label; the code is kept and sent. A channel without a marketplace configured "
    "takes any non-empty reason.",
    responses=_COMMAND_ERRORS,
)
def request_refund(
    order_id: UUID, body: RefundCreate, command: OrderCommandDep, reference: ReferenceDep
) -> Response:
    lines = [(ln.line_id, ln.quantity) for ln in body.lines] if body.lines else None
    return command.run(body, lambda claim: command.service.request_refund(
        order_id,
        reason=_reason(command, reference, order_id, REFUND, body.reason),
        refund_shipping=body.refund_shipping,
        lines=lines,
        expected_version=command.version,
        idempotency=claim,
    ))


def _reason(
    command: OrderCommand, reference: ChannelReference, order_id: UUID, kind: str, given: str
) -> str:
    """The marketplace's code of the reason given, on the order's channel (422 naming the
    valid codes when it is not one of them)."""
    channel = str(command.service.get_order(order_id).channel)
    return reference.reason_code(channel, kind, given)


def _tracking_url(
    command: OrderCommand, reference: ChannelReference, order_id: UUID, body: ShipCommand
) -> str | None:
    """The URL given; else, for a carrier whose URL we cannot build, the marketplace's own
    template when it lists the carrier (None otherwise: the order refuses the shipment)."""
    if body.tracking_url is not None or tracking_url_for(body.carrier, body.tracking_number):
        return body.tracking_url
    channel = str(command.service.get_order(order_id).channel)
    try:
        known = reference.carrier(channel, body.carrier)
    except MarketplaceError:
        return None
    return known.url_for(quote(body.tracking_number, safe="")) if known else None
