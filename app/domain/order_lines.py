"""The lines of an order: what was ordered, cancelled and refunded of each, and the checks on
the quantities a cancellation or a refund names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.errors import RuleViolation
from app.domain.order_money import NO_CHARGES, Charges, default_pricing
from app.domain.order_values import LineQuantity


@dataclass
class OrderLine:
    line_id: str
    sku: str
    ean: str
    title: str
    quantity: int
    unit_price: Decimal
    # LinePricing.stored(): price, shipping, taxes, fees... as the marketplace counted them.
    pricing: dict[str, Any] | None = None
    canceled_quantity: int = 0
    refunded_quantity: int = 0
    # The amounts cancelled, and refunded by refunds the marketplace completed.
    canceled: Charges = field(default=NO_CHARGES)
    refunded: Charges = field(default=NO_CHARGES)

    def __post_init__(self) -> None:
        if self.pricing is None:
            self.pricing = default_pricing(self.unit_price, self.quantity)

    @property
    def kept_quantity(self) -> int:
        """What the customer keeps paying for: ordered minus cancelled."""
        return self.quantity - self.canceled_quantity

    @property
    def refundable_quantity(self) -> int:
        """Kept and not yet refunded."""
        return self.kept_quantity - self.refunded_quantity

    @property
    def amount(self) -> Decimal:
        """The line's price without shipping, after promotions."""
        return Decimal(self.priced["price"])

    @property
    def priced(self) -> dict[str, Any]:
        assert self.pricing is not None
        return self.pricing

    @property
    def charged(self) -> Charges:
        return Charges.of_line(self.priced)

    @property
    def left(self) -> Charges:
        """Charged, less what was cancelled and what completed refunds gave back."""
        return self.charged - self.canceled - self.refunded

    def cancel_share(self, pieces: int) -> Charges:
        """What cancelling `pieces` of the kept ones takes; the last ones take the shipping."""
        return (self.charged - self.canceled).share(
            pieces, self.kept_quantity, with_shipping=pieces >= self.kept_quantity
        )


def find_line(lines: Sequence[OrderLine], line_id: str) -> OrderLine | None:
    for line in lines:
        if line.line_id == line_id:
            return line
    return None


def checked_refused_lines(
    order_lines: Sequence[OrderLine], refused_lines: Sequence[str] | None
) -> list[str]:
    """The lines refused on acceptance, sorted: lines of the order, and not all of them."""
    refused = sorted(set(refused_lines or ()))
    for line_id in refused:
        if find_line(order_lines, line_id) is None:
            raise RuleViolation("refused_lines", "unknown_line", f"the order has no line {line_id!r}")
    if refused and len(refused) == len(order_lines):
        raise RuleViolation(
            "refused_lines", "one_line_accepted", "every line is refused: refuse the order instead"
        )
    return refused


def checked_quantities(
    order_lines: Sequence[OrderLine],
    items: Sequence[LineQuantity],
    available: Callable[[OrderLine], int],
    verb: str,
) -> dict[str, int]:
    """The quantity of each named line, each within what is `available` of it to `verb`."""
    quantities: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"lines[{index}]"
        line = find_line(order_lines, item.line_id)
        if line is None:
            raise RuleViolation(
                f"{where}.line_id", "unknown_line", f"no line {item.line_id!r} on this order"
            )
        if item.line_id in quantities:
            raise RuleViolation(
                f"{where}.line_id", "duplicate_line", f"line {item.line_id!r} is given twice"
            )
        if item.quantity < 1:
            raise RuleViolation(f"{where}.quantity", "positive", "quantity must be at least 1")
        left = available(line)
        if item.quantity > left:
            raise RuleViolation(
                f"{where}.quantity",
                f"at_most_{verb}able",
                f"line {item.line_id!r} has {left} left to {verb}, not {item.quantity}",
            )
        quantities[item.line_id] = item.quantity
    return quantities


__all__ = ["OrderLine", "checked_quantities", "checked_refused_lines", "find_line"]
