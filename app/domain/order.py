"""The La Redoute order aggregate: statuses and transitions of the seller guide, section 5.

Public methods check the rules and raise; private `@event` methods only change state, so
replaying the history re-applies every change without re-running a check. Time always comes in
as an argument: the domain has no clock.

Every event after Imported also records `status`, the order's status once it is applied, so
that readers of the log (projections, integrators, auditors) need not re-derive it; the
aggregate itself derives its status from its state and never reads that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from app.domain.actor import AttributedAggregate
from app.domain.carriers import tracking_url_for
from app.domain.errors import DeadlinePassed, InvalidStatus, RuleViolation
from app.domain.money import CENT, money

ACCEPTANCE_WINDOW = timedelta(hours=72)
MAX_TRACKING_NUMBER_LENGTH = 32
MAX_LINES = 200
_ORDER_NAMESPACE = UUID("6f1c1d1e-8a4e-4e0e-9c57-5b1f0a7d2c31")
_NO_SPACE = re.compile(r"^\S+$")


class Channel(StrEnum):
    LAREDOUTE = "laredoute"
    LABRANDBOUTIQUE = "labrandboutique"


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    ACCEPTED = "ACCEPTED"
    TOSHIP = "TOSHIP"
    SHIPPED = "SHIPPED"
    PAID = "PAID"
    TO_REFUND = "TO_REFUND"
    TO_APPROVE = "TO_APPROVE"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    REFUND_REFUSED = "REFUND_REFUSED"
    REFUSED = "REFUSED"
    CANCELED = "CANCELED"
    OUT_OF_STOCK = "OUT_OF_STOCK"


class RefundStatus(StrEnum):
    TO_REFUND = "TO_REFUND"
    TO_APPROVE = "TO_APPROVE"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    REFUND_REFUSED = "REFUND_REFUSED"
    SUPERSEDED = "SUPERSEDED"


class RefundRefusalReason(StrEnum):
    """Why the marketplace refuses a refund (seller guide, section 5)."""

    EXPIRED_CARD = "EXPIRED_CARD"
    STOLEN_CARD = "STOLEN_CARD"
    CARD_OPPOSITION = "CARD_OPPOSITION"
    AMOUNT_ABOVE_ORDER_AMOUNT = "AMOUNT_ABOVE_ORDER_AMOUNT"
    FRAUD = "FRAUD"


class DeliveryMode(StrEnum):
    HOME = "home"
    RELAY = "relay"


TAB_OF_STATUS: dict[OrderStatus, str] = {
    OrderStatus.CREATED: "new",
    OrderStatus.ACCEPTED: "new",
    OrderStatus.TOSHIP: "waiting_shipment",
    OrderStatus.SHIPPED: "sent",
    OrderStatus.PAID: "sent",
    OrderStatus.TO_REFUND: "sent",
    OrderStatus.TO_APPROVE: "sent",
    OrderStatus.REFUNDING: "sent",
    OrderStatus.REFUNDED: "sent",
    OrderStatus.REFUND_REFUSED: "sent",
    OrderStatus.REFUSED: "canceled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.OUT_OF_STOCK: "canceled",
}

TERMINAL_STATUSES = frozenset(
    {OrderStatus.REFUSED, OrderStatus.CANCELED, OrderStatus.OUT_OF_STOCK}
)
# Refunds that the marketplace has not dealt with yet: a new request replaces them.
_OPEN_REFUND_SUPERSEDABLE = frozenset({RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE})
_REFUND_IN_FLIGHT = frozenset(
    {RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE, RefundStatus.REFUNDING}
)
_REFUNDABLE_FULFILMENT = frozenset({OrderStatus.SHIPPED, OrderStatus.PAID})


def order_id_for(channel: str, marketplace_order_id: str) -> UUID:
    """One order id per (channel, marketplace order id): importing twice finds the same order."""
    return uuid5(_ORDER_NAMESPACE, f"{channel}\x1f{marketplace_order_id}")


@dataclass
class OrderLine:
    line_id: str
    sku: str
    ean: str
    title: str
    quantity: int
    unit_price: Decimal
    canceled_quantity: int = 0
    refunded_quantity: int = 0

    @property
    def kept_quantity(self) -> int:
        """What the customer keeps paying for: ordered minus cancelled."""
        return self.quantity - self.canceled_quantity

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Refund:
    refund_id: str
    lines: dict[str, int]
    line_amounts: dict[str, Decimal]
    shipping_amount: Decimal
    amount: Decimal
    reason: str
    requested_at: datetime
    status: RefundStatus = RefundStatus.TO_REFUND
    refusal_reason: str | None = None
    updated_at: datetime | None = None


@dataclass
class Shipment:
    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime


@dataclass(frozen=True)
class LineQuantity:
    line_id: str
    quantity: int


class Order(AttributedAggregate):
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
        customer: dict[str, str],
        shipping_address: dict[str, str],
        delivery: dict[str, Any],
        shipping_price: Decimal,
        lines: list[dict[str, Any]],
    ) -> Order:
        """Check an order coming from the marketplace and create it in status CREATED."""
        _check_import(channel, marketplace_order_id, created_at, delivery, shipping_price, lines)
        return cls(
            channel=str(Channel(channel)),
            marketplace_order_id=marketplace_order_id,
            created_at=created_at,
            customer=dict(customer),
            shipping_address=dict(shipping_address),
            delivery=_normalised_delivery(delivery),
            shipping_price=money(shipping_price),
            lines=[
                {
                    "line_id": line["line_id"],
                    "sku": line["sku"],
                    "ean": line["ean"],
                    "title": line["title"],
                    "quantity": int(line["quantity"]),
                    "unit_price": money(line["unit_price"]),
                }
                for line in lines
            ],
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
        self.refunds: list[Refund] = []
        self.shipping_refunded = False
        self.shipment: Shipment | None = None
        self.accepted_at: datetime | None = None
        self.paid_at: datetime | None = None
        self.refusal_reason: str | None = None
        self.cancel_reason: str | None = None
        self.closed_at: datetime | None = None
        self.refused_lines: list[str] = []

    # ---------------------------------------------------------------- derived state

    @property
    def status(self) -> OrderStatus:
        """The guide's status: the latest refund's status once a refund exists."""
        refund = self.latest_refund
        if refund is not None and self.fulfilment_status in _REFUNDABLE_FULFILMENT:
            return OrderStatus(refund.status)
        return self.fulfilment_status

    @property
    def tab(self) -> str:
        return TAB_OF_STATUS[self.status]

    @property
    def is_terminal(self) -> bool:
        return self.fulfilment_status in TERMINAL_STATUSES

    @property
    def latest_refund(self) -> Refund | None:
        for refund in reversed(self.refunds):
            if refund.status != RefundStatus.SUPERSEDED:
                return refund
        return None

    @property
    def open_refund(self) -> Refund | None:
        refund = self.latest_refund
        if refund is not None and refund.status in _REFUND_IN_FLIGHT:
            return refund
        return None

    def line(self, line_id: str) -> OrderLine | None:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        return None

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
    def goods_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def canceled_amount(self) -> Decimal:
        return sum(
            (line.unit_price * line.canceled_quantity for line in self.lines), Decimal("0.00")
        )

    @property
    def order_total(self) -> Decimal:
        return self.goods_total + self.shipping_price

    @property
    def payable_total(self) -> Decimal:
        """What the customer pays once cancelled lines are taken out."""
        if all(line.kept_quantity == 0 for line in self.lines):
            return Decimal("0.00")
        return self.order_total - self.canceled_amount

    @property
    def refunded_amount(self) -> Decimal:
        return sum(
            (r.amount for r in self.refunds if r.status == RefundStatus.REFUNDED),
            Decimal("0.00"),
        )

    @property
    def refundable_amount(self) -> Decimal:
        """Paid and not yet refunded (refunds in flight excluded)."""
        if self.fulfilment_status not in _REFUNDABLE_FULFILMENT:
            return Decimal("0.00")
        return self.payable_total - self.refunded_amount

    # ---------------------------------------------------------------- merchant commands

    def accept(
        self, *, at: datetime, origin: str = "merchant", refused_lines: list[str] | None = None
    ) -> None:
        """Accept the order, refusing some lines if need be (an offer out of stock).

        `origin` is "marketplace" when the sync mirrors an acceptance made elsewhere. At least
        one line must be accepted: refusing them all is refusing the order.
        """
        self._require("accept", {OrderStatus.CREATED})
        refused = sorted(set(refused_lines or ()))
        for line_id in refused:
            if self.line(line_id) is None:
                raise RuleViolation("refused_lines", "unknown_line",
                                    f"the order has no line {line_id!r}")
        if refused and len(refused) == len(self.lines):
            raise RuleViolation("refused_lines", "one_line_accepted",
                                "every line is refused: refuse the order instead")
        if at > self.acceptance_deadline:
            raise DeadlinePassed(
                "accepted_at",
                "acceptance_deadline",
                f"the acceptance deadline passed at {self.acceptance_deadline.isoformat()}",
            )
        self._accepted(at=at, status=OrderStatus.ACCEPTED, origin=_origin(origin),
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
            reason=_required_text("reason", reason),
            status=OrderStatus.REFUSED,
            origin=_origin(origin),
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
        tracking_number = tracking_number.strip()
        carrier = carrier.strip()
        if not tracking_number:
            raise RuleViolation("tracking_number", "required", "tracking_number is required")
        if len(tracking_number) > MAX_TRACKING_NUMBER_LENGTH:
            raise RuleViolation(
                "tracking_number",
                "max_length",
                f"tracking_number has {len(tracking_number)} characters; "
                f"at most {MAX_TRACKING_NUMBER_LENGTH} are allowed",
            )
        if not _NO_SPACE.match(tracking_number):
            raise RuleViolation(
                "tracking_number", "no_whitespace", "tracking_number must not contain spaces"
            )
        if not carrier:
            raise RuleViolation("carrier", "required", "carrier is required")
        if tracking_url:
            url = tracking_url.strip()
            if not url.startswith(("http://", "https://")) or not _NO_SPACE.match(url):
                raise RuleViolation(
                    "tracking_url",
                    "http_url",
                    "tracking_url must start with http:// or https:// and contain no spaces",
                )
        else:
            generated = tracking_url_for(carrier, tracking_number)
            if generated is None:
                raise RuleViolation(
                    "tracking_url",
                    "required_for_unknown_carrier",
                    f"carrier {carrier!r} is not one we can build a tracking URL for; "
                    "give tracking_url",
                )
            url = generated
        self._shipped(
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=url,
            at=at,
            status=OrderStatus.SHIPPED,
            origin=_origin(origin),
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
        reason = _required_text("reason", reason)
        if not lines:
            quantities = {
                line.line_id: line.kept_quantity for line in self.lines if line.kept_quantity
            }
        else:
            quantities = self._checked_quantities(
                lines, lambda line: line.kept_quantity, "cancel"
            )
        everything = all(
            quantities.get(line.line_id, 0) == line.kept_quantity for line in self.lines
        )
        self._lines_canceled(
            lines=quantities,
            reason=reason,
            at=at,
            status=OrderStatus.OUT_OF_STOCK if everything else OrderStatus.TOSHIP,
            origin=_origin(origin),
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
            line = self.line(line_id)
            assert line is not None
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
    ) -> Refund:
        """Ask the marketplace to refund lines (or everything left) and maybe the shipping."""
        if self.fulfilment_status not in _REFUNDABLE_FULFILMENT:
            raise InvalidStatus("refund", self.status, _REFUNDABLE_STATUSES)
        reason = _required_text("reason", reason)
        open_refund = self.open_refund
        if open_refund is not None and open_refund.status not in _OPEN_REFUND_SUPERSEDABLE:
            raise InvalidStatus("refund", self.status, _REFUNDABLE_STATUSES)
        # A request the marketplace has not dealt with is replaced, so its quantities are free.
        superseded = open_refund.refund_id if open_refund is not None else None

        def refundable(line: OrderLine) -> int:
            return line.kept_quantity - line.refunded_quantity

        if lines:
            quantities = self._checked_quantities(lines, refundable, "refund")
        else:
            quantities = {
                line.line_id: refundable(line) for line in self.lines if refundable(line) > 0
            }
        shipping_amount = Decimal("0.00")
        if refund_shipping:
            if self.shipping_refunded:
                raise RuleViolation(
                    "refund_shipping", "already_refunded", "the shipping cost is already refunded"
                )
            shipping_amount = self.shipping_price
        if not quantities and shipping_amount == 0:
            raise RuleViolation("lines", "nothing_to_refund", "nothing is left to refund")
        line_amounts = {
            line_id: money(self._line(line_id).unit_price * quantity)
            for line_id, quantity in quantities.items()
        }
        amount = sum(line_amounts.values(), Decimal("0.00")) + shipping_amount
        if amount > self.refundable_amount:
            raise RuleViolation(
                "lines",
                "exceeds_refundable",
                f"refund of {amount} EUR exceeds the {self.refundable_amount} EUR "
                "paid and not yet refunded",
            )
        refund_id = f"R{len(self.refunds) + 1}"
        self._refund_requested(
            refund_id=refund_id,
            lines=quantities,
            line_amounts=line_amounts,
            shipping_amount=shipping_amount,
            amount=amount,
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
            self._refund(supersedes).status = RefundStatus.SUPERSEDED
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
            reason=_required_text("reason", reason), at=at, status=OrderStatus.CANCELED
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
            raise InvalidStatus("pay", self.status, _SHIPPED_STATUSES)
        refund = self.latest_refund
        self._paid(at=at, status=refund.status if refund is not None else OrderStatus.PAID)

    @event("Paid")
    def _paid(self, at: datetime, status: str) -> None:
        self.fulfilment_status = OrderStatus.PAID
        self.paid_at = at

    def submit_refund(self, refund_id: str, *, at: datetime) -> None:
        """The marketplace received the request and waits for its approval."""
        self._move_refund(refund_id, {RefundStatus.TO_REFUND}, "submit", at)
        self._refund_submitted(refund_id=refund_id, at=at, status=OrderStatus.TO_APPROVE)

    @event("RefundSubmitted")
    def _refund_submitted(self, refund_id: str, at: datetime, status: str) -> None:
        self._set_refund_status(refund_id, RefundStatus.TO_APPROVE, at)

    def approve_refund(self, refund_id: str, *, at: datetime) -> None:
        self._move_refund(
            refund_id, {RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE}, "approve", at
        )
        self._refund_approved(refund_id=refund_id, at=at, status=OrderStatus.REFUNDING)

    @event("RefundApproved")
    def _refund_approved(self, refund_id: str, at: datetime, status: str) -> None:
        self._set_refund_status(refund_id, RefundStatus.REFUNDING, at)

    def complete_refund(self, refund_id: str, *, at: datetime) -> None:
        self._move_refund(refund_id, {RefundStatus.REFUNDING}, "complete", at)
        self._refund_completed(
            refund_id=refund_id,
            amount=self._refund(refund_id).amount,
            at=at,
            status=OrderStatus.REFUNDED,
        )

    @event("RefundCompleted")
    def _refund_completed(self, refund_id: str, amount: Decimal, at: datetime, status: str) -> None:
        refund = self._set_refund_status(refund_id, RefundStatus.REFUNDED, at)
        for line_id, quantity in refund.lines.items():
            self._line(line_id).refunded_quantity += quantity
        if refund.shipping_amount:
            self.shipping_refunded = True

    def refuse_refund(self, refund_id: str, *, reason: str, at: datetime) -> None:
        self._move_refund(refund_id, _REFUND_IN_FLIGHT, "refuse", at)
        try:
            reason = str(RefundRefusalReason(reason))
        except ValueError:
            raise RuleViolation(
                "reason",
                "refund_refusal_reason",
                f"reason must be one of {', '.join(RefundRefusalReason)}",
            ) from None
        self._refund_refused(
            refund_id=refund_id, reason=reason, at=at, status=OrderStatus.REFUND_REFUSED
        )

    @event("RefundRefused")
    def _refund_refused(self, refund_id: str, reason: str, at: datetime, status: str) -> None:
        refund = self._set_refund_status(refund_id, RefundStatus.REFUND_REFUSED, at)
        refund.refusal_reason = reason

    # ---------------------------------------------------------------- helpers

    def _require(self, command: str, allowed: set[OrderStatus]) -> None:
        if self.status not in allowed:
            raise InvalidStatus(command, self.status, allowed)

    def _line(self, line_id: str) -> OrderLine:
        line = self.line(line_id)
        assert line is not None, line_id
        return line

    def _refund(self, refund_id: str) -> Refund:
        for refund in self.refunds:
            if refund.refund_id == refund_id:
                return refund
        raise RuleViolation("refund_id", "unknown_refund", f"no refund {refund_id!r} on this order")

    def _move_refund(
        self, refund_id: str, allowed: set[RefundStatus] | frozenset[RefundStatus], verb: str, at: datetime
    ) -> None:
        refund = self._refund(refund_id)
        if refund.status not in allowed:
            raise InvalidStatus(f"{verb} refund {refund_id} of", refund.status, allowed)

    def _set_refund_status(self, refund_id: str, status: RefundStatus, at: datetime) -> Refund:
        refund = self._refund(refund_id)
        refund.status = status
        refund.updated_at = at
        return refund

    def _checked_quantities(
        self, lines: list[LineQuantity], available: Any, verb: str
    ) -> dict[str, int]:
        quantities: dict[str, int] = {}
        for index, item in enumerate(lines):
            where = f"lines[{index}]"
            line = self.line(item.line_id)
            if line is None:
                raise RuleViolation(
                    f"{where}.line_id", "unknown_line", f"no line {item.line_id!r} on this order"
                )
            if item.line_id in quantities:
                raise RuleViolation(
                    f"{where}.line_id", "duplicate_line", f"line {item.line_id!r} is given twice"
                )
            if item.quantity < 1:
                raise RuleViolation(
                    f"{where}.quantity", "positive", "quantity must be at least 1"
                )
            left = available(line)
            if item.quantity > left:
                raise RuleViolation(
                    f"{where}.quantity",
                    f"at_most_{verb}able",
                    f"line {item.line_id!r} has {left} left to {verb}, not {item.quantity}",
                )
            quantities[item.line_id] = item.quantity
        return quantities


_REFUNDABLE_STATUSES = {
    OrderStatus.SHIPPED,
    OrderStatus.PAID,
    OrderStatus.TO_REFUND,
    OrderStatus.TO_APPROVE,
    OrderStatus.REFUNDED,
    OrderStatus.REFUND_REFUSED,
}
_SHIPPED_STATUSES = {
    OrderStatus.SHIPPED,
    OrderStatus.TO_REFUND,
    OrderStatus.TO_APPROVE,
    OrderStatus.REFUNDING,
    OrderStatus.REFUNDED,
    OrderStatus.REFUND_REFUSED,
}


ORIGINS = frozenset({"merchant", "marketplace"})


def _origin(origin: str) -> str:
    """Who made a change: the merchant (to be sent to the marketplace) or the marketplace."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {sorted(ORIGINS)}")
    return origin


