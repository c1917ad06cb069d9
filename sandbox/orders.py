"""Raw Mirakl orders as plain dicts: money arithmetic and the fields derived from the rest.

The sandbox keeps each order exactly as OR11 serves it, so what tests read through the control
API is byte for byte what the client sees. Derived fields (totals, commissions, can_* flags) are
recomputed after every change by refresh(), never edited by hand.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

RawOrder = dict[str, Any]
RawLine = dict[str, Any]

WAITING_ACCEPTANCE = "WAITING_ACCEPTANCE"
WAITING_DEBIT_PAYMENT = "WAITING_DEBIT_PAYMENT"
SHIPPING = "SHIPPING"
SHIPPED = "SHIPPED"
RECEIVED = "RECEIVED"
CLOSED = "CLOSED"
REFUSED = "REFUSED"
CANCELED = "CANCELED"

FINAL_STATES = frozenset({CLOSED, REFUSED, CANCELED})
REFUNDABLE_LINE_STATES = frozenset({SHIPPED, RECEIVED, CLOSED})

WAITING_REFUND = "WAITING_REFUND"
WAITING_REFUND_PAYMENT = "WAITING_REFUND_PAYMENT"
REFUNDED = "REFUNDED"
REFUND_REFUSED = "REFUSED"
PENDING_REFUND_STATES = frozenset({WAITING_REFUND, WAITING_REFUND_PAYMENT})

COMMISSION_RATE = Decimal("0.15")
COMMISSION_VAT_RATE = Decimal("20")
CENT = Decimal("0.01")


def dec(value: Any) -> Decimal:
    """A stored money value as Decimal; through str so 29.99 stays 29.99."""
    return Decimal(str(value))


def money(value: Decimal) -> float:
    """Round to cents for JSON: Decimal first, so 3 * 29.99 is 89.97 and not 89.97000000000001."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def active_refunds(line: RawLine) -> list[dict[str, Any]]:
    """Refunds still counting against the line: every one the marketplace has not refused."""
    return [r for r in line["refunds"] if r["refund_state"] != REFUND_REFUSED]


def refundable_left(line: RawLine) -> tuple[Decimal, Decimal]:
    """(price, shipping) of the line that no live refund covers yet."""
    refunds = active_refunds(line)
    price_left = dec(line["price"]) - sum((dec(r["amount"]) for r in refunds), Decimal(0))
    shipping_left = dec(line["shipping_price"]) - sum(
        (dec(r["shipping_amount"]) for r in refunds), Decimal(0)
    )
    return price_left, shipping_left


def canceled_quantity(line: RawLine) -> int:
    return sum(int(c["quantity"]) for c in line["cancelations"])


def refunded_quantity(line: RawLine) -> int:
    return sum(int(r["quantity"]) for r in active_refunds(line))


def _line_fully_refunded(line: RawLine) -> bool:
    total = dec(line["price"]) + dec(line["shipping_price"])
    paid_back = sum(
        (dec(r["amount"]) + dec(r["shipping_amount"]) for r in line["refunds"]
         if r["refund_state"] == REFUNDED),
        Decimal(0),
    )
    return total > 0 and paid_back >= total


def refresh(order: RawOrder) -> None:
    """Recompute every derived field of the order and its lines from the stored facts."""
    state = order["order_state"]
    lines = order["order_lines"]
    for line in lines:
        price, shipping = dec(line["price"]), dec(line["shipping_price"])
        fee = price * COMMISSION_RATE
        vat = fee * COMMISSION_VAT_RATE / 100
        line["commission_fee"] = money(fee)
        line["commission_vat"] = money(vat)
        line["commission_rate_vat"] = float(COMMISSION_VAT_RATE)
        line["total_commission"] = money(dec(line["commission_fee"]) + dec(line["commission_vat"]))
        line["total_price"] = money(price + shipping)
        price_left, shipping_left = refundable_left(line)
        line["can_refund"] = (
            line["order_line_state"] in REFUNDABLE_LINE_STATES and price_left + shipping_left > 0
        )
    order["price"] = money(sum((dec(ln["price"]) for ln in lines), Decimal(0)))
    order["shipping_price"] = money(sum((dec(ln["shipping_price"]) for ln in lines), Decimal(0)))
    order["total_price"] = money(dec(order["price"]) + dec(order["shipping_price"]))
    order["total_commission"] = money(
        sum((dec(ln["total_commission"]) for ln in lines), Decimal(0))
    )
    order["can_cancel"] = state == SHIPPING
    order["can_shop_ship"] = state == SHIPPING
    charged = [ln for ln in lines if dec(ln["price"]) + dec(ln["shipping_price"]) > 0]
    order["fully_refunded"] = bool(charged) and all(_line_fully_refunded(ln) for ln in charged)
    refund_ids = sorted({r["order_refund_id"] for ln in lines for r in ln["refunds"]})
    if refund_ids:
        order["order_refunds"] = [{"order_refund_id": rid, "taxes": []} for rid in refund_ids]
