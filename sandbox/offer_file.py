"""The OF01 file: reading it as a `;` separated UTF-8 CSV, and the rules each line must follow.

A file that cannot be read as a whole (encoding, separator, unknown or missing columns) raises
UnreadableFile with the reason the import fails with; otherwise each line is checked on its own
by check_line, every broken rule adding its message, and a valid line comes back parsed.

A column is known when it is a standard offer column or an offer additional field the shop
declares (AF01). Like Mirakl, the sandbox does not drop other columns quietly: a header with
one fails the whole import (OF02 status FAILED, its reason_status naming the columns), so the
sender sees it at once rather than offers going online without those values.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

# The standard offer columns of the Mirakl offer import, as the published seller API lists
# them: OF01 (POST /api/offers/imports), requestBody multipart/form-data, property `file`,
# "Csv format", plus `pricing-unit` and `product-tax-code` named below it and `logistic-class`
# of its example. Every other column must be an offer additional field the shop declares
# (AF01); those are kept on the offer and shown in OF21's offer_additional_fields.
STANDARD_COLUMNS: frozenset[str] = frozenset({
    "sku", "product-id", "product-id-type", "description", "internal-description", "price",
    "price-additional-info", "quantity", "min-quantity-alert", "state", "available-start-date",
    "available-end-date", "discount-price", "discount-start-date", "discount-end-date",
    "discount-ranges", "allow-quote-requests", "leadtime-to-ship", "min-order-quantity",
    "max-order-quantity", "package-quantity", "update-delete", "price-ranges", "ecotax",
    "gift-wrap", "min-quantity-ordered", "pricing-unit", "product-tax-code", "logistic-class",
})


@dataclass(frozen=True)
class AdditionalField:
    """An offer additional field a shop declares (AF01); `type` is one of the spec's."""

    code: str
    label: str
    type: str = "STRING"
    required: bool = False
    description: str = ""
    accepted_values: tuple[str, ...] = ()

    def as_af01(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "label": self.label, "type": self.type,
                                "required": self.required, "editable": True,
                                "entity": "OFFER", "description": self.description}
        if self.type in ("LIST", "MULTIPLE_VALUES_LIST"):
            body["accepted_values"] = list(self.accepted_values)
        return body


# La Redoute's delivery terms (seller guide: DeliveryFee, DeliveryDaysRange*, Relay*) and the
# parent product, as offer additional fields.
DEFAULT_OFFER_ADDITIONAL_FIELDS: tuple[AdditionalField, ...] = (
    AdditionalField("delivery-fee", "Frais de livraison", "NUMERIC", required=True,
                    description="DeliveryFee: the shipping price of home delivery"),
    AdditionalField("delivery-days-range-min", "Délai de livraison min", "NUMERIC",
                    description="DeliveryDaysRangeMin: days, after the shipment delay"),
    AdditionalField("delivery-days-range-max", "Délai de livraison max", "NUMERIC",
                    description="DeliveryDaysRangeMax: days, after the shipment delay"),
    AdditionalField("relay-fee", "Frais de livraison en relais", "NUMERIC",
                    description="RelayFee: the shipping price of relay delivery"),
    AdditionalField("relay-delay", "Délai d'expédition en relais", "NUMERIC",
                    description="RelayDelay: days to ship to a relay"),
    AdditionalField("relay-days-range-min", "Délai de livraison en relais min", "NUMERIC",
                    description="RelayDaysRangeMin"),
    AdditionalField("relay-days-range-max", "Délai de livraison en relais max", "NUMERIC",
                    description="RelayDaysRangeMax"),
    AdditionalField("partner-product-parent", "Produit parent", "STRING",
                    description="PartnerProductParent: the parent product's reference"),
)
# The declared fields the sandbox knows the meaning of (their own rules in check_line); any
# other declared field is checked by its type only.
_KNOWN_FIELDS = frozenset(f.code for f in DEFAULT_OFFER_ADDITIONAL_FIELDS)
_TEXT_LIMITS = {"STRING": 2000, "TEXTAREA": 5000, "LINK": 2000, "REGEX": 2000}
REQUIRED_COLUMNS: tuple[str, ...] = ("sku", "product-id", "product-id-type", "price", "quantity")
ERROR_COLUMNS = ("error-line", "error-message")

MAX_SKU_LENGTH = 32
NEW_STATE = "11"
PRODUCT_ID_TYPES = ("EAN", "SHOP_SKU")
# Dates in the file carry no offset: the platform reads them in its own time zone.
PLATFORM_TZ = ZoneInfo("Europe/Paris")

