"""Refunds of an order and their own small state machine (seller guide, section 5).

    TO_REFUND --submit--> TO_APPROVE --approve--> REFUNDING --complete--> REFUNDED
    TO_REFUND --approve--> REFUNDING
    TO_REFUND, TO_APPROVE, REFUNDING --refuse, with a reason--> REFUND_REFUSED
    TO_REFUND, TO_APPROVE --replaced by a new request of the merchant--> SUPERSEDED

The marketplace takes the steps; the merchant only asks for refunds. An order shows its
latest refund's status once it has one; a superseded refund is never the latest. The Order
aggregate records the events; this module holds the refund records and the rules of each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from app.domain.errors import InvalidStatus, RuleViolation
from app.domain.money import money
from app.domain.order_lines import OrderLine, checked_quantities
from app.domain.order_money import ZERO, Charges
from app.domain.order_values import LineQuantity


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


# Refunds the marketplace does not have yet: a new request replaces them. One it has (from
# TO_APPROVE on) cannot be withdrawn on Mirakl: it is followed to its end.
SUPERSEDABLE = frozenset({RefundStatus.TO_REFUND})
# Refunds still on their way: the order has an open refund.
IN_FLIGHT = frozenset({RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE, RefundStatus.REFUNDING})

# Each marketplace step: the statuses a refund may take it from, and the status it leads to.
STEPS: dict[str, tuple[frozenset[RefundStatus], RefundStatus]] = {
    "submit": (frozenset({RefundStatus.TO_REFUND}), RefundStatus.TO_APPROVE),
    "approve": (
        frozenset({RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE}),
        RefundStatus.REFUNDING,
    ),
    "complete": (frozenset({RefundStatus.REFUNDING}), RefundStatus.REFUNDED),
    "refuse": (IN_FLIGHT, RefundStatus.REFUND_REFUSED),
}


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
    # Each line's part: price, shipping, taxes and fees (see order_money.Charges).
    charges: dict[str, Charges] = field(default_factory=dict)

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    @property
    def supersedable(self) -> bool:
        return self.status in SUPERSEDABLE

    def check_step(self, step: str) -> None:
        """Raise InvalidStatus unless this refund's status allows the marketplace `step`."""
        allowed, _ = STEPS[step]
        if self.status not in allowed:
            raise InvalidStatus(f"{step} refund {self.refund_id} of", self.status, allowed)

    def apply_step(self, step: str, at: datetime) -> None:
        """Move along `step`, unchecked: events replay what was checked when they happened."""
        _, self.status = STEPS[step]
        self.updated_at = at

    def supersede(self) -> None:
        self.status = RefundStatus.SUPERSEDED


def latest_refund(refunds: Sequence[Refund]) -> Refund | None:
    """The last refund not replaced by a newer request."""
    for refund in reversed(refunds):
        if refund.status != RefundStatus.SUPERSEDED:
            return refund
    return None


def find_refund(refunds: Sequence[Refund], refund_id: str) -> Refund:
    for refund in refunds:
        if refund.refund_id == refund_id:
            return refund
    raise RuleViolation("refund_id", "unknown_refund", f"no refund {refund_id!r} on this order")


def next_refund_id(refunds: Sequence[Refund]) -> str:
    return f"R{len(refunds) + 1}"


def refunded_total(refunds: Sequence[Refund]) -> Decimal:
    """What the marketplace has paid back so far."""
    return sum(
        (r.amount for r in refunds if r.status == RefundStatus.REFUNDED), Decimal("0.00")
    )


@dataclass(frozen=True)
class RefundPlan:
    """What a new refund gives back: pieces of lines, the amounts of each line (price part,
    shipping part, taxes, fees), and the total."""

    lines: dict[str, int]
    charges: dict[str, Charges]
    line_amounts: dict[str, Decimal]
    shipping_amount: Decimal
    amount: Decimal


def plan_refund(
    order_lines: Sequence[OrderLine],
    items: Sequence[LineQuantity] | None,
    *,
    refund_shipping: bool,
    tax_mode: str,
    refundable_amount: Decimal,
) -> RefundPlan:
    """The refund of `items` (everything left when none) and maybe the shipping.

    Only what is kept and not refunded yet can be refunded, never more than what was paid and
    not refunded (`refundable_amount`). Each line gives its share of what it has left (see
    order_money.py); `refund_shipping` gives back every line's shipping left, with its taxes.
    """
    if items:
        quantities = checked_quantities(
            order_lines, items, lambda line: line.refundable_quantity, "refund"
        )
    else:
        quantities = {
            line.line_id: line.refundable_quantity
            for line in order_lines
            if line.refundable_quantity > 0
        }
    shipping_left = sum((line.left.shipping for line in order_lines), ZERO)
    if refund_shipping and shipping_left <= 0:
        if any(line.charged.shipping > 0 for line in order_lines):
            raise RuleViolation(
                "refund_shipping", "already_refunded", "the shipping cost is already refunded"
            )
        refund_shipping = False
    charges: dict[str, Charges] = {}
    for line in order_lines:
        pieces = quantities.get(line.line_id, 0)
        with_shipping = refund_shipping and line.left.shipping > 0
        if pieces or with_shipping:
            charges[line.line_id] = line.left.share(
                pieces, line.refundable_quantity, with_shipping=with_shipping
            )
    if not charges:
        raise RuleViolation("lines", "nothing_to_refund", "nothing is left to refund")
    line_amounts = {line_id: charges[line_id].price for line_id in quantities}
    shipping_amount = money(sum((part.shipping for part in charges.values()), ZERO))
    amount = money(sum((part.total(tax_mode) for part in charges.values()), ZERO))
    if amount > refundable_amount:
        raise RuleViolation(
            "lines",
            "exceeds_refundable",
            f"refund of {amount} exceeds the {refundable_amount} "
            "paid and not yet refunded",
        )
    return RefundPlan(quantities, charges, line_amounts, shipping_amount, amount)


def refusal_reason(reason: str) -> str:
    """One of the marketplace's refusal reasons, or RuleViolation."""
    try:
        return str(RefundRefusalReason(reason))
    except ValueError:
        raise RuleViolation(
            "reason",
            "refund_refusal_reason",
            f"reason must be one of {', '.join(RefundRefusalReason)}",
        ) from None


__all__ = [
    "IN_FLIGHT",
    "STEPS",
    "SUPERSEDABLE",
    "Refund",
    "RefundPlan",
    "RefundRefusalReason",
    "RefundStatus",
    "find_refund",
    "latest_refund",
    "next_refund_id",
    "plan_refund",
    "refunded_total",
    "refusal_reason",
]
