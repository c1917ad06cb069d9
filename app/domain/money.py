"""Money is Decimal euros with two decimal places; floats never enter the domain."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal | str | int) -> Decimal:
    """An amount in euros, rounded to the cent."""
    if isinstance(value, float):
        raise TypeError("amounts are never floats")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
