"""An order's money as Mirakl counts it (OR11): per line, its price, its shipping, the taxes on
each, its fees; per order, the currency and the tax mode.

Mirakl keeps everything per line: a line's `price` (its quantity at its unit price, after
promotions), its `shipping_price`, the `taxes` on the price and the `shipping_taxes` on the
shipping (each a code and an amount), and its `fees` (each a code and an amount). With tax mode
TAX_INCLUDED the price and the shipping contain their taxes; with TAX_EXCLUDED the taxes come on
top. The customer pays price + shipping + fees, plus the taxes when they are excluded.

A cancellation or a refund takes a share of a line's `Charges`: for k of the n pieces still
left, the price left times k / n to the cent, the taxes on the price in proportion to that part
of the price (Mirakl's PROPORTIONAL_TO_AMOUNT rule), and everything left for the last pieces, so
that the shares of a line always add up to what it was charged. A line cancelled to its last
piece takes its shipping with it; a refund takes the shipping when asked to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from app.domain.money import money

ZERO = Decimal("0.00")


class TaxMode(StrEnum):
    TAX_INCLUDED = "TAX_INCLUDED"
    TAX_EXCLUDED = "TAX_EXCLUDED"


DEFAULT_CURRENCY = "EUR"


@dataclass(frozen=True, kw_only=True)
class Tax:
    """One tax on a line's price or shipping: its code, its amount and its rate when given."""

    code: str
    amount: Decimal
    rate: Decimal | None = None
    # PROPORTIONAL_TO_AMOUNT (the marketplace works out a refund's or a cancellation's part)
    # or NONE (the seller must send it); either way we send the part, worked out alike.
    calculation_rule: str | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "amount": money(self.amount),
            "rate": None if self.rate is None else Decimal(self.rate),
            "calculation_rule": self.calculation_rule,
        }


@dataclass(frozen=True, kw_only=True)
class Fee:
    """A fee charged with a line (the eco-furniture fee added in the basket, a card fee)."""

    code: str
    amount: Decimal

    def stored(self) -> dict[str, Any]:
        return {"code": self.code, "amount": money(self.amount)}


@dataclass(frozen=True, kw_only=True)
class Promotion:
    """A promotion applied to a line: what it took off the line's price."""

    id: str | None
    deduced_amount: Decimal
    promo_code: str | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deduced_amount": money(self.deduced_amount),
            "promo_code": self.promo_code,
        }


@dataclass(frozen=True, kw_only=True)
class EcoContribution:
    """An eco-contribution contained in a line's price (producer and amount per unit)."""

    epr_category_code: str | None
    producer_id: str | None
    unit_amount: Decimal | None = None
    total_amount: Decimal | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "epr_category_code": self.epr_category_code,
            "producer_id": self.producer_id,
            "unit_amount": None if self.unit_amount is None else money(self.unit_amount),
            "total_amount": None if self.total_amount is None else money(self.total_amount),
        }


@dataclass(frozen=True, kw_only=True)
class LinePricing:
    """What the marketplace says a line costs, beyond its quantity and unit price."""

    price: Decimal
    shipping_price: Decimal = ZERO
    origin_unit_price: Decimal | None = None
    taxes: tuple[Tax, ...] = ()
    shipping_taxes: tuple[Tax, ...] = ()
    fees: tuple[Fee, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    eco_contributions: tuple[EcoContribution, ...] = ()
    commission: Decimal | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "price": money(self.price),
            "shipping_price": money(self.shipping_price),
            "origin_unit_price": None if self.origin_unit_price is None
            else money(self.origin_unit_price),
            "taxes": [tax.stored() for tax in self.taxes],
            "shipping_taxes": [tax.stored() for tax in self.shipping_taxes],
            "fees": [fee.stored() for fee in self.fees],
            "promotions": [promotion.stored() for promotion in self.promotions],
            "eco_contributions": [eco.stored() for eco in self.eco_contributions],
            "commission": None if self.commission is None else money(self.commission),
        }


@dataclass(frozen=True, kw_only=True)
class OrderPricing:
    """What the marketplace says of the whole order's money."""

    currency: str = DEFAULT_CURRENCY
    tax_mode: TaxMode = TaxMode.TAX_INCLUDED
    total_commission: Decimal | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "tax_mode": str(TaxMode(self.tax_mode)),
            "total_commission": None if self.total_commission is None
            else money(self.total_commission),
        }


