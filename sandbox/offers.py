"""Offers: the OF01 CSV import, the rules the marketplace checks on each line, and what OF02,
OF03 and OF21 show of the result.

An import is kept with the file exactly as sent. It is read only when it is processed (as on
Mirakl, OF01 answers before the file is looked at): a file that cannot be read as a `;` separated
UTF-8 CSV with a known header fails as a whole; otherwise each line is checked on its own, the
valid ones are applied to the shop's offers and the others make up the error report, in the
format sent plus "error-line" and "error-message".

OfferBook holds no lock: the Marketplace calls it with its own lock held.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from sandbox.catalog import PRODUCTS
from sandbox.clock import format_date
from sandbox.generator import product_sku, variant_ean, variant_sku
from sandbox.orders import money

log = structlog.get_logger("sandbox")

WAITING = "WAITING"
RUNNING = "RUNNING"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
PENDING_STATUSES = frozenset({WAITING, RUNNING})
IMPORT_MODES = ("NORMAL", "REPLACE")

# The columns of our OF01 file (/tmp/plan/offers.md), then the other standard Mirakl columns a
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
class CatalogueProduct:
    product_sku: str
    title: str
    category_code: str
    category_label: str


def _catalogue_by_ean() -> dict[str, CatalogueProduct]:
    """The variants the order generator sells, by EAN, so their offers show the same product."""
    found = {}
    for product in PRODUCTS:
        for variant in product.variants:
            sku = variant_sku(product, variant)
            found[variant_ean(sku)] = CatalogueProduct(
                product_sku(sku), f"{product.title} – {variant.lower()}",
                product.category_code, product.category_label)
    return found


CATALOGUE = _catalogue_by_ean()


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


@dataclass
class Offer:
    offer_id: int
    shop_id: int
    values: OfferValues
    line: dict[str, str]  # the cells of the line that last set it, by column name
    created: datetime
    updated: datetime
    import_id: int


@dataclass
class LineError:
    line_number: int  # 1-based, the header not counted
    cells: list[str]
    message: str


@dataclass
class OfferImport:
    import_id: int
    shop_id: int
    mode: str
    created: datetime
    content: bytes
    filename: str | None
    status: str = WAITING
    reason_status: str | None = None
    lines_read: int = 0
    lines_in_success: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    header: list[str] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    done: datetime | None = None

    @property
    def has_error_report(self) -> bool:
        return self.status == COMPLETE and bool(self.errors)

    def as_of02(self) -> dict[str, Any]:
        """OF02's body. The spec requires reason_status and type: "" unless the import failed."""
        return {
            "import_id": self.import_id,
            "date_created": format_date(self.created),
            "mode": self.mode,
            "type": "MIRAKL",
            "status": self.status,
            "reason_status": self.reason_status or "",
            "lines_read": self.lines_read,
            "lines_in_success": self.lines_in_success,
            "lines_in_error": len(self.errors),
            "lines_in_pending": 0,
            "offer_inserted": self.inserted,
            "offer_updated": self.updated,
            "offer_deleted": self.deleted,
            "has_error_report": self.has_error_report,
        }

    def summary(self) -> dict[str, Any]:
        """The control API's view: OF02's body plus the shop and the processing date."""
        body = {**self.as_of02(), "shop_id": self.shop_id}
        if self.done is not None:
            body["date_done"] = format_date(self.done)
        return body

    def error_report(self) -> bytes:
        """The lines in error as sent, with two more columns, `;` separated, header first."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        writer.writerow([*self.header, *ERROR_COLUMNS])
        for error in self.errors:
            cells = (error.cells + [""] * len(self.header))[:len(self.header)]
            writer.writerow([*cells, str(error.line_number), error.message])
        return out.getvalue().encode("utf-8")


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


# ---------------------------------------------------------------------- the book


@dataclass(frozen=True)
class OfferQuery:
    """OF21's filters and page."""

    sku: str | None = None
    product_id: str | None = None
    states: frozenset[str] | None = None
    max: int = 10
    offset: int = 0
    sort: str = "totalPrice"
    descending: bool = False


