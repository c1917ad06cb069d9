"""The control API, under /control: tests and demos play the marketplace's part through it.

No auth, JSON in and out. Errors use the same body as the Mirakl API ({"status", "message",
"code"}) so one client helper reads both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox.clock import format_date
from sandbox.errors import MiraklError
from sandbox.faults import FaultBook, FaultKind
from sandbox.marketplace import Marketplace
from sandbox.orders import TaxMode
from sandbox.visibility import AddressVisibility

router = APIRouter(prefix="/control", tags=["Sandbox control"])


def get_marketplace(request: Request) -> Marketplace:
    return request.app.state.marketplace


def get_faults(request: Request) -> FaultBook:
    return request.app.state.faults


MarketplaceDep = Annotated[Marketplace, Depends(get_marketplace)]
FaultsDep = Annotated[FaultBook, Depends(get_faults)]


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrdersCreate(StrictModel):
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    shop_id: int | None = Field(None, description="Default: spread over the shops")
    lines: Annotated[int, Field(ge=1, le=5)] | None = Field(None, description="Default: 1 to 5")
    delivery: Literal["home", "relay"] | None = None
    corrupt: Literal["no_lines", "bad_price", "unknown_state"] | None = Field(
        None, description="Make orders a client cannot parse, or in a state it does not know")


class OrdersCreated(BaseModel):
    orders: list[str]


@router.post("/orders", response_model=OrdersCreated, summary="Generate new orders")
def create_orders(body: OrdersCreate, marketplace: MarketplaceDep) -> dict[str, Any]:
    """New WAITING_ACCEPTANCE orders with French customers and products; returns their ids."""
    ids = marketplace.create_orders(body.count, shop_id=body.shop_id, lines=body.lines,
                                    delivery=body.delivery, corrupt=body.corrupt)
    return {"orders": ids}


@router.get("/orders/{order_id}", summary="Read a raw order")
def get_order(order_id: str, marketplace: MarketplaceDep) -> Response:
    """The order as the marketplace keeps it, whatever its shop: what OR11 serves, with the
    customer's details that OR11 holds back until the address_visibility setting's step."""
    return _json(marketplace.raw_order(order_id))


class PaymentOutcome(StrictModel):
    outcome: Literal["validate", "refuse"]


@router.post("/orders/{order_id}/payment", summary="Validate or refuse the customer's payment")
def settle_payment(order_id: str, body: PaymentOutcome, marketplace: MarketplaceDep) -> Response:
    """WAITING_DEBIT_PAYMENT -> SHIPPING (validate) or CANCELED / PAYMENT_REFUSED (refuse)."""
    return _json(marketplace.settle_payment(order_id, body.outcome == "validate"))


@router.post("/orders/{order_id}/receive", summary="Mark a shipped order received")
def receive(order_id: str, marketplace: MarketplaceDep) -> Response:
    """SHIPPED -> RECEIVED, as when the customer confirms delivery."""
    return _json(marketplace.receive(order_id))


@router.post("/orders/{order_id}/close", summary="Pay the seller: close the order")
def close(order_id: str, marketplace: MarketplaceDep) -> Response:
    """SHIPPED or RECEIVED -> CLOSED, the payout to the seller."""
    return _json(marketplace.close(order_id))


class OrderFlags(StrictModel):
    has_customer_message: bool | None = None
    has_incident: bool | None = None


@router.post("/orders/{order_id}/flags", summary="Set an order's message and incident flags")
def set_flags(order_id: str, body: OrderFlags, marketplace: MarketplaceDep) -> Response:
    """As when the customer writes about the order or an incident opens (or closes) on it."""
    flags = {name: getattr(body, name) for name in body.model_fields_set}
    if any(value is None for value in flags.values()):
        raise MiraklError(400, "a flag is true or false", "VALIDATION_ERROR")
    return _json(marketplace.set_flags(order_id, flags))


class ForcedState(StrictModel):
    state: Annotated[str, Field(min_length=1, max_length=100)]


@router.post("/orders/{order_id}/state", summary="Force a raw order state")
def force_state(order_id: str, body: ForcedState, marketplace: MarketplaceDep) -> Response:
    """Any string, lines untouched: for tests of states the client does not know."""
    return _json(marketplace.force_state(order_id, body.state))


class RefundAction(StrictModel):
    action: Literal["advance", "refuse"]
    reason: Literal[
        "EXPIRED_CARD", "STOLEN_CARD", "CARD_OPPOSITION", "AMOUNT_ABOVE_ORDER_AMOUNT", "FRAUD"
    ] | None = Field(None, description="Refusal reason; default AMOUNT_ABOVE_ORDER_AMOUNT")


@router.post("/refunds/{refund_id}", summary="Advance or refuse a refund")
def refund_action(refund_id: str, body: RefundAction, marketplace: MarketplaceDep) -> Response:
    """advance: WAITING_REFUND -> WAITING_REFUND_PAYMENT -> REFUNDED; refuse: REFUSED + reason."""
    return _json(marketplace.refund_action(refund_id, body.action, body.reason))


class ClockNow(BaseModel):
    now: str


class ClockMove(StrictModel):
    advance_seconds: Annotated[float, Field(ge=0)]


@router.get("/clock", response_model=ClockNow, summary="Read the sandbox clock")
def get_clock(marketplace: MarketplaceDep) -> dict[str, str]:
    return {"now": format_date(marketplace.now())}


@router.post("/clock", response_model=ClockNow, summary="Move the sandbox clock forward")
def move_clock(body: ClockMove, marketplace: MarketplaceDep) -> dict[str, str]:
    """Everything that falls due in the skipped time happens before this answers."""
    return {"now": format_date(marketplace.advance_clock(body.advance_seconds))}


Delay = Annotated[float, Field(ge=0)] | None


class Settings(BaseModel):
    """Marketplace delays in sandbox seconds; null means "only through the control API".

    address_visibility: when OR11 shows the customer's addresses, contacts and notification
    email, from "acceptance" (La Redoute) or from "shipping".
    order_tax_mode (TAX_INCLUDED or TAX_EXCLUDED) and taxes_enabled: how orders generated from
    now on count VAT; orders already made keep theirs.
    """

    payment_delay: Delay
    payment_refusal_rate: Annotated[float, Field(ge=0, le=1)]
    receive_delay: Delay
    close_delay: Delay
    refund_delay: Delay
    demo_orders_per_minute: Annotated[float, Field(ge=0)]
    offer_import_delay: Delay
    address_visibility: AddressVisibility
    order_tax_mode: TaxMode
    taxes_enabled: bool


class SettingsUpdate(StrictModel):
    payment_delay: Delay = None
    payment_refusal_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    receive_delay: Delay = None
    close_delay: Delay = None
    refund_delay: Delay = None
    demo_orders_per_minute: Annotated[float, Field(ge=0)] | None = None
    offer_import_delay: Delay = None
    address_visibility: AddressVisibility | None = None
    order_tax_mode: TaxMode | None = None
    taxes_enabled: bool | None = None


@router.get("/settings", response_model=Settings,
            summary="Read the marketplace delays, address visibility and tax settings")
def get_settings(marketplace: MarketplaceDep) -> dict[str, Any]:
    return marketplace.settings()


@router.put("/settings", response_model=Settings,
            summary="Change some marketplace delays, the address visibility or tax settings")
def put_settings(body: SettingsUpdate, marketplace: MarketplaceDep) -> dict[str, Any]:
    """Only the fields given change; a delay set to null stops that step until told."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("payment_refusal_rate", "demo_orders_per_minute", "address_visibility",
                 "order_tax_mode", "taxes_enabled"):
        if name in changes and changes[name] is None:
            raise MiraklError(400, f"{name} cannot be null", "VALIDATION_ERROR")
    return marketplace.update_settings(changes)


