"""Request and response bodies of the public API (`XCreate` in, `XPublic` out)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from app.domain.order import (
    Address,
    Customer,
    Delivery,
    NewLine,
    Order,
    OrderLine,
    Refund,
)
from app.projections.order_tabs import TAB_OF_STATUS

Money = Annotated[
    str,
    StringConstraints(pattern=r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$"),
    Field(
        description="Amount in euros as a decimal string with at most 2 decimals, e.g. \"29.99\"",
        examples=["29.99"],
    ),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    # A NUL or a line break in a name or an id is never data: refuse it at the door.
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_characters", "text must not contain control characters (NUL, line breaks, ...)"
        )
    return value


def Text(max_length: int, *, min_length: int = 1, pattern: str | None = None) -> Any:
    """A single-line text field of the API."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern),
        AfterValidator(_no_control_characters),
    ]


ShortText = Text(200)
Reason = Text(500)
Identifier = Text(64, pattern=r"^\S+$")
Quantity = Annotated[int, Field(strict=True, ge=1, le=10_000)]

# Far enough from datetime's limits that the 72-hour deadline and UTC conversions cannot overflow.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


_DATE_TIME_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _written_as_a_date(value: Any) -> Any:
    # Pydantic reads a bare number as seconds since 1970; the API takes RFC 3339 text only.
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME_START.match(value)):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "must be an RFC 3339 date-time with its offset, e.g. 2026-11-26T08:30:00Z",
    )


# A date-time with its offset, written as RFC 3339 text (never a number).
DateTime = Annotated[AwareDatetime, BeforeValidator(_written_as_a_date)]


def _plausible_date(value: datetime) -> datetime:
    if not _EARLIEST <= value < _LATEST:
        raise PydanticCustomError(
            "date_range", "the date must be between 1970-01-01 and 9000-01-01 (UTC)"
        )
    return value


class Body(BaseModel):
    """Request bodies reject unknown fields and never coerce between types."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)


class CustomerIn(Body):
    firstname: ShortText
    lastname: ShortText
    email: Text(254, pattern=r"^[^@\s]+@[^@\s]+$")


class AddressIn(Body):
    street: Text(500)
    zip_code: Text(16)
    city: ShortText
    country: Annotated[str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")]


class DeliveryIn(Body):
    mode: Literal["home", "relay"]
    relay_id: Text(64) | None = None
    relay_name: ShortText | None = None
    relay_address: Text(500) | None = None


class OrderLineIn(Body):
    line_id: Identifier
    sku: Text(64)
    ean: Annotated[str, StringConstraints(min_length=1, max_length=14, pattern=r"^[0-9]+$")]
    title: Text(500)
    quantity: Quantity
    unit_price: Money


class OrderCreate(Body):
    """An order as the marketplace gives it, imported in status CREATED."""

    channel: Literal["laredoute", "labrandboutique"]
    marketplace_order_id: Identifier
    created_at: Annotated[DateTime, Field(strict=False), AfterValidator(_plausible_date)]
    customer: CustomerIn | None = Field(
        None,
        description="The customer; null or left out while the marketplace holds it back "
        "(until acceptance on La Redoute)",
    )
    shipping_address: AddressIn | None = Field(
        None,
        description="Where the parcel goes; null or left out while the marketplace holds it "
        "back (until acceptance on La Redoute)",
    )
    delivery: DeliveryIn
    shipping_price: Money
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=200)]

    def import_fields(self) -> dict[str, Any]:
        """The arguments of `OrderService.import_order`: the domain's values, Decimal money."""
        return {
            "channel": self.channel,
            "marketplace_order_id": self.marketplace_order_id,
            "created_at": self.created_at,
            "customer": None if self.customer is None else Customer(**self.customer.model_dump()),
            "shipping_address": None if self.shipping_address is None
            else Address(**self.shipping_address.model_dump()),
            "delivery": Delivery(**self.delivery.model_dump()),
            "shipping_price": Decimal(self.shipping_price),
            "lines": [
                NewLine(**{**line.model_dump(), "unit_price": Decimal(line.unit_price)})
                for line in self.lines
            ],
        }


class AcceptCommand(Body):
    refused_lines: Annotated[list[Identifier], Field(min_length=1, max_length=200)] | None = None


class RefuseCommand(Body):
    reason: Reason


class ShipCommand(Body):
    tracking_number: Text(32)
    carrier: Text(64)
    tracking_url: Text(2048, min_length=8) | None = None


class LineQuantityIn(Body):
    line_id: Identifier
    quantity: Quantity


class CancelCommand(Body):
    lines: Annotated[list[LineQuantityIn], Field(min_length=1, max_length=200)] | None = None
    reason: Reason


