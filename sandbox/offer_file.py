"""The OF01 file: reading it as a `;` separated UTF-8 CSV, and the rules each line must follow.

A file that cannot be read as a whole (encoding, separator, unknown or missing columns) raises
UnreadableFile with the reason the import fails with; otherwise each line is checked on its own
by check_line, every broken rule adding its message, and a valid line comes back parsed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

# The columns of the OF01 file our service sends, then the other standard Mirakl columns a
# seller may send; those are accepted and kept, and only description is shown back.
OUR_COLUMNS: tuple[str, ...] = (
    "sku", "product-id", "product-id-type", "price", "discount-price", "discount-start-date",
    "discount-end-date", "quantity", "state", "available-start-date", "available-end-date",
    "leadtime-to-ship", "ecotax", "update-delete", "delivery-fee", "delivery-days-range-min",
    "delivery-days-range-max", "relay-fee", "relay-delay", "relay-days-range-min",
    "relay-days-range-max", "partner-product-parent",
)
OTHER_COLUMNS: tuple[str, ...] = (
    "description", "internal-description", "price-additional-info", "min-quantity-alert",
    "logistic-class", "allow-quote-requests", "min-order-quantity", "max-order-quantity",
    "package-quantity", "gift-wrap", "min-quantity-ordered", "product-tax-code",
)
KNOWN_COLUMNS = frozenset(OUR_COLUMNS + OTHER_COLUMNS)
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
    delivery_fee: Decimal
    delivery_days_min: int | None
    delivery_days_max: int | None
    relay_fee: Decimal | None
    relay_delay: int | None
    relay_days_min: int | None
    relay_days_max: int | None
    parent_sku: str | None
    description: str



# ---------------------------------------------------------------------- reading the file


def read_file(content: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, cells)]) of a `;` CSV, or UnreadableFile with the reason."""
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
    unknown = [name for name in header if name not in KNOWN_COLUMNS]
    if unknown:
        raise UnreadableFile("Unknown columns in the header: " + ", ".join(unknown))
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


def check_line(cells: dict[str, str], unknown_eans: frozenset[str]
               ) -> tuple[str, list[str], OfferValues | None]:
    """(update-delete action, errors, parsed values when there is no error) of one line."""
    check = _Checker(cells)
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

    delivery_fee = check.money("delivery-fee")
    if not check.text("delivery-fee"):
        check.errors.append(DELIVERY_FEE_REQUIRED)
    days_min, days_max = check.whole("delivery-days-range-min"), check.whole(
        "delivery-days-range-max")
    check.ordered(days_min, days_max, "delivery-days-range-min", "delivery-days-range-max")
    relay_fee, relay_delay = check.money("relay-fee"), check.whole("relay-delay")
    relay_min, relay_max = check.whole("relay-days-range-min"), check.whole(
        "relay-days-range-max")
    check.ordered(relay_min, relay_max, "relay-days-range-min", "relay-days-range-max")
    parent = check.text("partner-product-parent")
    if len(parent) > MAX_SKU_LENGTH:
        check.errors.append(f"partner-product-parent is longer than {MAX_SKU_LENGTH} characters")

    if check.errors:
        return action, check.errors, None
    assert price is not None and quantity is not None and delivery_fee is not None
    return action, [], OfferValues(
        sku=sku, product_id=product_id, product_id_type=id_type, price=price,
        discount_price=discount_price, discount_start=discount_start,
        discount_end=discount_end, quantity=quantity, state=state, available_start=start,
        available_end=end, leadtime_to_ship=leadtime, ecotax=ecotax, delivery_fee=delivery_fee,
        delivery_days_min=days_min, delivery_days_max=days_max, relay_fee=relay_fee,
        relay_delay=relay_delay, relay_days_min=relay_min, relay_days_max=relay_max,
        parent_sku=parent or None, description=check.text("description"),
    )

