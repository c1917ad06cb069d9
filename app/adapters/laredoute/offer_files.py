"""La Redoute's offer files: the OF01 file we send and the OF03 error report we read back.

Columns and values are those of the Mirakl offer import (normal mode); an offer's fields
are ours (the seller guide's names, see `app.domain.offer`) and are translated here. A file
holds the spec's standard offer columns we use, then the offer additional fields the shop
declares (AF01) that the field mapping sends our other values to; a value whose field the
shop does not declare is not sent (`OfferColumns.left_out` says which).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.domain.offer import DATE_FORMAT, default_period
from app.ports.marketplace import SendableOffer

# The offer columns of the Mirakl offer import (normal mode), as the published seller API
# lists them: OF01 (POST /api/offers/imports), requestBody multipart/form-data, property
# `file`, "Csv format" (plus `pricing-unit` and `product-tax-code` named below it, and
# `logistic-class` of its example). Channel prices (`price[channel=...]`...) and EPR columns
# (`producer-id[...]`, `eco-contribution-amount[...]`) are left out: we send neither. Any
# other column must be an offer additional field the shop declares (AF01).
STANDARD_COLUMNS: frozenset[str] = frozenset({
    "sku", "product-id", "product-id-type", "description", "internal-description", "price",
    "price-additional-info", "quantity", "min-quantity-alert", "state", "available-start-date",
    "available-end-date", "discount-price", "discount-start-date", "discount-end-date",
    "discount-ranges", "allow-quote-requests", "leadtime-to-ship", "min-order-quantity",
    "max-order-quantity", "package-quantity", "update-delete", "price-ranges", "ecotax",
    "gift-wrap", "min-quantity-ordered", "pricing-unit", "product-tax-code", "logistic-class",
})
# The standard columns we send, in this order; the declared additional fields follow.
COLUMNS: tuple[str, ...] = (
    "sku", "product-id", "product-id-type", "price", "discount-price", "discount-start-date",
    "discount-end-date", "quantity", "state", "available-start-date", "available-end-date",
    "leadtime-to-ship", "ecotax", "update-delete",
)
# Our offer values that have no standard column (the guide's delivery terms and the parent
# product): each goes to the additional field the mapping names, if the shop declares it.
# (Whether an offer is delivered to relays is not sent: it says whether the relay terms are.)
MAPPABLE_VALUES: tuple[str, ...] = (
    "delivery_fee", "delivery_days_min", "delivery_days_max", "relay_fee", "relay_delay",
    "relay_days_min", "relay_days_max", "parent_sku",
)
# La Redoute's additional field codes for them (`OMS_OFFER_FIELD_MAP` replaces it).
DEFAULT_FIELD_MAP: dict[str, str] = {
    "delivery_fee": "delivery-fee",
    "delivery_days_min": "delivery-days-range-min",
    "delivery_days_max": "delivery-days-range-max",
    "relay_fee": "relay-fee",
    "relay_delay": "relay-delay",
    "relay_days_min": "relay-days-range-min",
    "relay_days_max": "relay-days-range-max",
    "parent_sku": "partner-product-parent",
}
# Relay delivery terms are sent only for an offer delivered to relays.
_RELAY_ONLY = frozenset({"relay_fee", "relay_delay", "relay_days_min", "relay_days_max"})
_MONEY_VALUES = frozenset({"delivery_fee", "relay_fee"})
_TEXT_VALUES = frozenset({"parent_sku"})
NEW_STATE = "11"

_CENT = Decimal("0.01")


def _money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)).quantize(_CENT):f}"


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _whole(value: Any) -> str:
    return "" if value is None or value == "" else str(int(value))


def _as_moment(today: datetime | date) -> datetime:
    if isinstance(today, datetime):
        return today if today.tzinfo is not None else today.replace(tzinfo=UTC)
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def _live_promotion(promotion: Mapping[str, Any] | None, now: datetime) -> Mapping[str, Any] | None:
    """The promotion, unless its end date has passed (then the regular prices are sent)."""
    if not promotion:
        return None
    end = promotion.get("end")
    if end and str(end) < now.astimezone(UTC).strftime(DATE_FORMAT):
        return None
    return promotion


def check_field_map(mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping of our offer values onto additional field codes, checked: known values,
    non-empty codes that are not standard columns, no code twice. ValueError otherwise."""
    checked: dict[str, str] = {}
    for name, code in mapping.items():
        if name not in MAPPABLE_VALUES:
            raise ValueError(f"{name!r} is not an offer value without a standard column; "
                             f"one of {', '.join(MAPPABLE_VALUES)}")
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"the additional field code of {name!r} is empty")
        code = code.strip()
        if code in STANDARD_COLUMNS:
            raise ValueError(f"{code!r} is a standard offer column, not an additional field")
        if code in checked.values():
            raise ValueError(f"the additional field {code!r} is mapped twice")
        checked[name] = code
    return checked


