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

from collections.abc import Mapping, Sequence
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
from app.domain.order_money import Charges, OrderPricing
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
    CustomerDetails,
    Delivery,
    DeliveryMode,
    FullAddress,
    LineQuantity,
    MarketplaceFlags,
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
        customer: Customer | None,
        shipping_address: Address | None,
        delivery: Delivery,
        shipping_price: Decimal,
        lines: Sequence[NewLine],
        details: CustomerDetails | None = None,
        flags: MarketplaceFlags | None = None,
        pricing: OrderPricing | None = None,
        additional_fields: Mapping[str, Any] | None = None,
    ) -> Order:
        """Check an order coming from the marketplace and create it in status CREATED.

        The customer and the shipping address are None when the marketplace holds them back
        until acceptance; `details` carries the rest a shipper needs, when shown already, and
        `flags` what the marketplace says of the order (with its shipping deadline).
        `pricing` gives the currency and the tax mode (the lines' NewLine.pricing their
        money), `additional_fields` the marketplace's custom fields of the order by code.
        A line without pricing costs its quantity at its unit price; when no line has one, the
        order's shipping price is the first line's.
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
            details=details,
            flags=flags,
            pricing=pricing,
        )
        return cls(
            channel=str(Channel(channel)),
            marketplace_order_id=marketplace_order_id,
            created_at=created_at,
            customer=None if customer is None else customer.stored(),
            shipping_address=None if shipping_address is None else shipping_address.stored(),
            delivery=delivery.stored(),
            shipping_price=money(shipping_price),
            lines=[line.stored() for line in lines],
            details=None if details is None else details.stored_extra(),
            flags=None if flags is None else flags.stored(),
            ship_by=None if flags is None else cls._ship_by(flags.stored(), None),
            pricing=(pricing or OrderPricing()).stored(),
            additional_fields=dict(additional_fields or {}),
        )

    @event("Imported")
    def __init__(
        self,
        channel: str,
        marketplace_order_id: str,
        created_at: datetime,
        customer: dict[str, str | None] | None,
        shipping_address: dict[str, str] | None,
        delivery: dict[str, Any],
        shipping_price: Decimal,
        lines: list[dict[str, Any]],
        details: dict[str, Any] | None = None,
        flags: dict[str, Any] | None = None,
        ship_by: datetime | None = None,
        pricing: dict[str, Any] | None = None,
        additional_fields: dict[str, Any] | None = None,
    ) -> None:
        # Events stored before the customer could be held back always have customer and
        # shipping address, and no details nor flags.
        self.channel = channel
        self.marketplace_order_id = marketplace_order_id
        self.created_at = created_at
        self.acceptance_deadline = created_at + ACCEPTANCE_WINDOW
        self.customer = customer
        self.shipping_address = shipping_address
        self.delivery = delivery
        details = details or {}
        self.recipient = details.get("recipient")
        self.billing_address = details.get("billing_address")
        self.locale = details.get("locale")
        self.details_received_at = None
        self.flags = flags or MarketplaceFlags().stored()
        self.ship_by = ship_by
        self.pricing = pricing or OrderPricing().stored()
        self.additional_fields = additional_fields or {}
        self.lines = [OrderLine(**line) for line in lines]
        if all(line.get("pricing") is None for line in lines) and self.lines:
            # Known by unit prices only: the order's shipping is its first line's.
            first = self.lines[0]
            first.pricing = {**first.priced, "shipping_price": shipping_price}
        self.shipping_price = sum(
            (Decimal(line.priced["shipping_price"]) for line in self.lines), Decimal("0.00")
        )
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
                       refused_lines=refused, ship_by=self._ship_by(self.flags, at))

    @event("Accepted")
    def _accepted(
        self, at: datetime, status: str, origin: str = "merchant",
        refused_lines: list[str] | None = None, ship_by: datetime | None = None,
    ) -> None:
        self.fulfilment_status = OrderStatus.ACCEPTED
        self.accepted_at = at
        if ship_by is not None:
            self.ship_by = ship_by
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
            charges={
                line_id: self._line(line_id).cancel_share(quantity).stored()
                for line_id, quantity in quantities.items()
            },
            currency=self.currency,
            tax_mode=self.tax_mode,
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
        charges: dict[str, dict[str, Any]] | None = None,
        currency: str | None = None,
        tax_mode: str | None = None,
    ) -> None:
        # The amounts are in the order's currency and tax mode, recorded for the marketplace.
        # Cancellations recorded before their amounts were: the price of the pieces only.
        for line_id, quantity in lines.items():
            line = self._line(line_id)
            if charges is not None:
                line.canceled = line.canceled + Charges.from_stored(charges[line_id])
            else:
                line.canceled = line.canceled + Charges(price=money(line.unit_price * quantity))
            line.canceled_quantity += quantity
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
        open_refund_sent: bool = False,
    ) -> Refund:
        """Ask the marketplace to refund lines (or everything left) and maybe the shipping.

        A refund the marketplace does not have yet is replaced by the new request, so its
        quantities are free again. One it has cannot be withdrawn: it blocks new requests until
        it ends. `open_refund_sent` says that the open request has left for the marketplace
        already (its delivery is under way or done), though the marketplace's answer has not
        been recorded yet: it is followed to its end too.
        """
        if self.fulfilment_status not in REFUNDABLE_FULFILMENT:
            raise InvalidStatus("refund", self.status, REFUNDABLE_STATUSES)
        reason = required_text("reason", reason)
        open_refund = self.open_refund
        if open_refund is not None and not open_refund.supersedable:
            raise InvalidStatus("refund", self.status, REFUNDABLE_STATUSES)
        if open_refund is not None and open_refund_sent:
            raise RuleViolation(
                "refund", "sent_refund_in_progress",
                f"refund {open_refund.refund_id} has been sent to the marketplace and cannot be "
                "withdrawn; a new request can be made once it has ended",
            )
        superseded = open_refund.refund_id if open_refund is not None else None
        plan = plan_refund(
            self.lines,
            lines,
            refund_shipping=refund_shipping,
            tax_mode=self.tax_mode,
            refundable_amount=self.refundable_amount,
        )
        self._refund_requested(
            refund_id=next_refund_id(self.refunds),
            lines=plan.lines,
            charges={line_id: part.stored() for line_id, part in plan.charges.items()},
            currency=self.currency,
            tax_mode=self.tax_mode,
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
        charges: dict[str, dict[str, Any]] | None = None,
        currency: str | None = None,
        tax_mode: str | None = None,
    ) -> None:
        if supersedes is not None:
            find_refund(self.refunds, supersedes).supersede()
        if charges is not None:
            parts = {line_id: Charges.from_stored(part) for line_id, part in charges.items()}
        else:
            parts = self._parts_of_early_refund(line_amounts, shipping_amount)
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
                charges=parts,
            )
        )

    def _parts_of_early_refund(
        self, line_amounts: dict[str, Decimal], shipping_amount: Decimal
    ) -> dict[str, Charges]:
        """Refunds recorded before their parts were: line prices, and the order's shipping,
        which such orders keep on their first line."""
        parts = {line_id: Charges(price=money(amount)) for line_id, amount in line_amounts.items()}
        if shipping_amount and self.lines:
            first = self.lines[0].line_id
            parts[first] = parts.get(first, Charges()) + Charges(shipping=money(shipping_amount))
        return parts

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
        for line_id, part in refund.charges.items():
            line = self._line(line_id)
            line.refunded = line.refunded + part
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

    # ---------------------------------------------------------------- customer details

    def receive_customer_details(self, details: CustomerDetails, *, at: datetime) -> bool:
        """Keep what the marketplace now shows of the customer; False when nothing is new.

        A part the marketplace does not show (None) keeps what the order has: details are
        only ever added or corrected, never taken away.
        """
        new = self._details_after(details)
        if new is None:
            return False
        self._customer_details_received(**new, at=at, status=self.status)
        return True

    def has_new_customer_details(self, details: CustomerDetails) -> bool:
        return self._details_after(details) is not None

    def _details_after(self, details: CustomerDetails) -> dict[str, Any] | None:
        """The order's details once `details` are received; None when they add nothing."""
        if details.empty:
            return None
        current = self._details_state()
        received = details.stored_extra()
        new = {
            "customer": (
                details.customer.stored() if details.customer is not None else current["customer"]
            ),
            "shipping_address": (
                details.shipping_address.stored()
                if details.shipping_address is not None
                else current["shipping_address"]
            ),
            "recipient": received["recipient"] or current["recipient"],
            "billing_address": received["billing_address"] or current["billing_address"],
            "locale": received["locale"] or current["locale"],
            "delivery": current["delivery"],
        }
        delivery = details.delivery
        if (
            delivery is not None
            and not delivery.awaiting_details
            and delivery.mode is DeliveryMode(self.delivery["mode"])
        ):
            new["delivery"] = delivery.stored()
        return None if new == current else new

    def _details_state(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "shipping_address": self.shipping_address,
            "recipient": self.recipient,
            "billing_address": self.billing_address,
            "locale": self.locale,
            "delivery": self.delivery,
        }

    @event("CustomerDetailsReceived")
    def _customer_details_received(
        self,
        customer: dict[str, str | None] | None,
        shipping_address: dict[str, str] | None,
        recipient: dict[str, str | None] | None,
        billing_address: dict[str, str | None] | None,
        locale: str | None,
        delivery: dict[str, Any],
        at: datetime,
        status: str,
    ) -> None:
        self.customer = customer
        self.shipping_address = shipping_address
        self.recipient = recipient
        self.billing_address = billing_address
        self.locale = locale
        self.delivery = delivery
        self.details_received_at = at

    # ---------------------------------------------------------------- marketplace flags

    def update_marketplace_flags(self, flags: MarketplaceFlags, *, at: datetime) -> bool:
        """Keep the marketplace's flags and ship-by time; False when nothing changed."""
        if not self.has_new_flags(flags):
            return False
        stored = flags.stored()
        ship_by = self._ship_by(stored, self.accepted_at)
        self._marketplace_flags_changed(**stored, ship_by=ship_by, at=at, status=self.status)
        return True

    def has_new_flags(self, flags: MarketplaceFlags) -> bool:
        stored = flags.stored()
        return stored != self.flags or self._ship_by(stored, self.accepted_at) != self.ship_by

    @staticmethod
    def _ship_by(flags: dict[str, Any], accepted_at: datetime | None) -> datetime | None:
        """The marketplace's deadline, else its lead time counted from acceptance."""
        if flags["shipping_deadline"] is not None:
            return flags["shipping_deadline"]
        if flags["leadtime_to_ship"] is not None and accepted_at is not None:
            return accepted_at + timedelta(days=int(flags["leadtime_to_ship"]))
        return None

    @event("MarketplaceFlagsChanged")
    def _marketplace_flags_changed(
        self,
        has_customer_message: bool,
        has_incident: bool,
        can_cancel: bool,
        can_refund: bool,
        shipping_deadline: datetime | None,
        leadtime_to_ship: int | None,
        ship_by: datetime | None,
        at: datetime,
        status: str,
    ) -> None:
        self.flags = {
            "has_customer_message": has_customer_message,
            "has_incident": has_incident,
            "can_cancel": can_cancel,
            "can_refund": can_refund,
            "shipping_deadline": shipping_deadline,
            "leadtime_to_ship": leadtime_to_ship,
        }
        self.ship_by = ship_by

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
    "CustomerDetails",
    "Delivery",
    "DeliveryMode",
    "FullAddress",
    "LineQuantity",
    "MarketplaceFlags",
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
