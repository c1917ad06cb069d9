"""What an order is imported with, and the quantities its commands name.

Frozen, keyword-only value objects: a misspelt field is a TypeError where the value is built,
not a KeyError in a reader of the log much later. A value checks what it can check alone (a
relay delivery names its relay); the rules that need the whole order (a known channel, unique
line ids, amounts in cents) are checked on import, where the field paths are known.

Each value knows its stored form: the dictionary the Imported event records, whose keys the
projections and the history API read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from app.domain.errors import RuleViolation
from app.domain.money import money


class Channel(StrEnum):
    LAREDOUTE = "laredoute"
    LABRANDBOUTIQUE = "labrandboutique"


class DeliveryMode(StrEnum):
    HOME = "home"
    RELAY = "relay"


_RELAY_FIELDS = ("relay_id", "relay_name", "relay_address")


@dataclass(frozen=True, kw_only=True)
class Customer:
    firstname: str
    lastname: str
    email: str

    def stored(self) -> dict[str, str]:
        return {"firstname": self.firstname, "lastname": self.lastname, "email": self.email}


@dataclass(frozen=True, kw_only=True)
class Address:
    street: str
    zip_code: str
    city: str
    country: str

    def stored(self) -> dict[str, str]:
        return {
            "street": self.street,
            "zip_code": self.zip_code,
            "city": self.city,
            "country": self.country,
        }


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """To the shipping address (home) or to a relay point, which must then be named."""

    mode: DeliveryMode
    relay_id: str | None = None
    relay_name: str | None = None
    relay_address: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in set(DeliveryMode):
            raise RuleViolation("delivery.mode", "delivery_mode", "mode must be home or relay")
        object.__setattr__(self, "mode", DeliveryMode(self.mode))
        if self.mode is DeliveryMode.RELAY:
            for key in _RELAY_FIELDS:
                if not (getattr(self, key) or "").strip():
                    raise RuleViolation(
                        f"delivery.{key}",
                        "required_for_relay",
                        f"{key} is required for a relay delivery",
                    )

    @classmethod
    def home(cls) -> Delivery:
        return cls(mode=DeliveryMode.HOME)

    @classmethod
    def relay(cls, *, relay_id: str, relay_name: str, relay_address: str) -> Delivery:
        return cls(
            mode=DeliveryMode.RELAY,
            relay_id=relay_id,
            relay_name=relay_name,
            relay_address=relay_address,
        )

    def stored(self) -> dict[str, Any]:
        """Every key always present; a home delivery goes to no relay, whatever it was given."""
        if self.mode is DeliveryMode.HOME:
            return {"mode": str(self.mode), **dict.fromkeys(_RELAY_FIELDS)}
        return {"mode": str(self.mode), **{key: getattr(self, key) for key in _RELAY_FIELDS}}


@dataclass(frozen=True, kw_only=True)
class NewLine:
    """A line of an order being imported; its quantity and price are checked on import."""

    line_id: str
    sku: str
    ean: str
    title: str
    quantity: int
    unit_price: Decimal

    def stored(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "sku": self.sku,
            "ean": self.ean,
            "title": self.title,
            "quantity": int(self.quantity),
            "unit_price": money(self.unit_price),
        }


ORIGINS = frozenset({"merchant", "marketplace"})


def checked_origin(origin: str) -> str:
    """Who made a change: the merchant (to be sent to the marketplace) or the marketplace."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {sorted(ORIGINS)}")
    return origin


def required_text(name: str, value: str) -> str:
    """A reason or a name given by the merchant: trimmed, never blank."""
    value = (value or "").strip()
    if not value:
        raise RuleViolation(name, "required", f"{name} is required")
    return value


@dataclass(frozen=True)
class LineQuantity:
    """So many pieces of one line of an order: what a cancellation or a refund names."""

    line_id: str
    quantity: int


__all__ = [
    "ORIGINS",
    "Address",
    "Channel",
    "Customer",
    "Delivery",
    "DeliveryMode",
    "LineQuantity",
    "NewLine",
    "checked_origin",
    "required_text",
]