class FaultSpec(StrictModel):
    kind: FaultKind
    times: Annotated[int, Field(ge=1)] = 1
    method: Literal["GET", "PUT", "POST"] | None = None
    path_contains: str | None = None
    retry_after: Annotated[int, Field(ge=0)] = 1
    delay: Annotated[float, Field(ge=0)] = 0.0


class FaultOut(BaseModel):
    id: int
    kind: str
    times: int
    method: str | None
    path_contains: str | None
    retry_after: int
    delay: float


class FaultList(BaseModel):
    faults: list[FaultOut]


@router.post("/faults", response_model=FaultOut, summary="Arm a fault")
def arm_fault(body: FaultSpec, faults: FaultsDep) -> dict[str, Any]:
    """The next `times` marketplace API calls that match get the fault (see the README)."""
    return faults.arm(**body.model_dump()).as_dict()


@router.get("/faults", response_model=FaultList, summary="List armed faults")
def list_faults(faults: FaultsDep) -> dict[str, Any]:
    return {"faults": [f.as_dict() for f in faults.armed()]}


@router.delete("/faults", response_model=FaultList, summary="Disarm every fault")
def clear_faults(faults: FaultsDep) -> dict[str, Any]:
    faults.clear()
    return {"faults": []}


class OfferImportOut(BaseModel):
    """OF02's body plus the shop and, once processed, when it was."""

    import_id: int
    shop_id: int
    date_created: str
    date_done: str | None = None
    mode: str
    type: str
    status: str
    reason_status: str
    lines_read: int
    lines_in_success: int
    lines_in_error: int
    lines_in_pending: int
    offer_inserted: int
    offer_updated: int
    offer_deleted: int
    has_error_report: bool