class OfferBook:
    """Every shop's offers and offer imports."""

    def __init__(self, default_leadtime_days: int) -> None:
        self.default_leadtime_days = default_leadtime_days
        self.unknown_eans: frozenset[str] = frozenset()
        self._offers: dict[int, dict[str, Offer]] = {}  # shop id -> sku -> offer
        self._imports: dict[int, OfferImport] = {}
        self._import_ids = itertools.count(1)
        self._offer_ids = itertools.count(1)

    # -- imports

    def new_import(self, shop_id: int, mode: str, content: bytes, filename: str | None,
                   now: datetime) -> OfferImport:
        """A new WAITING import; the same file sent again while it waits is the same import."""
        for existing in self._imports.values():
            if (existing.shop_id == shop_id and existing.mode == mode
                    and existing.status in PENDING_STATUSES and existing.content == content):
                log.info("sandbox_offer_import_duplicate", import_id=existing.import_id)
                return existing
        imported = OfferImport(next(self._import_ids), shop_id, mode, now, content, filename)
        self._imports[imported.import_id] = imported
        log.info("sandbox_offer_import_received", import_id=imported.import_id, shop_id=shop_id,
                 mode=mode, size=len(content))
        return imported

    def get_import(self, import_id: int, shop_id: int | None = None) -> OfferImport | None:
        found = self._imports.get(import_id)
        if found is None or (shop_id is not None and found.shop_id != shop_id):
            return None
        return found

    def imports(self, shop_id: int | None = None) -> list[OfferImport]:
        return [i for i in self._imports.values() if shop_id is None or i.shop_id == shop_id]

    def progress(self, now: datetime, delay: float | None) -> None:
        """WAITING, RUNNING from half the delay, then processed once the delay is over."""
        if delay is None:
            return
        for imported in list(self._imports.values()):
            if imported.status not in PENDING_STATUSES:
                continue
            if now >= imported.created + timedelta(seconds=delay / 2):
                imported.status = RUNNING
            due = imported.created + timedelta(seconds=delay)
            if now >= due:
                self.process(imported, due)

    def process(self, imported: OfferImport, when: datetime) -> None:
        """Read the file, check each line, apply the valid ones; FAILED if it cannot be read."""
        if imported.status not in PENDING_STATUSES:
            return
        imported.done = when
        try:
            header, lines = read_file(imported.content)
        except UnreadableFile as exc:
            imported.status, imported.reason_status = FAILED, str(exc)
            log.info("sandbox_offer_import_failed", import_id=imported.import_id,
                     reason=imported.reason_status)
            return
        imported.header = header
        imported.lines_read = len(lines)
        shop_offers = self._offers.setdefault(imported.shop_id, {})
        seen: set[str] = set()
        for number, row in lines:
            cells = dict(zip(header, row, strict=False))
            errors: list[str] = []
            if len(row) != len(header):
                errors.append(f"the line has {len(row)} cells, the header has {len(header)}")
            action, line_errors, values = check_line(cells, self.unknown_eans)
            errors += line_errors
            sku = cells.get("sku", "").strip()
            if sku and sku in seen:
                errors.append("sku appears more than once in the file")
            seen.add(sku)
            if not errors and action == "delete" and sku not in shop_offers:
                errors.append("no offer with this sku to delete")
            if errors:
                imported.errors.append(LineError(number, row, " | ".join(errors)))
                continue
            imported.lines_in_success += 1
            if action == "delete":
                del shop_offers[sku]
                imported.deleted += 1
                continue
            assert values is not None
            line = {name: cells.get(name, "") for name in header}
            offer = shop_offers.get(sku)
            if offer is None:
                shop_offers[sku] = Offer(next(self._offer_ids), imported.shop_id, values, line,
                                         when, when, imported.import_id)
                imported.inserted += 1
            else:
                offer.values, offer.line = values, line
                offer.updated, offer.import_id = when, imported.import_id
                imported.updated += 1
        if imported.mode == "REPLACE":
            for sku in [s for s in shop_offers if s not in seen]:
                del shop_offers[sku]
                imported.deleted += 1
        imported.status = COMPLETE
        log.info("sandbox_offer_import_complete", import_id=imported.import_id,
                 lines_read=imported.lines_read, lines_in_error=len(imported.errors),
                 inserted=imported.inserted, updated=imported.updated,
                 deleted=imported.deleted)

    # -- offers

    def offers(self, shop_id: int | None = None) -> list[Offer]:
        return [offer for shop, by_sku in sorted(self._offers.items())
                if shop_id is None or shop == shop_id for offer in by_sku.values()]

    def list_offers(self, shop_id: int, query: OfferQuery, now: datetime,
                    duplicate_pages: bool = False) -> tuple[list[dict[str, Any]], int]:
        """OF21: the page of the shop's matching offers, sorted as asked, then by offer id."""
        found = [render_offer(offer, now, self.default_leadtime_days)
                 for offer in self._offers.get(shop_id, {}).values()
                 if (query.sku is None or offer.values.sku == query.sku)
                 and (query.product_id is None or query.product_id in _product_ids(offer))
                 and (query.states is None or offer.values.state in query.states)]
        key = {"price": "price", "productTitle": "product_title"}.get(query.sort, "total_price")
        found.sort(key=lambda o: (o[key], o["offer_id"]), reverse=query.descending)
        start = query.offset - 1 if duplicate_pages and query.offset > 0 else query.offset
        return found[start:start + query.max], len(found)


