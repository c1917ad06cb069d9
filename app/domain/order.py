"""The La Redoute order aggregate: statuses and transitions of the seller guide, section 5.

Public methods check the rules and raise; private `@event` methods only change state, so
replaying the history re-applies every change without re-running a check. Time always comes in
as an argument: the domain has no clock.

Every event after Imported also records `status`, the order's status once it is applied, so
that readers of the log (projections, integrators, auditors) need not re-derive it; the
aggregate itself derives its status from its state and never reads that field.

The order is imported with the values of order_values.py, checked by import_checks.py; its
refunds follow their own state machine (refunds.py) and its status is its latest refund's
status once it has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from app.domain.actor import AttributedAggregate
from app.domain.errors import DeadlinePassed, InvalidStatus, RuleViolation
from app.domain.import_checks import check_import
from app.domain.money import money
from app.domain.order_lines import OrderLine, checked_quantities, checked_refused_lines
from app.domain.order_state import OrderState
from app.domain.order_status import (
    REFUNDABLE_FULFILMENT,
    REFUNDABLE_STATUSES,
    SHIPPED_STATUSES,
    TERMINAL_STATUSES,
    OrderStatus,
)
from app.domain.order_values import (
    Address,
    Channel,
    Customer,
    Delivery,
    DeliveryMode,
    LineQuantity,
    NewLine,
    checked_origin,
    required_text,
)
from app.domain.refunds import (
    Refund,
    RefundRefusalReason,
    RefundStatus,
    find_refund,
    next_refund_id,
    plan_refund,
    refusal_reason,
)
from app.domain.shipments import Shipment, checked_tracking

ACCEPTANCE_WINDOW = timedelta(hours=72)
_ORDER_NAMESPACE = UUID("6f1c1d1e-8a4e-4e0e-9c57-5b1f0a7d2c31")


def order_id_for(channel: str, marketplace_order_id: str) -> UUID:
    """One order id per (channel, marketplace order id): importing twice finds the same order."""
    return uuid5(_ORDER_NAMESPACE, f"{channel}\x1f{marketplace_order_id}")


class Order(OrderState, AttributedAggregate):
    """An order moves only along the seller guide's transitions and never refunds more than was paid."""

    @staticmethod
    def create_id(channel: str, marketplace_order_id: str) -> UUID:
        return order_id_for(channel, marketplace_order_id)

    # ---------------------------------------------------------------- import

    @classmethod
    def import_(
        cls,
        *,
        channel: str,
        marketplace_order_id: str,
        created_at: datetime,
        customer: Customer,
        shipping_address: Address,
        delivery: Delivery,
        shipping_price: Decimal,
        lines: Sequence[NewLine],
    ) -> Order:
        """Check an order coming from the marketplace and create it in status CREATED.

        The Imported event records the values' stored forms: plain dictionaries.
        """
        check_import(
            channel=channel,
            marketplace_order_id=marketplace_order_id,
            created_at=created_at,
            customer=customer,
            shipping_address=shipping_address,
            delivery=delivery,
            shipping_price=shipping_price,
            lines=lines,
        )
        return cls(
            channel=str(Channel(channel)),
            marketplace_order_id=marketplace_order_id,
            created_at=created_at,
            customer=customer.stored(),
            shipping_address=shipping_address.stored(),
            delivery=delivery.stored(),
            shipping_price=money(shipping_price),
            lines=[line.stored() for line in lines],
        )

    @event("Imported")
    def __init__(
        self,
        channel: str,
        marketplace_order_id: str,
        created_at: datetime,
        customer: dict[str, str],
        shipping_address: dict[str, str],
        delivery: dict[str, Any],
        shipping_price: Decimal,
        lines: list[dict[str, Any]],
    ) -> None:
        self.channel = channel
        self.marketplace_order_id = marketplace_order_id
        self.created_at = created_at
        self.acceptance_deadline = created_at + ACCEPTANCE_WINDOW
        self.customer = customer
        self.shipping_address = shipping_address
        self.delivery = delivery
        self.shipping_price = shipping_price
        self.lines = [OrderLine(**line) for line in lines]
        # The guide's status without the refund overlay: CREATED ... SHIPPED, PAID.
        self.fulfilment_status = OrderStatus.CREATED
        self.refunds = []
        self.shipping_refunded = False
        self.shipment = None
        self.accepted_at = None
        self.paid_at = None
        self.refusal_reason = None
        self.cancel_reason = None
        self.closed_at = None
        self.refused_lines = []

    # ---------------------------------------------------------------- merchant commands

    def accept(
        self, *, at: datetime, origin: str = "merchant", refused_lines: list[str] | None = None
    ) -> None:
        """Accept the order, refusing some lines if need be (an offer out of stock).

        `origin` is "marketplace" when the sync mirrors an acceptance made elsewhere. At least
        one line must be accepted: refusing them all is refusing the order.
        """
        self._require("accept", {OrderStatus.CREATED})
        refused = checked_refused_lines(self.lines, refused_lines)
        if at > self.acceptance_deadline:
            raise DeadlinePassed(
                "accepted_at",
                "acceptance_deadline",
                f"the acceptance deadline passed at {self.acceptance_deadline.isoformat()}",
            )
        self._accepted(at=at, status=OrderStatus.ACCEPTED, origin=checked_origin(origin),
                       refused_lines=refused)

    @event("Accepted")
    def _accepted(
        self, at: datetime, status: str, origin: str = "merchant",
        refused_lines: list[str] | None = None,
    ) -> None:
        self.fulfilment_status = OrderStatus.ACCEPTED
        self.accepted_at = at
        self.refused_lines = list(refused_lines or [])
        for line_id in self.refused_lines:
            line = self._line(line_id)
            line.canceled_quantity = line.quantity

    def refuse(self, *, reason: str, origin: str = "merchant") -> None:
        self._require("refuse", {OrderStatus.CREATED})
        self._refused(
            reason=required_text("reason", reason),
            status=OrderStatus.REFUSED,
            origin=checked_origin(origin),
        )

    @event("Refused")
    def _refused(self, reason: str, status: str, origin: str = "merchant") -> None:
        self.fulfilment_status = OrderStatus.REFUSED
        self.refusal_reason = reason

    def ship(
        self,
        *,
        tracking_number: str,
        carrier: str,
        tracking_url: str | None,
        at: datetime,
        origin: str = "merchant",
    ) -> None:
        self._require("ship", {OrderStatus.TOSHIP})
        tracking = checked_tracking(tracking_number, carrier, tracking_url)
        self._shipped(
            carrier=tracking.carrier,
            tracking_number=tracking.tracking_number,
            tracking_url=tracking.tracking_url,
            at=at,
            status=OrderStatus.SHIPPED,
            origin=checked_origin(origin),
        )

    @event("Shipped")
    def _shipped(
        self,
        carrier: str,
        tracking_number: str,
        tracking_url: str,
        at: datetime,
        status: str,
        origin: str = "merchant",
    ) -> None:
        self.fulfilment_status = OrderStatus.SHIPPED
        self.shipment = Shipment(carrier, tracking_number, tracking_url, at)

    def cancel(
        self,
        *,
        lines: list[LineQuantity] | None,
        reason: str,
        at: datetime,
        origin: str = "merchant",
    ) -> None:
        """Out of stock: the whole order (no lines) or some quantities of some lines."""
        self._require("cancel", {OrderStatus.TOSHIP})
        reason = required_text("reason", reason)
        if not lines:
            quantities = {
                line.line_id: line.kept_quantity for line in self.lines if line.kept_quantity
            }
        else:
            quantities = checked_quantities(
                self.lines, lines, lambda line: line.kept_quantity, "cancel"
            )
        everything = all(
            quantities.get(line.line_id, 0) == line.kept_quantity for line in self.lines
        )
        self._lines_canceled(
            lines=quantities,
            reason=reason,
            at=at,
            status=OrderStatus.OUT_OF_STOCK if everything else OrderStatus.TOSHIP,
            origin=checked_origin(origin),
        )

    @event("LinesCanceled")
    def _lines_canceled(
        self,
        lines: dict[str, int],
        reason: str,
        at: datetime,
        status: str,
        origin: str = "merchant",
    ) -> None:
        for line_id, quantity in lines.items():
            self._line(line_id).canceled_quantity += quantity
        self.cancel_reason = reason
        if all(line.kept_quantity == 0 for line in self.lines):
            self.fulfilment_status = OrderStatus.OUT_OF_STOCK
            self.closed_at = at

    def request_refund(
        self,
        *,
        lines: list[LineQuantity] | None,
        refund_shipping: bool,
        reason: str,
        at: datetime,
    ) -> Refund:
        """Ask the marketplace to refund lines (or everything left) and maybe the shipping.

        A refund the marketplace has not dealt with yet is replaced by the new request, so its
        quantities are free again; one it is paying blocks new requests.
        """
        if self.fulfilment_status not in REFUNDABLE_FULFILMENT:
            raise InvalidStatus("refund", self.status, REFUNDABLE_STATUSES)
        reason = required_text("reason", reason)
        open_refund = self.open_refund
        if open_refund is not None and not open_refund.supersedable:
            raise InvalidStatus("refund", self.status, REFUNDABLE_STATUSES)
        superseded = open_refund.refund_id if open_refund is not None else None
        plan = plan_refund(
            self.lines,
            lines,
            refund_shipping=refund_shipping,
            shipping_price=self.shipping_price,
            shipping_refunded=self.shipping_refunded,
            refundable_amount=self.refundable_amount,
        )
        self._refund_requested(
            refund_id=next_refund_id(self.refunds),
            lines=plan.lines,
            line_amounts=plan.line_amounts,
            shipping_amount=plan.shipping_amount,
            amount=plan.amount,
            reason=reason,
            supersedes=superseded,
            at=at,
            status=OrderStatus.TO_REFUND,
        )
        return self.refunds[-1]

    @event("RefundRequested")
    def _refund_requested(
        self,
        refund_id: str,
        lines: dict[str, int],
        line_amounts: dict[str, Decimal],
        shipping_amount: Decimal,
        amount: Decimal,
        reason: str,
        supersedes: str | None,
        at: datetime,
        status: str,
    ) -> None:
        if supersedes is not None:
            find_refund(self.refunds, supersedes).supersede()
        self.refunds.append(
            Refund(
                refund_id=refund_id,
                lines=dict(lines),
                line_amounts=dict(line_amounts),
                shipping_amount=shipping_amount,
                amount=amount,
                reason=reason,
                requested_at=at,
                updated_at=at,
            )
        )

    # ---------------------------------------------------------------- marketplace transitions

    def validate_payment(self, *, at: datetime) -> None:
        self._require("validate the payment of", {OrderStatus.ACCEPTED})
        self._payment_validated(at=at, status=OrderStatus.TOSHIP)

    @event("PaymentValidated")
    def _payment_validated(self, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.TOSHIP

    def refuse_payment(self, *, at: datetime) -> None:
        self._require("refuse the payment of", {OrderStatus.ACCEPTED})
        self._payment_refused(at=at, status=OrderStatus.CANCELED)

    @event("PaymentRefused")
    def _payment_refused(self, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.CANCELED
        self.closed_at = at

    def expire(self, *, at: datetime) -> None:
        """The marketplace cancels an order not accepted within 72 hours."""
        self._require("expire", {OrderStatus.CREATED})
        if at < self.acceptance_deadline:
            raise RuleViolation(
                "at",
                "deadline_not_reached",
                f"the acceptance deadline is {self.acceptance_deadline.isoformat()}",
            )
        self._acceptance_expired(at=at, status=OrderStatus.CANCELED)

    @event("AcceptanceExpired")
    def _acceptance_expired(self, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.CANCELED
        self.closed_at = at

    def cancel_by_marketplace(self, *, reason: str, at: datetime) -> None:
        """The marketplace cancelled an open order for a reason of its own (customer, fraud...)."""
        self._require(
            "cancel (marketplace)", {OrderStatus.CREATED, OrderStatus.ACCEPTED, OrderStatus.TOSHIP}
        )
        self._canceled_by_marketplace(
            reason=required_text("reason", reason), at=at, status=OrderStatus.CANCELED
        )

    @event("CanceledByMarketplace")
    def _canceled_by_marketplace(self, reason: str, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.CANCELED
        self.cancel_reason = reason
        self.closed_at = at

    def mark_paid(self, *, at: datetime) -> None:
        if self.fulfilment_status == OrderStatus.PAID and self.status != OrderStatus.PAID:
            # Its refund status hides it, but this order's payment is recorded already.
            raise InvalidStatus("pay (already paid)", self.status, {OrderStatus.SHIPPED})
        if self.fulfilment_status != OrderStatus.SHIPPED:
            raise InvalidStatus("pay", self.status, SHIPPED_STATUSES)
        refund = self.latest_refund
        self._paid(at=at, status=refund.status if refund is not None else OrderStatus.PAID)

    @event("Paid")
    def _paid(self, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.PAID
        self.paid_at = at

    # The refund steps: the marketplace moves one refund along its state machine (refunds.py).

    def submit_refund(self, refund_id: str, *, at: datetime) -> None:
        """The marketplace received the request and waits for its approval."""
        find_refund(self.refunds, refund_id).check_step("submit")
        self._refund_submitted(refund_id=refund_id, at=at, status=OrderStatus.TO_APPROVE)

    @event("RefundSubmitted")
    def _refund_submitted(self, refund_id: str, at: datetime, status: str) -> None:
        find_refund(self.refunds, refund_id).apply_step("submit", at)

    def approve_refund(self, refund_id: str, *, at: datetime) -> None:
        find_refund(self.refunds, refund_id).check_step("approve")
        self._refund_approved(refund_id=refund_id, at=at, status=OrderStatus.REFUNDING)

    @event("RefundApproved")
    def _refund_approved(self, refund_id: str, at: datetime, status: str) -> None:
        find_refund(self.refunds, refund_id).apply_step("approve", at)

    def complete_refund(self, refund_id: str, *, at: datetime) -> None:
        refund = find_refund(self.refunds, refund_id)
        refund.check_step("complete")
        self._refund_completed(
            refund_id=refund_id, amount=refund.amount, at=at, status=OrderStatus.REFUNDED
        )

    @event("RefundCompleted")
    def _refund_completed(self, refund_id: str, amount: Decimal, at: datetime, status: str) -> None:
        refund = find_refund(self.refunds, refund_id)
        refund.apply_step("complete", at)
        for line_id, quantity in refund.lines.items():
            self._line(line_id).refunded_quantity += quantity
        if refund.shipping_amount:
            self.shipping_refunded = True

    def refuse_refund(self, refund_id: str, *, reason: str, at: datetime) -> None:
        find_refund(self.refunds, refund_id).check_step("refuse")
        self._refund_refused(
            refund_id=refund_id,
            reason=refusal_reason(reason),
            at=at,
            status=OrderStatus.REFUND_REFUSED,
        )

    @event("RefundRefused")
    def _refund_refused(self, refund_id: str, reason: str, at: datetime, status: str) -> None:
        refund = find_refund(self.refunds, refund_id)
        refund.apply_step("refuse", at)
        refund.refusal_reason = reason

    # ---------------------------------------------------------------- helpers

    def _require(self, command: str, allowed: set[OrderStatus]) -> None:
        if self.status not in allowed:
            raise InvalidStatus(command, self.status, allowed)


__all__ = [
    "ACCEPTANCE_WINDOW",
    "TERMINAL_STATUSES",
    "Address",
    "Channel",
    "Customer",
    "Delivery",
    "DeliveryMode",
    "LineQuantity",
    "NewLine",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Refund",
    "RefundRefusalReason",
    "RefundStatus",
    "Shipment",
    "order_id_for",
]
