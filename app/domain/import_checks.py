"""The rules an order from the marketplace must follow to be imported.

Each broken rule raises RuleViolation naming the request field (`lines[1].quantity`) and the
rule, the first one found in the order the fields come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from app.domain.errors import RuleViolation
from app.domain.money import CENT
from app.domain.order_money import LinePricing, OrderPricing, TaxMode
from app.domain.order_values import (
    Address,
    Channel,
    Customer,
    CustomerDetails,
    Delivery,
    MarketplaceFlags,
    NewLine,
)

MAX_LINES = 200


def check_import(
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
) -> None:
    """The customer and the address may be None: the marketplace shows them after acceptance."""
    if customer is not None:
        _expect("customer", customer, Customer)
    if shipping_address is not None:
        _expect("shipping_address", shipping_address, Address)
    if details is not None:
        _expect("details", details, CustomerDetails)
    if flags is not None:
        _expect("flags", flags, MarketplaceFlags)
    if pricing is not None:
        _expect("pricing", pricing, OrderPricing)
        check_order_pricing(pricing)
    _expect("delivery", delivery, Delivery)
    for index, line in enumerate(lines):
        _expect(f"lines[{index}]", line, NewLine)
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
    check_money("shipping_price", shipping_price)
    if not lines:
        raise RuleViolation("lines", "min_items", "an order has at least one line")
    if len(lines) > MAX_LINES:
        raise RuleViolation("lines", "max_items", f"an order has at most {MAX_LINES} lines")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.line_id in seen:
            raise RuleViolation(
                f"lines[{index}].line_id", "duplicate_line", f"line {line.line_id!r} is given twice"
            )
        seen.add(line.line_id)
        if int(line.quantity) < 1:
            raise RuleViolation(f"lines[{index}].quantity", "positive", "quantity must be at least 1")
        check_money(f"lines[{index}].unit_price", line.unit_price)
        if line.pricing is not None:
            _expect(f"lines[{index}].pricing", line.pricing, LinePricing)
            check_line_pricing(f"lines[{index}]", line.pricing)


def check_order_pricing(pricing: OrderPricing) -> None:
    if not (len(pricing.currency) == 3 and pricing.currency.isalpha()
            and pricing.currency.isupper()):
        raise RuleViolation(
            "currency", "iso_4217", "currency must be an ISO 4217 code such as EUR"
        )
    if pricing.tax_mode not in set(TaxMode):
        raise RuleViolation(
            "tax_mode", "tax_mode", f"tax_mode must be one of {', '.join(TaxMode)}"
        )


def check_line_pricing(where: str, pricing: LinePricing) -> None:
    """Every amount in cents and not negative, every tax and fee with a code."""
    check_money(f"{where}.price", pricing.price)
    check_money(f"{where}.shipping_price", pricing.shipping_price)
    if pricing.origin_unit_price is not None:
        check_money(f"{where}.origin_unit_price", pricing.origin_unit_price)
    for kind in ("taxes", "shipping_taxes", "fees"):
        for index, item in enumerate(getattr(pricing, kind)):
            if not str(item.code).strip():
                raise RuleViolation(
                    f"{where}.{kind}[{index}].code", "required", "a code is required"
                )
            check_money(f"{where}.{kind}[{index}].amount", item.amount)


def check_money(name: str, value: Decimal) -> None:
    """An amount in euros: finite, not negative, in whole cents."""
    value = Decimal(value)
    if not value.is_finite() or value < 0:
        raise RuleViolation(name, "non_negative_amount", f"{name} must be a positive amount or 0")
    if value != value.quantize(CENT):
        raise RuleViolation(name, "cents", f"{name} has more than 2 decimal places")


def _expect(name: str, value: object, kind: type) -> None:
    # A dictionary in place of a value would fail later, far from its cause.
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")


__all__ = [
    "MAX_LINES",
    "check_import",
    "check_line_pricing",
    "check_money",
    "check_order_pricing",
]