def _by_code(items: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for item in items:
        code = str(item["code"])
        totals[code] = totals.get(code, ZERO) + Decimal(item["amount"])
    return totals


def _minus(left: Mapping[str, Decimal], right: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {code: money(amount - right.get(code, ZERO)) for code, amount in left.items()}


def _plus(left: Mapping[str, Decimal], right: Mapping[str, Decimal]) -> dict[str, Decimal]:
    summed = dict(left)
    for code, amount in right.items():
        summed[code] = money(summed.get(code, ZERO) + amount)
    return summed


def _share(amount: Decimal, pieces: int, left: int) -> Decimal:
    return money(amount) if pieces >= left else money(amount * pieces / left)


@dataclass(frozen=True)
class Charges:
    """Amounts of a line, or of a part of it: the price part, the shipping part, each tax of
    either by code and each fee by code."""

    price: Decimal = ZERO
    shipping: Decimal = ZERO
    taxes: Mapping[str, Decimal] = field(default_factory=dict)
    shipping_taxes: Mapping[str, Decimal] = field(default_factory=dict)
    fees: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def of_line(cls, pricing: Mapping[str, Any]) -> Charges:
        """What a line was charged, from its stored pricing."""
        return cls(
            price=money(pricing["price"]),
            shipping=money(pricing["shipping_price"]),
            taxes=_by_code(pricing["taxes"]),
            shipping_taxes=_by_code(pricing["shipping_taxes"]),
            fees=_by_code(pricing["fees"]),
        )

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Charges:
        return cls(
            price=money(stored["price"]),
            shipping=money(stored["shipping"]),
            taxes={k: money(v) for k, v in stored["taxes"].items()},
            shipping_taxes={k: money(v) for k, v in stored["shipping_taxes"].items()},
            fees={k: money(v) for k, v in stored["fees"].items()},
        )

    def stored(self) -> dict[str, Any]:
        return {
            "price": money(self.price),
            "shipping": money(self.shipping),
            "taxes": {k: money(v) for k, v in self.taxes.items()},
            "shipping_taxes": {k: money(v) for k, v in self.shipping_taxes.items()},
            "fees": {k: money(v) for k, v in self.fees.items()},
        }

    def __add__(self, other: Charges) -> Charges:
        return Charges(
            money(self.price + other.price),
            money(self.shipping + other.shipping),
            _plus(self.taxes, other.taxes),
            _plus(self.shipping_taxes, other.shipping_taxes),
            _plus(self.fees, other.fees),
        )

    def __sub__(self, other: Charges) -> Charges:
        return Charges(
            money(self.price - other.price),
            money(self.shipping - other.shipping),
            _minus(self.taxes, other.taxes),
            _minus(self.shipping_taxes, other.shipping_taxes),
            _minus(self.fees, other.fees),
        )

    def share(self, pieces: int, left: int, *, with_shipping: bool) -> Charges:
        """The part of these amounts (what is left of a line) that `pieces` of its `left`
        pieces take; the shipping and its taxes only `with_shipping`, and then all of them.

        The taxes on the price follow the price part, as the marketplace's
        PROPORTIONAL_TO_AMOUNT rule works them out; the last pieces take what is left.
        """
        if not left or not pieces:
            # Every code stays, at 0: the marketplace wants the taxes of a line that has some.
            price = ZERO
            taxes = dict.fromkeys(self.taxes, ZERO)
            fees = dict.fromkeys(self.fees, ZERO)
        elif pieces >= left:
            price = money(self.price)
            taxes = {k: money(v) for k, v in self.taxes.items()}
            fees = {k: money(v) for k, v in self.fees.items()}
        else:
            price = _share(self.price, pieces, left)
            taxes = {
                k: money(v * price / self.price) if self.price else _share(v, pieces, left)
                for k, v in self.taxes.items()
            }
            fees = {k: _share(v, pieces, left) for k, v in self.fees.items()}
        return Charges(
            price=price,
            shipping=money(self.shipping) if with_shipping else ZERO,
            taxes=taxes,
            shipping_taxes={k: money(v) for k, v in self.shipping_taxes.items()}
            if with_shipping else dict.fromkeys(self.shipping_taxes, ZERO),
            fees=fees,
        )

    def tax_total(self) -> Decimal:
        return money(sum(self.taxes.values(), ZERO) + sum(self.shipping_taxes.values(), ZERO))

    def total(self, tax_mode: str) -> Decimal:
        """What the customer pays for these amounts."""
        total = self.price + self.shipping + sum(self.fees.values(), ZERO)
        if tax_mode == TaxMode.TAX_EXCLUDED:
            total += self.tax_total()
        return money(total)

    @property
    def empty(self) -> bool:
        return self.total(TaxMode.TAX_EXCLUDED) == 0


NO_CHARGES = Charges()


def default_pricing(unit_price: Decimal, quantity: int, shipping_price: Decimal = ZERO) -> dict:
    """The stored pricing of a line known only by its unit price (orders recorded before the
    marketplace's money was kept, and orders entered by hand)."""
    return LinePricing(
        price=money(Decimal(unit_price) * quantity), shipping_price=shipping_price
    ).stored()


__all__ = [
    "DEFAULT_CURRENCY",
    "NO_CHARGES",
    "ZERO",
    "Charges",
    "EcoContribution",
    "Fee",
    "LinePricing",
    "OrderPricing",
    "Promotion",
    "Tax",
    "TaxMode",
    "default_pricing",
]
