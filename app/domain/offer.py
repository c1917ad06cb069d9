"""The Offer aggregate: one per (channel, SKU), checked against La Redoute's rules.

An offer is what the merchant sells on a channel: the product's identity (EAN, SKU, parent),
its price and crossed-out price, stock, delivery terms, eco fee and publication period (seller
guide, sections 2.2, 2.6, 2.11, 3.2, 4). Each change that matters is an event of its own. An
offer that breaks a rule is kept, with its errors, and is not sent to the marketplace until
they are fixed. Quantity 0 unpublishes an offer; offers are never deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from app.domain.actor import AttributedAggregate
from app.domain.errors import RuleViolation

MAX_SKU_LENGTH = 32
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_OFFER_NAMESPACE = UUID("0b6f2d4e-5c0a-4f5e-9a43-7d2f1e8c9b10")
CENT = Decimal("0.01")
# Far beyond any real price, and small enough for cents to stay exact.
MAX_AMOUNT = Decimal("999999999.99")
# Counts (quantities, days) beyond this are not stock or delays but mistakes.
MAX_COUNT = 999_999_999

PRICE_FIELDS = ("price", "crossed_price", "eco_fee")
STOCK_FIELDS = ("quantity",)
DELIVERY_FIELDS = ("delivery_fee", "shipment_delay", "delivery_days_min", "delivery_days_max",
                   "relay", "relay_fee", "relay_delay", "relay_days_min", "relay_days_max")
PRODUCT_FIELDS = ("ean", "parent_sku")
PERIOD_FIELDS = ("period_start", "period_end")
FIELDS = PRODUCT_FIELDS + PRICE_FIELDS + STOCK_FIELDS + DELIVERY_FIELDS + PERIOD_FIELDS
_MONEY = {"price", "crossed_price", "eco_fee", "delivery_fee", "relay_fee"}
_COUNTS = {"quantity", "shipment_delay", "delivery_days_min", "delivery_days_max",
           "relay_delay", "relay_days_min", "relay_days_max"}


def offer_id_for(channel: str, sku: str) -> UUID:
    return uuid5(_OFFER_NAMESPACE, f"{channel}\x1f{sku}")


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field, which rule, and a message the merchant can act on."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


# ---------------------------------------------------------------- reading a source row


class OutOfRange(ValueError):
    """A value of the right kind but of an absurd size: the row is refused, not kept."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


# The rules of the values refused whole rather than kept as an offer's error.
OUT_OF_RANGE = frozenset({"amount_range", "count_range"})