_MONEY = re.compile(r"^\d+(\.\d{1,2})?$")
_WHOLE = re.compile(r"^\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_EAN = re.compile(r"^\d{13}$")

# Messages of the error report; the first three are the seller guide's own words.
DELIVERY_FEE_REQUIRED = "DeliveryFee is required"
DISCOUNT_NOT_LOWER = "discount price must be lower than the price"
PRODUCT_NOT_FOUND = "product not found"


class UnreadableFile(Exception):
    """The file as a whole cannot be read: the import ends FAILED with this reason."""


def valid_ean13(text: str) -> bool:
    if not _EAN.match(text):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(text[:12]))
    return (10 - total % 10) % 10 == int(text[12])



@dataclass(frozen=True)
class OfferValues:
    """One valid line of the file, parsed."""

    sku: str
    product_id: str
    product_id_type: str
    price: Decimal
    discount_price: Decimal | None
    discount_start: datetime | None
    discount_end: datetime | None
    quantity: int
    state: str
    available_start: datetime | None
    available_end: datetime | None
    leadtime_to_ship: int | None
    ecotax: Decimal | None
    delivery_fee: Decimal | None
    delivery_days_min: int | None
    delivery_days_max: int | None
    relay_fee: Decimal | None
    relay_delay: int | None
    relay_days_min: int | None
    relay_days_max: int | None
    parent_sku: str | None
    description: str
    # The declared additional fields given a value: (code, type, value as sent).
    additional: tuple[tuple[str, str, str], ...] = ()



# ---------------------------------------------------------------------- reading the file


