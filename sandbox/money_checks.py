"""What OR28 (refunds) and OR30 (cancelations) ask of a line's money, and Mirakl's rules on it.

A request gives the price part (amount), the shipping part (shipping_amount) and, per code, the
taxes on the price, the taxes on the shipping and the fees. The spec makes `taxes` required when
the order line has taxes and `shipping_taxes` when it has shipping taxes; a code the line does
not have is refused, and no part may go beyond what is left of it on the line. An
order_tax_mode given in the request must be the order's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.errors import MiraklError
from sandbox.orders import (
    PART_LISTS,
    PRICE,
    SHIPPING_PART,
    Part,
    RawLine,
    RawOrder,
    dec,
    money,
    part_label,
)

CodedAmounts = tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class LineMoney:
    """The money one refund or cancelation takes off a line, as the request gives it.

    None for a list means the request did not send it; an empty tuple, that it sent none.
    """

    amount: Decimal
    shipping_amount: Decimal
    taxes: CodedAmounts | None = None
    shipping_taxes: CodedAmounts | None = None
    fees: CodedAmounts | None = None

    def lists(self) -> tuple[CodedAmounts | None, CodedAmounts | None, CodedAmounts | None]:
        return self.taxes, self.shipping_taxes, self.fees

    def parts(self) -> dict[Part, Decimal]:
        parts = {PRICE: self.amount, SHIPPING_PART: self.shipping_amount}
        for (_, kind), given in zip(PART_LISTS, self.lists(), strict=True):
            for code, amount in given or ():
                parts[(kind, code)] = parts.get((kind, code), Decimal(0)) + amount
        return parts

    def total(self) -> Decimal:
        return sum(self.parts().values(), Decimal(0))


def check_tax_mode(order: RawOrder, requested: str | None) -> None:
    """A request's order_tax_mode, when given, is the order's."""
    if requested is not None and requested != order["order_tax_mode"]:
        raise MiraklError(
            400, f"Order {order['order_id']} is in tax mode {order['order_tax_mode']}: "
            f"order_tax_mode {requested} does not apply to it", "ORDER_TAX_MODE_INVALID")


# The lists the spec makes required when the line has such taxes: error code, what they are.
_REQUIRED = {"taxes": ("TAXES_REQUIRED", "taxes"),
             "shipping_taxes": ("SHIPPING_TAXES_REQUIRED", "shipping taxes")}


def check_codes(line: RawLine, given: LineMoney) -> None:
    """taxes and shipping_taxes sent when the line has them; only codes the line has."""
    line_id = line["order_line_id"]
    for (field_name, kind), sent in zip(PART_LISTS, given.lists(), strict=True):
        held = [item["code"] for item in line.get(field_name) or []]
        if field_name in _REQUIRED and held and not sent:
            code, what = _REQUIRED[field_name]
            raise MiraklError(400, f"{field_name} is required: order line {line_id} has "
                              f"{what} ({', '.join(held)})", code)
        for code, _ in sent or ():
            if code not in held:
                raise MiraklError(
                    400, f"Order line {line_id} has no {part_label((kind, code))}",
                    "FEE_CODE_INVALID" if kind == "fee" else "TAX_CODE_INVALID")


def check_within(line: RawLine, asked: dict[Part, Decimal], left: dict[Part, Decimal],
                 what: str, code: str) -> None:
    """Each part asked (summed over the call) within what is left of it on the line."""
    for part, amount in asked.items():
        available = left.get(part, Decimal(0))
        if amount > available:
            raise MiraklError(
                400, f"{what} above what is left on order line {line['order_line_id']}: "
                f"{money(max(available, Decimal(0)))} EUR of {part_label(part)}", code)


def add_parts(total: dict[Part, Decimal], more: dict[Part, Decimal]) -> dict[Part, Decimal]:
    summed = dict(total)
    for part, amount in more.items():
        summed[part] = summed.get(part, Decimal(0)) + amount
    return summed


def recorded_lists(line: RawLine, given: LineMoney) -> dict[str, list[dict[str, Any]]]:
    """taxes, shipping_taxes and fees as a refund or cancelation records them: one entry per
    code (amounts of a code sent twice added up), taxes with the line's rate."""
    recorded: dict[str, list[dict[str, Any]]] = {}
    for (field_name, _), sent in zip(PART_LISTS, given.lists(), strict=True):
        rates = {item["code"]: item.get("rate") for item in line.get(field_name) or []}
        summed: dict[str, Decimal] = {}
        for code, amount in sent or ():
            summed[code] = summed.get(code, Decimal(0)) + amount
        items = []
        for code, amount in summed.items():
            item: dict[str, Any] = {"code": code, "amount": money(amount)}
            if field_name != "fees" and rates.get(code) is not None:
                item["rate"] = rates[code]
            items.append(item)
        recorded[field_name] = items
    return recorded


def take_off(line: RawLine, given: LineMoney) -> None:
    """Lower the line's price, shipping price, taxes and fees by a cancelation's amounts."""
    line["price"] = money(dec(line["price"]) - given.amount)
    line["shipping_price"] = money(dec(line["shipping_price"]) - given.shipping_amount)
    for (field_name, _), sent in zip(PART_LISTS, given.lists(), strict=True):
        for code, amount in sent or ():
            for item in line.get(field_name) or []:
                if item["code"] == code:
                    item["amount"] = money(dec(item["amount"]) - amount)


def whole_line(line: RawLine) -> LineMoney:
    """Everything the line still holds, for a cancelation of all of it (OR29)."""

    def coded(field_name: str) -> CodedAmounts:
        return tuple((item["code"], dec(item["amount"])) for item in line.get(field_name) or [])

    return LineMoney(dec(line["price"]), dec(line["shipping_price"]), coded("taxes"),
                     coded("shipping_taxes"), coded("fees"))


def coded_amounts(items: Iterable[Any] | None) -> CodedAmounts | None:
    """Request items with .code and .amount as CodedAmounts (None stays None)."""
    if items is None:
        return None
    return tuple((item.code, item.amount) for item in items)