def read_fields(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Typed offer values from a source row (strings or JSON values) and what cannot be read.

    A value that cannot be read is kept as None with its error, so the offer is stored with
    the error rather than lost. A missing crossed-out price is the price. Missing period dates
    stay missing: the feed sends the guide's defaults (today, today + 1 year) on the day it
    sends, so that the same source read on another day is still the same offer.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name in FIELDS:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        try:
            values[name] = _read(name, value)
        except OutOfRange as exc:
            values[name] = None
            errors.append(FieldError(name, exc.rule, str(exc)))
        except ValueError as exc:
            values[name] = None
            errors.append(FieldError(name, "format", str(exc)))
    if values["crossed_price"] is None and values["price"] is not None and not any(
        e.field == "crossed_price" for e in errors
    ):
        values["crossed_price"] = values["price"]
    if values["relay"] is None:
        values["relay"] = False
    return values, errors


def _read(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _MONEY:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValueError(f"{name} must be an amount in euros")
        text = str(value).replace(",", ".") if isinstance(value, str) else str(value)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{name} must be an amount in euros, not {value!r}") from None
        if not amount.is_finite():
            raise ValueError(f"{name} must be an amount in euros, not {value!r}")
        if abs(amount) > MAX_AMOUNT:
            raise OutOfRange("amount_range", f"{name} must be at most {MAX_AMOUNT} euros, not {value!r}")
        if amount != amount.quantize(CENT):
            raise ValueError(f"{name} has more than 2 decimal places")
        return amount.quantize(CENT)
    if name in _COUNTS:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a whole number")
        if isinstance(value, int):
            number = value
        else:
            text = str(value)
            if not re.fullmatch(r"-?\d+", text):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
            number = int(text)
        if abs(number) > MAX_COUNT:
            raise OutOfRange("count_range", f"{name} must be at most {MAX_COUNT}, not {value!r}")
        return number
    if name == "relay":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "yes", "oui"):
            return True
        if text in ("0", "false", "no", "non"):
            return False
        raise ValueError(f"relay must be true or false, not {value!r}")
    if name in ("period_start", "period_end"):
        text = str(value)
        if not _DATE_PATTERN.match(text):
            raise ValueError(f"{name} must be written YYYY-MM-DDTHH:mm:ss, not {value!r}")
        try:
            datetime.strptime(text, DATE_FORMAT)
        except ValueError:
            raise ValueError(f"{name} is not a real date: {value!r}") from None
        return text
    return str(value)


def _is_date(text: str) -> bool:
    if not _DATE_PATTERN.match(text):
        return False
    try:
        datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- the guide's rules


def ean_is_valid(ean: str) -> bool:
    """An EAN-13 (or EAN-8) whose last digit is its checksum."""
    if not ean.isdigit() or len(ean) not in (8, 13):
        return False
    digits = [int(c) for c in ean]
    body, check = digits[:-1], digits[-1]
    weights = [3, 1] if len(body) % 2 else [1, 3]
    total = sum(d * weights[i % 2] for i, d in enumerate(body))
    return (10 - total % 10) % 10 == check


def check_offer(sku: str, values: Mapping[str, Any]) -> list[FieldError]:
    """The blocking rules of the seller guide, each with a precise message."""
    errors: list[FieldError] = []

    def broken(field: str, rule: str, message: str) -> None:
        errors.append(FieldError(field, rule, message))

    if len(sku) > MAX_SKU_LENGTH:
        broken("sku", "max_length",
               f"PartnerProductReference (SKU) has {len(sku)} characters; at most {MAX_SKU_LENGTH}")
    price, crossed = values.get("price"), values.get("crossed_price")
    if price is None:
        broken("price", "required", "SellingPriceAmount is required: every offer needs a price")
    elif price <= 0:
        broken("price", "positive", "SellingPriceAmount must be above 0")
    if price is not None and crossed is not None and crossed < price:
        broken("crossed_price", "not_below_price",
               f"PrixBarre ({crossed}) must be at least SellingPriceAmount ({price}); "
               "equal means no crossed-out price")
    if values.get("delivery_fee") is None:
        broken("delivery_fee", "required",
               "DeliveryFee is required: without it La Redoute blocks the export")
    elif values["delivery_fee"] < 0:
        broken("delivery_fee", "non_negative", "DeliveryFee cannot be negative")
    eco = values.get("eco_fee")
    if eco is not None and eco < 0:
        broken("eco_fee", "non_negative", "SellingPriceWEEEFee cannot be negative")
    quantity = values.get("quantity")
    if quantity is None:
        broken("quantity", "required", "quantity is required (0 unpublishes the offer)")
    elif quantity < 0:
        broken("quantity", "non_negative", "quantity must be a whole number of 0 or more")
    for name in ("shipment_delay", "delivery_days_min", "delivery_days_max", "relay_delay",
                 "relay_days_min", "relay_days_max", "relay_fee"):
        if values.get(name) is not None and values[name] < 0:
            broken(name, "non_negative", f"{name} cannot be negative")
    _check_range(values, "delivery_days_min", "delivery_days_max", broken)
    if values.get("relay"):
        if values.get("relay_fee") is None:
            broken("relay_fee", "required_for_relay", "RelayFee is required for relay delivery")
        _check_range(values, "relay_days_min", "relay_days_max", broken)
    start, end = values.get("period_start"), values.get("period_end")
    if start is not None and end is not None and start > end:
        broken("period_end", "after_start",
               f"OfferPeriodEndDate ({end}) is before OfferPeriodStartDate ({start})")
    _check_product(sku, values, broken)
    return errors


def _check_range(values: Mapping[str, Any], low: str, high: str, broken: Any) -> None:
    if values.get(low) is not None and values.get(high) is not None and values[low] > values[high]:
        broken(high, "range", f"{high} ({values[high]}) is below {low} ({values[low]})")


def _check_product(sku: str, values: Mapping[str, Any], broken: Any) -> None:
    """Simple product: EAN, no parent. Parent: no EAN, parent = itself. Child: EAN, a parent."""
    ean, parent = values.get("ean"), values.get("parent_sku")
    if parent == sku:
        if ean:
            broken("ean", "empty_for_parent",
                   "ProductIdentifier must be empty for a parent product "
                   "(PartnerProductParent = PartnerProductReference)")
        return
    if not ean:
        broken("ean", "required", "ProductIdentifier (EAN) is required for a simple or child product")
    elif not ean_is_valid(ean):
        broken("ean", "ean_checksum", f"ProductIdentifier {ean!r} is not a valid EAN (checksum)")


# ---------------------------------------------------------------- the aggregate


class Offer(AttributedAggregate):
    """A merchant's offer on one channel."""

    @staticmethod
    def create_id(channel: str, sku: str) -> UUID:
        return offer_id_for(channel, sku)

    @classmethod
    def register(cls, *, channel: str, sku: str, values: Mapping[str, Any],
                 errors: list[FieldError]) -> Offer:
        if not sku or not sku.strip():
            raise RuleViolation("sku", "required", "PartnerProductReference (SKU) is required")
        values = {name: values.get(name) for name in FIELDS}
        all_errors = _merge(errors, check_offer(sku, values))
        return cls(channel=channel, sku=sku, values=values,
                   errors=[e.as_dict() for e in all_errors])

    @event("Registered")
    def __init__(self, channel: str, sku: str, values: dict[str, Any],
                 errors: list[dict[str, str]]) -> None:
        self.channel = channel
        self.sku = sku
        self.values = dict(values)
        self.errors = list(errors)
        self.promotion: dict[str, Any] | None = None
        self.operation: dict[str, Any] | None = None

    # ---------------------------------------------------------------- derived state

    @property
    def published(self) -> bool:
        return bool(self.values.get("quantity"))

    @property
    def valid(self) -> bool:
        return not self.errors

    # ---------------------------------------------------------------- changes

    def update(self, values: Mapping[str, Any], errors: list[FieldError]) -> bool:
        """Bring the offer to the source's values: one event per kind of change. False if
        nothing changed."""
        before = self.version
        new = {name: values.get(name) for name in FIELDS}
        changed = {name for name in FIELDS if new[name] != self.values.get(name)}
        if changed & set(PRODUCT_FIELDS):
            self._product_changed(ean=new["ean"], parent_sku=new["parent_sku"])
        if changed & set(PRICE_FIELDS):
            self._price_changed(price=new["price"], crossed_price=new["crossed_price"],
                                eco_fee=new["eco_fee"])
        if changed & set(DELIVERY_FIELDS):
            self._delivery_terms_changed(terms={name: new[name] for name in DELIVERY_FIELDS})
        if changed & set(PERIOD_FIELDS):
            self._period_changed(period_start=new["period_start"], period_end=new["period_end"])
        if "quantity" in changed:
            self._set_quantity(new["quantity"])
        self._revalidate(errors)
        return self.version != before

    def set_quantity(self, quantity: int) -> None:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise RuleViolation("quantity", "non_negative", "quantity must be a whole number of 0 or more")
        if quantity != self.values.get("quantity"):
            self._set_quantity(quantity)
            # Other fields that could not be read keep their "format" error.
            kept = [FieldError(**e) for e in self.errors
                    if e["rule"] == "format" and e["field"] != "quantity"]
            self._revalidate(kept)

    def unpublish(self) -> None:
        """Quantity 0: the guide's way to take an offer off the site; it is kept."""
        self.set_quantity(0)

    def _set_quantity(self, quantity: int | None) -> None:
        was = self.values.get("quantity")
        if quantity == 0 and was:
            self._unpublished(previous_quantity=was)
        elif quantity and not was:
            self._republished(quantity=quantity)
        else:
            self._stock_changed(quantity=quantity)

    def set_promotion(self, *, price: Decimal, crossed_price: Decimal, start: str | None,
                      end: str | None) -> None:
        """A promotional price shown against a crossed-out price, optionally between dates."""
        if price <= 0:
            raise RuleViolation("price", "positive", "the promotional price must be above 0")
        if crossed_price <= price:
            raise RuleViolation("crossed_price", "above_price",
                                "PrixBarre must be above the promotional SellingPriceAmount")
        for name, value in (("start", start), ("end", end)):
            if value is not None and not _is_date(value):
                raise RuleViolation(name, "date_format",
                                    f"{name} must be a real date written YYYY-MM-DDTHH:mm:ss")
        if start and end and start > end:
            raise RuleViolation("end", "after_start", "the promotion ends before it starts")
        promotion = {"price": price, "crossed_price": crossed_price, "start": start, "end": end}
        if promotion != self.promotion:
            self._promotion_set(promotion=promotion)

    def end_promotion(self) -> None:
        if self.promotion is None:
            raise RuleViolation("promotion", "none", "the offer has no promotion")
        self._promotion_ended(promotion=self.promotion)

    def join_operation(self, *, operation: str, batch_id: str) -> None:
        """Sent ahead of a special operation; the marketplace's import id is its batch id."""
        self._operation_joined(operation=operation, batch_id=batch_id)

    def _revalidate(self, read_errors: list[FieldError]) -> None:
        errors = [e.as_dict() for e in _merge(read_errors, check_offer(self.sku, self.values))]
        if errors != self.errors:
            self._validation_changed(errors=errors)

    # ---------------------------------------------------------------- events

    @event("ProductChanged")
    def _product_changed(self, ean: str | None, parent_sku: str | None) -> None:
        self.values.update(ean=ean, parent_sku=parent_sku)

    @event("PriceChanged")
    def _price_changed(self, price: Decimal | None, crossed_price: Decimal | None,
                       eco_fee: Decimal | None) -> None:
        self.values.update(price=price, crossed_price=crossed_price, eco_fee=eco_fee)

    @event("DeliveryTermsChanged")
    def _delivery_terms_changed(self, terms: dict[str, Any]) -> None:
        self.values.update(terms)

    @event("PeriodChanged")
    def _period_changed(self, period_start: str | None, period_end: str | None) -> None:
        self.values.update(period_start=period_start, period_end=period_end)

    @event("StockChanged")
    def _stock_changed(self, quantity: int | None) -> None:
        self.values["quantity"] = quantity

    @event("Unpublished")
    def _unpublished(self, previous_quantity: int) -> None:
        self.values["quantity"] = 0

    @event("Republished")
    def _republished(self, quantity: int) -> None:
        self.values["quantity"] = quantity

    @event("PromotionSet")
    def _promotion_set(self, promotion: dict[str, Any]) -> None:
        self.promotion = dict(promotion)

    @event("PromotionEnded")
    def _promotion_ended(self, promotion: dict[str, Any]) -> None:
        self.promotion = None

    @event("OperationJoined")
    def _operation_joined(self, operation: str, batch_id: str) -> None:
        self.operation = {"name": operation, "batch_id": batch_id}

    @event("ValidationChanged")
    def _validation_changed(self, errors: list[dict[str, str]]) -> None:
        self.errors = list(errors)


def _merge(first: list[FieldError], second: list[FieldError]) -> list[FieldError]:
    """Read errors first; a rule error on a field that could not be read is left out."""
    unreadable = {e.field for e in first}
    return [*first, *(e for e in second if e.field not in unreadable)]


def default_period(today: datetime) -> tuple[str, str]:
    """The guide's publication period when the source gives none: today, and a year later."""
    start = today.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.strftime(DATE_FORMAT), (start + timedelta(days=365)).strftime(DATE_FORMAT)


__all__ = [
    "DATE_FORMAT",
    "FIELDS",
    "FieldError",
    "MAX_SKU_LENGTH",
    "Offer",
    "check_offer",
    "default_period",
    "ean_is_valid",
    "offer_id_for",
    "read_fields",
]