def _required_text(name: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise RuleViolation(name, "required", f"{name} is required")
    return value


def _normalised_delivery(delivery: dict[str, Any]) -> dict[str, Any]:
    mode = DeliveryMode(delivery["mode"])
    if mode is DeliveryMode.HOME:
        return {"mode": str(mode), "relay_id": None, "relay_name": None, "relay_address": None}
    return {
        "mode": str(mode),
        "relay_id": delivery["relay_id"],
        "relay_name": delivery["relay_name"],
        "relay_address": delivery["relay_address"],
    }


def _check_import(
    channel: str,
    marketplace_order_id: str,
    created_at: datetime,
    delivery: dict[str, Any],
    shipping_price: Decimal,
    lines: list[dict[str, Any]],
) -> None:
    if channel not in set(Channel):
        raise RuleViolation(
            "channel", "channel", f"channel must be one of {', '.join(Channel)}"
        )
    if not marketplace_order_id or not marketplace_order_id.strip():
        raise RuleViolation("marketplace_order_id", "required", "marketplace_order_id is required")
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise RuleViolation(
            "created_at", "timezone_required", "created_at must carry a time zone offset"
        )
    mode = delivery.get("mode")
    if mode not in set(DeliveryMode):
        raise RuleViolation("delivery.mode", "delivery_mode", "mode must be home or relay")
    if mode == DeliveryMode.RELAY:
        for key in ("relay_id", "relay_name", "relay_address"):
            if not (delivery.get(key) or "").strip():
                raise RuleViolation(
                    f"delivery.{key}", "required_for_relay", f"{key} is required for a relay delivery"
                )
    _check_money("shipping_price", shipping_price)
    if not lines:
        raise RuleViolation("lines", "min_items", "an order has at least one line")
    if len(lines) > MAX_LINES:
        raise RuleViolation("lines", "max_items", f"an order has at most {MAX_LINES} lines")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        line_id = line["line_id"]
        if line_id in seen:
            raise RuleViolation(
                f"lines[{index}].line_id", "duplicate_line", f"line {line_id!r} is given twice"
            )
        seen.add(line_id)
        if int(line["quantity"]) < 1:
            raise RuleViolation(f"lines[{index}].quantity", "positive", "quantity must be at least 1")
        _check_money(f"lines[{index}].unit_price", line["unit_price"])


def _check_money(name: str, value: Decimal) -> None:
    value = Decimal(value)
    if not value.is_finite() or value < 0:
        raise RuleViolation(name, "non_negative_amount", f"{name} must be a positive amount or 0")
    if value != value.quantize(CENT):
        raise RuleViolation(name, "cents", f"{name} has more than 2 decimal places")


__all__ = [
    "ACCEPTANCE_WINDOW",
    "Channel",
    "DeliveryMode",
    "LineQuantity",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Refund",
    "RefundRefusalReason",
    "RefundStatus",
    "Shipment",
    "TAB_OF_STATUS",
    "TERMINAL_STATUSES",
    "order_id_for",
]