@dataclass(frozen=True)
class OfferColumns:
    """The columns of one file: the standard ones, then the mapped fields the shop declares.

    `fields` are the (value, additional field code) pairs sent; `left_out` the values that
    go nowhere, with the code they are mapped to (None when the mapping names none).
    """

    header: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    left_out: tuple[tuple[str, str | None], ...]


def offer_columns(declared: Collection[str],
                  field_map: Mapping[str, str] = DEFAULT_FIELD_MAP) -> OfferColumns:
    """The file's columns for a shop that declares these offer additional field codes."""
    codes = set(declared)
    fields = tuple((name, code) for name, code in field_map.items() if code in codes)
    left_out = tuple((name, field_map.get(name)) for name in MAPPABLE_VALUES
                     if field_map.get(name) not in codes)
    return OfferColumns(COLUMNS + tuple(code for _, code in fields), fields, left_out)


def _field_value(name: str, values: Mapping[str, Any]) -> str:
    if name in _RELAY_ONLY and not values.get("relay"):
        return ""
    value = values.get(name)
    if name in _MONEY_VALUES:
        return _money(value)
    if name in _TEXT_VALUES:
        return "" if value is None else str(value)
    return _whole(value)


def offer_line(offer: SendableOffer, today: datetime | date,
               columns: OfferColumns | None = None) -> list[str]:
    """The cells of one offer in the OF01 file, in the order of `columns` (the standard
    columns alone when not given).

    The price column is the price before any discount (the crossed-out price), the discount
    price the price the customer pays when it is lower: a promotion gives both with its
    dates; otherwise a crossed-out price above the price is a discount without dates.
    """
    columns = columns or offer_columns(())
    now = _as_moment(today)
    values = offer.values
    price, crossed = _amount(values.get("price")), _amount(values.get("crossed_price"))
    discount_start = discount_end = ""
    promotion = _live_promotion(offer.promotion, now)
    if promotion is not None:
        base, discount = _amount(promotion["crossed_price"]), _amount(promotion["price"])
        discount_start = str(promotion.get("start") or "")
        discount_end = str(promotion.get("end") or "")
    elif price is not None and crossed is not None and crossed > price:
        base, discount = crossed, price
    else:
        base, discount = price, None
    ean = values.get("ean") or ""
    start, end = values.get("period_start"), values.get("period_end")
    if not start or not end:
        default_start, default_end = default_period(now)
        start, end = start or default_start, end or default_end
    cells = {
        "sku": offer.sku,
        "product-id": ean or offer.sku,
        "product-id-type": "EAN" if ean else "SHOP_SKU",
        "price": _money(base),
        "discount-price": _money(discount),
        "discount-start-date": discount_start,
        "discount-end-date": discount_end,
        "quantity": _whole(values.get("quantity")),
        "state": NEW_STATE,
        "available-start-date": start,
        "available-end-date": end,
        "leadtime-to-ship": _whole(values.get("shipment_delay")),
        "ecotax": _money(values.get("eco_fee")),
        "update-delete": "update",
    }
    for name, code in columns.fields:
        cells[code] = _field_value(name, values)
    return [cells[name] for name in columns.header]


def build_offer_file(rows: Iterable[SendableOffer], today: datetime | date,
                     columns: OfferColumns | None = None) -> bytes:
    """The OF01 file (`;` separated, UTF-8, header first) of the valid offers among `rows`.

    An offer with errors is left out: the marketplace would refuse it, and its last valid
    values stay online. Quantity 0 is sent: it is how an offer is taken off the site.
    """
    columns = columns or offer_columns(())
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(columns.header)
    for row in rows:
        if row.errors:
            continue
        writer.writerow(offer_line(row, today, columns))
    return out.getvalue().encode("utf-8")


def parse_error_report(report: bytes) -> dict[str, str]:
    """OF03's lines in error: the marketplace's message per SKU (several joined by " | ")."""
    text = report.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    found: dict[str, list[str]] = {}
    for line in reader:
        sku = (line.get("sku") or "").strip()
        if not sku:
            continue
        message = (line.get("error-message") or "").strip() or "refused by the marketplace"
        found.setdefault(sku, [])
        if message not in found[sku]:
            found[sku].append(message)
    return {sku: " | ".join(messages) for sku, messages in found.items()}


__all__ = [
    "COLUMNS",
    "DEFAULT_FIELD_MAP",
    "MAPPABLE_VALUES",
    "STANDARD_COLUMNS",
    "OfferColumns",
    "build_offer_file",
    "check_field_map",
    "offer_columns",
    "offer_line",
    "parse_error_report",
]