class RefundCreate(Body):
    lines: Annotated[list[LineQuantityIn], Field(min_length=1, max_length=200)] | None = None
    refund_shipping: bool
    reason: Reason


# ---------------------------------------------------------------- responses


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TaxPublic(Public):
    code: str
    amount: Decimal
    rate: Decimal | None = None
    calculation_rule: str | None = Field(
        default=None, description="PROPORTIONAL_TO_AMOUNT or NONE, as the marketplace says"
    )


class FeePublic(Public):
    code: str
    amount: Decimal


class PromotionPublic(Public):
    id: str | None
    deduced_amount: Decimal
    promo_code: str | None


class EcoContributionPublic(Public):
    epr_category_code: str | None
    producer_id: str | None
    unit_amount: Decimal | None
    total_amount: Decimal | None


class OrderLinePublic(Public):
    line_id: str
    sku: str
    ean: str
    title: str
    quantity: int
    unit_price: Decimal
    origin_unit_price: Decimal | None = Field(
        description="The offer's price before a promotion, when the marketplace gives it"
    )
    amount: Decimal = Field(description="The line's price without shipping, after promotions")
    shipping_price: Decimal
    taxes: list[TaxPublic] = Field(description="Taxes on the price (within it when TAX_INCLUDED)")
    shipping_taxes: list[TaxPublic]
    fees: list[FeePublic]
    promotions: list[PromotionPublic]
    eco_contributions: list[EcoContributionPublic]
    commission: Decimal | None = Field(description="The marketplace's total commission on it")
    status: str
    canceled_quantity: int
    refunded_quantity: int


class RefundLinePublic(Public):
    line_id: str
    quantity: int
    amount: Decimal = Field(description="The price part (without taxes when TAX_EXCLUDED)")
    shipping_amount: Decimal = Decimal("0.00")
    taxes: dict[str, Decimal] = Field(default_factory=dict, description="Part of each tax, by code")
    shipping_taxes: dict[str, Decimal] = Field(default_factory=dict)
    fees: dict[str, Decimal] = Field(default_factory=dict)


class RefundPublic(Public):
    refund_id: str
    status: str
    lines: list[RefundLinePublic]
    shipping_amount: Decimal
    amount: Decimal
    reason: str
    refusal_reason: str | None
    requested_at: datetime
    updated_at: datetime | None


class ShipmentPublic(Public):
    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime


class AmountsPublic(Public):
    currency: str = Field(description="ISO 4217, the shop's currency (EUR on La Redoute)")
    tax_mode: Literal["TAX_INCLUDED", "TAX_EXCLUDED"] = Field(
        description="TAX_INCLUDED: prices contain their taxes; TAX_EXCLUDED: taxes come on top"
    )
    goods_total: Decimal
    shipping_price: Decimal
    taxes_total: Decimal = Field(description="Taxes on the prices and on the shipping")
    fees_total: Decimal
    order_total: Decimal = Field(
        description="What the customer was charged: prices, shipping, fees, and the taxes "
        "when TAX_EXCLUDED"
    )
    total_commission: Decimal | None = Field(description="The marketplace's commission")
    canceled_amount: Decimal
    payable_total: Decimal
    refunded_amount: Decimal
    refundable_amount: Decimal


class MarketplaceFlagsPublic(Public):
    """As the marketplace last said (OR11): the customer wrote, an incident is open..."""

    has_customer_message: bool
    has_incident: bool
    can_cancel: bool
    can_refund: bool