def _product_ids(offer: Offer) -> set[str]:
    return {offer.values.product_id, _product(offer.values).product_sku}


def _product(values: OfferValues) -> CatalogueProduct:
    if values.product_id_type == "EAN" and values.product_id in CATALOGUE:
        return CATALOGUE[values.product_id]
    if values.product_id_type == "SHOP_SKU":
        return CatalogueProduct(values.product_id, f"Produit {values.product_id}", "divers",
                                "Divers")
    return CatalogueProduct(product_sku(values.product_id), f"Produit {values.product_id}",
                            "divers", "Divers")


def _within(now: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or start <= now) and (end is None or now <= end)


def render_offer(offer: Offer, now: datetime, default_leadtime_days: int) -> dict[str, Any]:
    """One offer as OF21 shows it: every required field, optional ones only when they apply."""
    v = offer.values
    product = _product(v)
    discounted = v.discount_price is not None and _within(now, v.discount_start, v.discount_end)
    price = v.discount_price if discounted and v.discount_price is not None else v.price
    in_period = _within(now, v.available_start, v.available_end)
    leadtime = v.leadtime_to_ship if v.leadtime_to_ship is not None else default_leadtime_days
    leadtime = max(leadtime, 1)  # the spec: a lead time of 0 is shown as 1
    unit_discount = money(v.discount_price) if v.discount_price is not None else None

    pricing: dict[str, Any] = {"price": money(price), "unit_origin_price": money(v.price)}
    if unit_discount is not None:
        pricing["unit_discount_price"] = unit_discount
        if v.discount_start is not None:
            pricing["discount_start_date"] = format_date(v.discount_start)
        if v.discount_end is not None:
            pricing["discount_end_date"] = format_date(v.discount_end)
    pricing["volume_prices"] = [{
        "quantity_threshold": 1, "price": money(price), "unit_origin_price": money(v.price),
        "unit_discount_price": unit_discount if unit_discount is not None else money(v.price),
    }]

    body: dict[str, Any] = {
        "offer_id": offer.offer_id,
        "shop_sku": v.sku,
        "product_sku": product.product_sku,
        "product_title": product.title,
        "product_references": [{"reference": v.product_id, "reference_type": v.product_id_type}],
        "category_code": product.category_code,
        "category_label": product.category_label,
        "description": v.description,
        "state_code": v.state,
        "price": money(price),
        "total_price": money(price + v.delivery_fee),
        "all_prices": [pricing],
        "applicable_pricing": pricing,
        "currency_iso_code": "EUR",
        "quantity": v.quantity,
        "active": v.quantity > 0 and in_period,
        "channels": [],
        "leadtime_to_ship": leadtime,
        "shipping_deadline": format_date(now + timedelta(days=leadtime)),
        "min_shipping_price": money(v.delivery_fee),
        "min_shipping_price_additional": money(v.delivery_fee),
        "min_shipping_type": "HOME",
        "min_shipping_zone": "FR",
        "logistic_class": {"code": "STANDARD", "label": "Standard"},
        "fulfillment": {"center": {"code": "DEFAULT"}},
        "min_order_quantity": 1,
        "max_order_quantity": max(v.quantity, 1),
        "min_quantity_alert": 0,
        "package_quantity": 1,
    }
    reasons = ([] if v.quantity > 0 else ["ZERO_QUANTITY"]) + (
        [] if in_period else ["NOT_IN_AVAILABILITY_PERIOD"])
    if reasons:
        body["inactivity_reasons"] = reasons
    if v.available_start is not None:
        body["available_start_date"] = format_date(v.available_start)
    if v.available_end is not None:
        body["available_end_date"] = format_date(v.available_end)
    if v.discount_price is not None:
        discount: dict[str, Any] = {"discount_price": money(v.discount_price),
                                    "origin_price": money(v.price)}
        if v.discount_start is not None:
            discount["start_date"] = format_date(v.discount_start)
        if v.discount_end is not None:
            discount["end_date"] = format_date(v.discount_end)
        body["discount"] = discount
    if v.ecotax is not None:
        body["eco_contributions"] = [{"epr_category_code": "FR-DEEE",
                                      "eco_contribution_amount": money(v.ecotax)}]
    return body


def raw_offer(offer: Offer) -> dict[str, Any]:
    """The control API's view: the line as last sent, cell by cell, and who set it when."""
    return {
        "offer_id": offer.offer_id,
        "shop_id": offer.shop_id,
        "sku": offer.values.sku,
        "import_id": offer.import_id,
        "created_date": format_date(offer.created),
        "last_updated_date": format_date(offer.updated),
        "line": dict(offer.line),
    }
