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
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from app.domain.errors import RuleViolation
from app.domain.money import money
from app.domain.order_money import LinePricing


class Channel(StrEnum):
    LAREDOUTE = "laredoute"
    LABRANDBOUTIQUE = "labrandboutique"


class DeliveryMode(StrEnum):
    HOME = "home"
    RELAY = "relay"


_RELAY_FIELDS = ("relay_id", "relay_name", "relay_address")


@dataclass(frozen=True, kw_only=True)
class Customer:
    """The customer's name and the (anonymised) address the marketplace notifies them at.

    The marketplace may hold the email back until the order is accepted: it is None then.
    """

    firstname: str
    lastname: str
    email: str | None = None

    def stored(self) -> dict[str, str | None]:
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


_FULL_ADDRESS_FIELDS = (
    "civility", "firstname", "lastname", "company", "street_1", "street_2", "additional_info",
    "zip_code", "city", "state", "country", "phone", "phone_secondary",
)


@dataclass(frozen=True, kw_only=True)
class FullAddress:
    """An address as a shipper prints it: the person, their company, the streets, the phones.

    Personal data: it goes in events and answers to operators, never in logs.
    """

    civility: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street_1: str | None = None
    street_2: str | None = None
    additional_info: str | None = None
    zip_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    phone: str | None = None
    phone_secondary: str | None = None

    def stored(self) -> dict[str, str | None]:
        return {key: getattr(self, key) for key in _FULL_ADDRESS_FIELDS}


@dataclass(frozen=True, kw_only=True)
class CustomerDetails:
    """What the marketplace shows of the customer once it lets the seller see it.

    Each part is None while the marketplace holds it back (before acceptance on La Redoute).
    `recipient` is the shipping address in full; `shipping_address` its short form; a relay
    delivery gets its relay's name and address from it.
    """

    customer: Customer | None = None
    shipping_address: Address | None = None
    recipient: FullAddress | None = None
    billing_address: FullAddress | None = None
    locale: str | None = None
    delivery: Delivery | None = None

    @property
    def empty(self) -> bool:
        return all(
            getattr(self, key) is None
            for key in ("customer", "shipping_address", "recipient", "billing_address", "locale")
        )

    def stored_extra(self) -> dict[str, Any]:
        """The parts the Imported event keeps beside its customer and shipping address."""
        return {
            "recipient": None if self.recipient is None else self.recipient.stored(),
            "billing_address": None if self.billing_address is None else self.billing_address.stored(),
            "locale": self.locale,
        }


@dataclass(frozen=True, kw_only=True)
class MarketplaceFlags:
    """What the marketplace says of an order that changes on its side: the customer wrote,
    an incident is open, the order can be cancelled or refunded, and when it must ship by.

    The ship-by time is `shipping_deadline` when the marketplace gives one, else
    `leadtime_to_ship` calendar days after acceptance.
    """

    has_customer_message: bool = False
    has_incident: bool = False
    can_cancel: bool = False
    can_refund: bool = False
    shipping_deadline: datetime | None = None
    leadtime_to_ship: int | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "has_customer_message": bool(self.has_customer_message),
            "has_incident": bool(self.has_incident),
            "can_cancel": bool(self.can_cancel),
            "can_refund": bool(self.can_refund),
            "shipping_deadline": self.shipping_deadline,
            "leadtime_to_ship": self.leadtime_to_ship,
        }


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """To the shipping address (home) or to a relay point, which must then be named.

    A relay order whose address the marketplace holds back knows only its relay's id until
    then: `awaiting_details` lets its name and address be None.
    """

    mode: DeliveryMode
    relay_id: str | None = None
    relay_name: str | None = None
    relay_address: str | None = None
    awaiting_details: bool = False

    def __post_init__(self) -> None:
        if self.mode not in set(DeliveryMode):
            raise RuleViolation("delivery.mode", "delivery_mode", "mode must be home or relay")
        object.__setattr__(self, "mode", DeliveryMode(self.mode))
        if self.mode is DeliveryMode.RELAY:
            required = ("relay_id",) if self.awaiting_details else _RELAY_FIELDS
            for key in required:
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

    @classmethod
    def relay_awaiting_details(cls, *, relay_id: str) -> Delivery:
        """A relay delivery whose relay's name and address the marketplace still holds back."""
        return cls(mode=DeliveryMode.RELAY, relay_id=relay_id, awaiting_details=True)

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
    # The marketplace's count of the line's money; None for a line known by its unit price.
    pricing: LinePricing | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "sku": self.sku,
            "ean": self.ean,
            "title": self.title,
            "quantity": int(self.quantity),
            "unit_price": money(self.unit_price),
            "pricing": None if self.pricing is None else self.pricing.stored(),
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
    "CustomerDetails",
    "Delivery",
    "DeliveryMode",
    "FullAddress",
    "LineQuantity",
    "MarketplaceFlags",
    "NewLine",
    "checked_origin",
    "required_text",
]