class OfferImportList(BaseModel):
    imports: list[OfferImportOut]


@router.get("/offer-imports", response_model=OfferImportList, response_model_exclude_none=True,
            summary="List offer imports")
def list_offer_imports(marketplace: MarketplaceDep, shop_id: int | None = None
                       ) -> dict[str, Any]:
    """Every OF01 import received, oldest first, with its status."""
    return {"imports": marketplace.offer_imports(shop_id)}


@router.post("/offer-imports/{import_id}/complete", response_model=OfferImportOut,
             response_model_exclude_none=True, summary="Process an offer import now")
def complete_offer_import(import_id: int, marketplace: MarketplaceDep) -> dict[str, Any]:
    """WAITING or RUNNING -> COMPLETE (or FAILED); an import already processed is unchanged."""
    return marketplace.complete_offer_import(import_id)


@router.get("/offers", summary="Read the raw offers")
def raw_offers(marketplace: MarketplaceDep, shop_id: int | None = None) -> Response:
    """Each offer with the line that last set it, cell by cell as sent; all shops unless told."""
    return _json({"offers": marketplace.raw_offers(shop_id)})


class UnknownProducts(StrictModel):
    eans: list[Annotated[str, Field(min_length=1, max_length=64)]]


@router.post("/catalogue/unknown-products", response_model=UnknownProducts,
             summary="Set the EANs the catalogue does not know")
def set_unknown_products(body: UnknownProducts, marketplace: MarketplaceDep) -> dict[str, Any]:
    """Offer lines for these EANs fail with "product not found"; the list replaces the last."""
    return {"eans": marketplace.set_unknown_products(body.eans)}


@router.get("/catalogue/unknown-products", response_model=UnknownProducts,
            summary="Read the EANs the catalogue does not know")
def get_unknown_products(marketplace: MarketplaceDep) -> dict[str, Any]:
    return {"eans": marketplace.unknown_products()}


class Call(BaseModel):
    id: int
    time: str
    method: str
    path: str
    operation: str | None
    order_id: str | None
    order_ids: list[str]
    status: int | None = Field(description="null when the connection was dropped unanswered")
    fault: str | None


class CallList(BaseModel):
    calls: list[Call]


@router.get("/calls", response_model=CallList, summary="Log of marketplace API calls")
def list_calls(
    marketplace: MarketplaceDep, order_id: str | None = None, operation: str | None = None
) -> dict[str, Any]:
    """Every /api call received, oldest first, to prove an action was (not) sent twice."""
    return {"calls": marketplace.calls(order_id=order_id, operation=operation)}