def read_file(content: bytes, declared: Iterable[str] = _KNOWN_FIELDS
              ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, cells)]) of a `;` CSV whose columns are standard or among the
    `declared` additional field codes, or UnreadableFile with the reason."""
    if not content.strip():
        raise UnreadableFile("The file is empty")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("The file is not a CSV file encoded in UTF-8") from None
    if "\x00" in text:
        raise UnreadableFile("The file is not a CSV file encoded in UTF-8")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True))
    except csv.Error as exc:
        raise UnreadableFile(f"The file cannot be read as CSV: {exc}") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if len(header) == 1 and ("," in header[0] or "\t" in header[0]):
        raise UnreadableFile("The file must be a CSV file separated by ';'")
    known = STANDARD_COLUMNS | set(declared)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise UnreadableFile("Unknown columns in the header: " + ", ".join(unknown)
                             + " (neither standard offer columns nor offer additional fields"
                             " of the shop)")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise UnreadableFile("Columns given twice in the header: " + ", ".join(twice))
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise UnreadableFile("Missing columns in the header: " + ", ".join(missing))
    lines = [(number, row) for number, row in enumerate(rows[1:], start=1)
             if any(cell.strip() for cell in row)]
    return header, lines


# ---------------------------------------------------------------------- the rules of a line


class _Checker:
    """Reads the cells of one line; every broken rule adds its message, none stops the rest."""

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells
        self.errors: list[str] = []

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def money(self, column: str, *, positive: bool = False) -> Decimal | None:
        value = self.text(column)
        if not value:
            return None
        amount = Decimal(value) if _MONEY.match(value) else None
        if amount is None or (positive and amount <= 0):
            # Written like 29.99: a '.' and at most 2 decimals.
            self.errors.append(f"{column} must be a number "
                               f"{'greater than 0' if positive else '>= 0'}")
            return None
        return amount

    def whole(self, column: str) -> int | None:
        value = self.text(column)
        if not value:
            return None
        if not _WHOLE.match(value):
            self.errors.append(f"{column} must be a whole number >= 0")
            return None
        return int(value)

    def date(self, column: str) -> datetime | None:
        value = self.text(column)
        if not value:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=PLATFORM_TZ)
        except ValueError:
            self.errors.append(f"{column} must be a date written YYYY-MM-DDTHH:mm:ss")
            return None

    def ordered(self, low: Any, high: Any, low_column: str, high_column: str) -> None:
        if low is not None and high is not None and low > high:
            self.errors.append(f"{low_column} is after {high_column}"
                               if isinstance(low, datetime)
                               else f"{low_column} is above {high_column}")


def check_line(cells: dict[str, str], unknown_eans: frozenset[str],
               declared: Sequence[AdditionalField] = DEFAULT_OFFER_ADDITIONAL_FIELDS
               ) -> tuple[str, list[str], OfferValues | None]:
    """(update-delete action, errors, parsed values when there is no error) of one line.

    The La Redoute fields (delivery terms, parent) are read only when the shop declares
    them; a required declared field must have a value."""
    check = _Checker(cells)
    codes = {f.code for f in declared}
    sku = check.text("sku")
    if not sku:
        check.errors.append("sku is required")
    elif len(sku) > MAX_SKU_LENGTH:
        check.errors.append(f"sku is longer than {MAX_SKU_LENGTH} characters")
    action = check.text("update-delete").lower() or "update"
    if action not in ("update", "delete"):
        check.errors.append("update-delete must be update or delete")
        return action, check.errors, None
    if action == "delete":
        return action, check.errors, None

    product_id, id_type = check.text("product-id"), check.text("product-id-type")
    if id_type not in PRODUCT_ID_TYPES:
        check.errors.append("product-id-type must be EAN or SHOP_SKU")
    if not product_id:
        check.errors.append("product-id is required")
    elif id_type == "EAN":
        if not valid_ean13(product_id):
            check.errors.append("product-id is not a valid EAN-13")
        elif product_id in unknown_eans:
            check.errors.append(PRODUCT_NOT_FOUND)

    price = check.money("price", positive=True)
    if not check.text("price"):
        check.errors.append("price is required")
    discount_price = check.money("discount-price", positive=True)
    if price is not None and discount_price is not None and discount_price >= price:
        check.errors.append(DISCOUNT_NOT_LOWER)
    discount_start, discount_end = check.date("discount-start-date"), check.date(
        "discount-end-date")
    check.ordered(discount_start, discount_end, "discount-start-date", "discount-end-date")

    quantity = check.whole("quantity")
    if not check.text("quantity"):
        check.errors.append("quantity must be a whole number >= 0")
    state = check.text("state") or NEW_STATE
    if state != NEW_STATE:
        check.errors.append(f"state must be {NEW_STATE} (new)")
    start, end = check.date("available-start-date"), check.date("available-end-date")
    check.ordered(start, end, "available-start-date", "available-end-date")
    leadtime = check.whole("leadtime-to-ship")
    ecotax = check.money("ecotax")

    def declared_money(code: str) -> Decimal | None:
        return check.money(code) if code in codes else None

    def declared_whole(code: str) -> int | None:
        return check.whole(code) if code in codes else None

    delivery_fee = declared_money("delivery-fee")
    days_min, days_max = declared_whole("delivery-days-range-min"), declared_whole(
        "delivery-days-range-max")
    check.ordered(days_min, days_max, "delivery-days-range-min", "delivery-days-range-max")
    relay_fee, relay_delay = declared_money("relay-fee"), declared_whole("relay-delay")
    relay_min, relay_max = declared_whole("relay-days-range-min"), declared_whole(
        "relay-days-range-max")
    check.ordered(relay_min, relay_max, "relay-days-range-min", "relay-days-range-max")
    parent = check.text("partner-product-parent") if "partner-product-parent" in codes else ""
    if len(parent) > MAX_SKU_LENGTH:
        check.errors.append(f"partner-product-parent is longer than {MAX_SKU_LENGTH} characters")
    additional: list[tuple[str, str, str]] = []
    for declared_field in declared:
        value = check.text(declared_field.code)
        if not value:
            if declared_field.required:
                check.errors.append(DELIVERY_FEE_REQUIRED if declared_field.code == "delivery-fee"
                                    else f"{declared_field.code} is required")
            continue
        if declared_field.code not in _KNOWN_FIELDS:
            _check_type(check, declared_field, value)
        additional.append((declared_field.code, declared_field.type, value))

    if check.errors:
        return action, check.errors, None
    assert price is not None and quantity is not None
    return action, [], OfferValues(
        sku=sku, product_id=product_id, product_id_type=id_type, price=price,
        discount_price=discount_price, discount_start=discount_start,
        discount_end=discount_end, quantity=quantity, state=state, available_start=start,
        available_end=end, leadtime_to_ship=leadtime, ecotax=ecotax, delivery_fee=delivery_fee,
        delivery_days_min=days_min, delivery_days_max=days_max, relay_fee=relay_fee,
        relay_delay=relay_delay, relay_days_min=relay_min, relay_days_max=relay_max,
        parent_sku=parent or None, description=check.text("description"),
        additional=tuple(additional),
    )


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_type(check: _Checker, declared: AdditionalField, value: str) -> None:
    """The value of a declared field against its type (AF01's descriptions of the types)."""
    code, kind = declared.code, declared.type
    if kind == "NUMERIC" and not _NUMBER.match(value):
        check.errors.append(f"{code} must be a number")
    elif kind == "BOOLEAN" and value.lower() not in ("true", "false"):
        check.errors.append(f"{code} must be true or false")
    elif kind == "DATE" and not _DAY.match(value):
        check.errors.append(f"{code} must be a date written yyyy-mm-dd")
    elif kind == "LIST" and value not in declared.accepted_values:
        check.errors.append(f"{code} must be one of {', '.join(declared.accepted_values)}")
    elif kind in _TEXT_LIMITS and len(value) > _TEXT_LIMITS[kind]:
        check.errors.append(f"{code} is longer than {_TEXT_LIMITS[kind]} characters")

