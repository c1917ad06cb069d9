"""Raw Mirakl orders as plain dicts: money arithmetic and the fields derived from the rest.

The sandbox keeps each order exactly as OR11 serves it, so what tests read through the control
API is byte for byte what the client sees. Derived fields (totals, commissions, can_* flags) are
recomputed after every change by refresh(), never edited by hand.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

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

TAX_INCLUDED = "TAX_INCLUDED"
TAX_EXCLUDED = "TAX_EXCLUDED"
TaxMode = Literal["TAX_INCLUDED", "TAX_EXCLUDED"]

COMMISSION_RATE = Decimal("0.15")
COMMISSION_VAT_RATE = Decimal(20)
COMMISSION_VAT_CODE = "TVA-20"
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


# A line's money, part by part: ("price", ""), ("shipping", ""), ("tax", code),
# ("shipping_tax", code) and ("fee", code). A refund or a cancelation takes amounts off the
# same parts, so what is left is a subtraction part by part.
Part = tuple[str, str]
PRICE: Part = ("price", "")
SHIPPING_PART: Part = ("shipping", "")
PART_LISTS = (("taxes", "tax"), ("shipping_taxes", "shipping_tax"), ("fees", "fee"))


def line_parts(line: RawLine) -> dict[Part, Decimal]:
    """What the line holds now (cancelations already taken off), part by part."""
    parts = {PRICE: dec(line["price"]), SHIPPING_PART: dec(line["shipping_price"])}
    for field_name, kind in PART_LISTS:
        for item in line.get(field_name) or []:
            parts[(kind, item["code"])] = dec(item["amount"])
    return parts


def entry_parts(entry: dict[str, Any]) -> dict[Part, Decimal]:
    """The parts a recorded refund or cancelation took, as line_parts() counts them."""
    parts = {PRICE: dec(entry.get("amount") or 0),
             SHIPPING_PART: dec(entry.get("shipping_amount") or 0)}
    for field_name, kind in PART_LISTS:
        for item in entry.get(field_name) or []:
            key = (kind, item["code"])
            parts[key] = parts.get(key, Decimal(0)) + dec(item["amount"])
    return parts


def refundable_parts(line: RawLine) -> dict[Part, Decimal]:
    """Each part of the line that no live refund covers yet."""
    left = line_parts(line)
    for refund in active_refunds(line):
        for key, amount in entry_parts(refund).items():
            left[key] = left.get(key, Decimal(0)) - amount
    return left


def refundable_left(line: RawLine) -> tuple[Decimal, Decimal]:
    """(price, shipping) of the line that no live refund covers yet."""
    left = refundable_parts(line)
    return left[PRICE], left[SHIPPING_PART]


def part_label(part: Part) -> str:
    kind, code = part
    return {"price": "price", "shipping": "shipping", "tax": f"tax {code}",
            "shipping_tax": f"shipping tax {code}", "fee": f"fee {code}"}[kind]


def fees_total(line: RawLine) -> Decimal:
    return sum((dec(f["amount"]) for f in line.get("fees") or []), Decimal(0))


def tax_amount(base: Decimal, rate: Decimal, tax_mode: str) -> Decimal:
    """French VAT on an amount: contained in it (TAX_INCLUDED) or on top of it (TAX_EXCLUDED)."""
    if tax_mode == TAX_INCLUDED:
        raw = base * rate / (100 + rate)
    else:
        raw = base * rate / 100
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def canceled_quantity(line: RawLine) -> int:
    return sum(int(c["quantity"]) for c in line["cancelations"])


def refunded_quantity(line: RawLine) -> int:
    return sum(int(r["quantity"]) for r in active_refunds(line))


def _line_fully_refunded(line: RawLine) -> bool:
    total = dec(line["price"]) + dec(line["shipping_price"]) + fees_total(line)
    paid_back = sum(
        (dec(r["amount"]) + dec(r["shipping_amount"])
         + sum((dec(f["amount"]) for f in r.get("fees") or []), Decimal(0))
         for r in line["refunds"] if r["refund_state"] == REFUNDED),
        Decimal(0),
    )
    return total > 0 and paid_back >= total


def _order_refunds(lines: list[RawLine]) -> list[dict[str, Any]]:
    """Refunds grouped by order_refund_id, with their taxes (price and shipping) per code."""
    groups: dict[str, dict[tuple[str, float], Decimal]] = {}
    for line in lines:
        for refund in line["refunds"]:
            taxes = groups.setdefault(refund["order_refund_id"], {})
            for tax in (refund.get("taxes") or []) + (refund.get("shipping_taxes") or []):
                key = (tax["code"], tax.get("rate"))
                taxes[key] = taxes.get(key, Decimal(0)) + dec(tax["amount"])
    return [
        {"order_refund_id": rid, "taxes": [
            {"code": code, **({"rate": rate} if rate is not None else {}),
             "total_amount": money(amount)}
            for (code, rate), amount in sorted(taxes.items(), key=lambda kv: kv[0][0])]}
        for rid, taxes in sorted(groups.items())
    ]


def refresh(order: RawOrder) -> None:
    """Recompute every derived field of the order and its lines from the stored facts.

    The facts are each line's price, shipping price, taxes, shipping taxes and fees (all
    lowered by cancelations); total_price is price + shipping price + fees, in the order's
    tax mode, as the spec words it, and the commission is taken on the price.
    """
    state = order["order_state"]
    lines = order["order_lines"]
    for line in lines:
        price, shipping = dec(line["price"]), dec(line["shipping_price"])
        fee = (price * COMMISSION_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        vat = (fee * COMMISSION_VAT_RATE / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        line["commission_fee"] = money(fee)
        line["commission_vat"] = money(vat)
        line["commission_rate_vat"] = float(COMMISSION_VAT_RATE)
        line["commission_taxes"] = [{"code": COMMISSION_VAT_CODE, "amount": money(vat),
                                     "rate": float(COMMISSION_VAT_RATE)}]
        line["total_commission"] = money(fee + vat)
        line["total_price"] = money(price + shipping + fees_total(line))
        # Something of the price, the shipping or a fee is left to pay back.
        left = refundable_parts(line)
        line["can_refund"] = line["order_line_state"] in REFUNDABLE_LINE_STATES and any(
            amount > 0 for (kind, _), amount in left.items() if kind in ("price", "shipping", "fee")
        )
    order["price"] = money(sum((dec(ln["price"]) for ln in lines), Decimal(0)))
    order["shipping_price"] = money(sum((dec(ln["shipping_price"]) for ln in lines), Decimal(0)))
    order["total_price"] = money(sum((dec(ln["total_price"]) for ln in lines), Decimal(0)))
    order["total_commission"] = money(
        sum((dec(ln["total_commission"]) for ln in lines), Decimal(0))
    )
    order["can_cancel"] = state == SHIPPING
    order["can_shop_ship"] = state == SHIPPING
    charged = [ln for ln in lines
               if dec(ln["price"]) + dec(ln["shipping_price"]) + fees_total(ln) > 0]
    order["fully_refunded"] = bool(charged) and all(_line_fully_refunded(ln) for ln in charged)
    if any(ln["refunds"] for ln in lines):
        order["order_refunds"] = _order_refunds(lines)