class OrderPublic(Public):
    id: UUID
    channel: str
    marketplace_order_id: str
    status: str
    tab: str
    version: int
    created_at: datetime
    acceptance_deadline: datetime
    # None while the marketplace holds them back (La Redoute: until the order is accepted).
    customer: dict[str, str | None] | None
    shipping_address: dict[str, str] | None
    delivery: dict[str, str | None]
    recipient: dict[str, str | None] | None = Field(
        description="The shipping address in full: person, company, streets, phones"
    )
    billing_address: dict[str, str | None] | None
    locale: str | None
    marketplace_flags: MarketplaceFlagsPublic
    ship_by: datetime | None = Field(
        description="The marketplace's shipping deadline, else its lead time after acceptance"
    )
    additional_fields: dict[str, Any] = Field(
        description="The marketplace's custom fields of the order, by code"
    )
    lines: list[OrderLinePublic]
    shipment: ShipmentPublic | None
    refunds: list[RefundPublic]
    amounts: AmountsPublic
    accepted_at: datetime | None
    paid_at: datetime | None
    refusal_reason: str | None
    cancel_reason: str | None

    @classmethod
    def of(cls, order: Order) -> OrderPublic:
        return cls(
            id=order.id,
            channel=order.channel,
            marketplace_order_id=order.marketplace_order_id,
            status=order.status,
            tab=TAB_OF_STATUS[order.status],
            version=order.version,
            created_at=order.created_at,
            acceptance_deadline=order.acceptance_deadline,
            customer=order.customer,
            shipping_address=order.shipping_address,
            delivery=order.delivery,
            recipient=order.recipient,
            billing_address=order.billing_address,
            locale=order.locale,
            marketplace_flags=MarketplaceFlagsPublic(
                has_customer_message=order.flags["has_customer_message"],
                has_incident=order.flags["has_incident"],
                can_cancel=order.flags["can_cancel"],
                can_refund=order.flags["can_refund"],
            ),
            ship_by=order.ship_by,
            lines=[_line(order, line) for line in order.lines],
            shipment=ShipmentPublic.model_validate(order.shipment) if order.shipment else None,
            refunds=[_refund(refund) for refund in order.refunds],
            additional_fields=order.additional_fields,
            amounts=AmountsPublic(
                currency=order.currency,
                tax_mode=order.tax_mode,
                goods_total=order.goods_total,
                shipping_price=order.shipping_price,
                taxes_total=order.taxes_total,
                fees_total=order.fees_total,
                order_total=order.order_total,
                total_commission=order.pricing.get("total_commission"),
                canceled_amount=order.canceled_amount,
                payable_total=order.payable_total,
                refunded_amount=order.refunded_amount,
                refundable_amount=order.refundable_amount,
            ),
            accepted_at=order.accepted_at,
            paid_at=order.paid_at,
            refusal_reason=order.refusal_reason,
            cancel_reason=order.cancel_reason,
        )


def _line(order: Order, line: OrderLine) -> OrderLinePublic:
    pricing = line.priced
    return OrderLinePublic(
        line_id=line.line_id,
        sku=line.sku,
        ean=line.ean,
        title=line.title,
        quantity=line.quantity,
        unit_price=line.unit_price,
        origin_unit_price=pricing.get("origin_unit_price"),
        amount=line.amount,
        shipping_price=pricing["shipping_price"],
        taxes=pricing.get("taxes", []),
        shipping_taxes=pricing.get("shipping_taxes", []),
        fees=pricing.get("fees", []),
        promotions=pricing.get("promotions", []),
        eco_contributions=pricing.get("eco_contributions", []),
        commission=pricing.get("commission"),
        status=order.line_status(line),
        canceled_quantity=line.canceled_quantity,
        refunded_quantity=line.refunded_quantity,
    )



def _refund_line(refund: Refund, line_id: str) -> RefundLinePublic:
    part = refund.charges.get(line_id)
    return RefundLinePublic(
        line_id=line_id,
        quantity=refund.lines.get(line_id, 0),
        amount=part.price if part else refund.line_amounts[line_id],
        shipping_amount=part.shipping if part else Decimal("0.00"),
        taxes=dict(part.taxes) if part else {},
        shipping_taxes=dict(part.shipping_taxes) if part else {},
        fees=dict(part.fees) if part else {},
    )


def _refund(refund: Refund) -> RefundPublic:
    return RefundPublic(
        refund_id=refund.refund_id,
        status=refund.status,
        lines=[_refund_line(refund, line_id) for line_id in refund.charges or refund.lines],
        shipping_amount=refund.shipping_amount,
        amount=refund.amount,
        reason=refund.reason,
        refusal_reason=refund.refusal_reason,
        requested_at=refund.requested_at,
        updated_at=refund.updated_at,
    )


class ActorPublic(Public):
    name: str
    role: str


class HistoryEventPublic(Public):
    type: str
    version: int
    timestamp: datetime
    # Who caused the event (an API key's name and role, or a sync job) and the request id or
    # job round it came from; null for events recorded before actors were.
    actor: ActorPublic | None
    correlation_id: str | None
    data: dict[str, Any]


class OrderHistoryPublic(Public):
    order_id: UUID
    events: list[HistoryEventPublic]


class FieldError(BaseModel):
    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="Stable URI reference naming the kind of problem")
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = Field(default=None, description="The request field at fault, if one")
    rule: str | None = Field(default=None, description="The rule it breaks, if one")
    errors: list[FieldError] = Field(default_factory=list)
    status_now: str | None = Field(default=None, description="For invalid-status problems")
    allowed_statuses: list[str] | None = None
    current_version: int | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


# The largest integer a store column holds (signed 64 bits): positions and ids in paths and
# queries are bounded by it, so that a larger one is a 422 and never reaches the store.
BIGINT_MAX = 2**63 - 1


def problem_doc(description: str) -> dict[str, Any]:
    """An error response of a route as the OpenAPI document shows it: problem+json."""
    return {"model": Problem, "description": description,
            "content": {"application/problem+json": {}}}


def from_epoch(epoch: float | None) -> datetime | None:
    """A time the sync and key tables keep as epoch seconds, as a UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
