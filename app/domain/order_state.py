"""What an order's state says without changing it: its status, its lines' statuses, its
refunds and its amounts.

The Order aggregate (order.py) holds the state and records the events; it reads it through
these properties, as every caller does.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.money import money
from app.domain.order_lines import OrderLine, find_line
from app.domain.order_money import NO_CHARGES, Charges
from app.domain.order_status import (
    REFUNDABLE_FULFILMENT,
    TERMINAL_STATUSES,
    OrderStatus,
)
from app.domain.refunds import Refund, latest_refund, refunded_total
from app.domain.shipments import Shipment


class OrderState:
    """The state an order's events build, and what follows from it."""

    channel: str
    marketplace_order_id: str
    created_at: datetime
    acceptance_deadline: datetime
    # As the Imported event recorded them (see order_values.py for their keys).
    # None while the marketplace holds them back (before acceptance on La Redoute).
    customer: dict[str, str | None] | None
    shipping_address: dict[str, str] | None
    delivery: dict[str, Any]
    # What a shipper needs beyond the short address, once the marketplace shows it.
    recipient: dict[str, str | None] | None
    billing_address: dict[str, str | None] | None
    locale: str | None
    details_received_at: datetime | None
    # The marketplace's flags (MarketplaceFlags.stored()) and when the order must ship by.
    flags: dict[str, Any]
    ship_by: datetime | None
    shipping_price: Decimal
    # OrderPricing.stored(): currency, tax mode, commission; the lines hold their own money.
    pricing: dict[str, Any]
    # The marketplace's custom fields of the order, by code.
    additional_fields: dict[str, Any]
    lines: list[OrderLine]
    # The guide's status without the refund overlay: CREATED ... SHIPPED, PAID.
    fulfilment_status: OrderStatus
    refunds: list[Refund]
    shipping_refunded: bool
    shipment: Shipment | None
    accepted_at: datetime | None
    paid_at: datetime | None
    refusal_reason: str | None
    cancel_reason: str | None
    closed_at: datetime | None
    refused_lines: list[str]

    @property
    def status(self) -> OrderStatus:
        """The guide's status: the latest refund's status once a refund exists."""
        refund = self.latest_refund
        if refund is not None and self.fulfilment_status in REFUNDABLE_FULFILMENT:
            return OrderStatus(refund.status)
        return self.fulfilment_status

    def is_late(self, now: datetime) -> bool:
        """Waiting for shipment past its ship-by time."""
        return (
            self.status == OrderStatus.TOSHIP and self.ship_by is not None and now > self.ship_by
        )

    @property
    def is_terminal(self) -> bool:
        return self.fulfilment_status in TERMINAL_STATUSES

    @property
    def latest_refund(self) -> Refund | None:
        return latest_refund(self.refunds)

    @property
    def open_refund(self) -> Refund | None:
        """The latest refund while the marketplace has not finished with it."""
        refund = self.latest_refund
        return refund if refund is not None and refund.in_flight else None

    def line(self, line_id: str) -> OrderLine | None:
        return find_line(self.lines, line_id)

    def _line(self, line_id: str) -> OrderLine:
        """A line the order is known to have (an event names it)."""
        line = self.line(line_id)
        assert line is not None, line_id
        return line

    def line_status(self, line: OrderLine) -> str:
        if line.canceled_quantity == line.quantity:
            return OrderStatus.OUT_OF_STOCK
        if line.refunded_quantity and line.refunded_quantity == line.kept_quantity:
            return OrderStatus.REFUNDED
        refund = self.latest_refund
        if refund is not None and line.line_id in refund.lines:
            return refund.status
        return self.fulfilment_status

    @property
    def tax_mode(self) -> str:
        return str(self.pricing["tax_mode"])

    @property
    def currency(self) -> str:
        return str(self.pricing["currency"])

    def _charged(self) -> Charges:
        return sum((line.charged for line in self.lines), NO_CHARGES)

    @property
    def goods_total(self) -> Decimal:
        """The lines' prices, after promotions, without shipping."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def taxes_total(self) -> Decimal:
        """The taxes on the lines and on their shipping (within the prices when TAX_INCLUDED)."""
        return self._charged().tax_total()

    @property
    def fees_total(self) -> Decimal:
        return money(sum(self._charged().fees.values(), Decimal("0.00")))

    @property
    def canceled_amount(self) -> Decimal:
        """What cancellations took off: pieces, their taxes and fees, and the shipping of lines
        cancelled to the last piece."""
        return money(sum((line.canceled for line in self.lines), NO_CHARGES).total(self.tax_mode))

    @property
    def order_total(self) -> Decimal:
        """What the customer was charged: prices, shipping, fees, and the taxes when excluded."""
        return self._charged().total(self.tax_mode)

    @property
    def payable_total(self) -> Decimal:
        """What the customer pays once cancelled lines are taken out."""
        if all(line.kept_quantity == 0 for line in self.lines):
            return Decimal("0.00")
        return self.order_total - self.canceled_amount

    @property
    def refunded_amount(self) -> Decimal:
        return refunded_total(self.refunds)

    @property
    def refundable_amount(self) -> Decimal:
        """Paid and not yet refunded (refunds in flight excluded)."""
        if self.fulfilment_status not in REFUNDABLE_FULFILMENT:
            return Decimal("0.00")
        return self.payable_total - self.refunded_amount


__all__ = ["OrderState"]
