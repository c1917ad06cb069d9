"""La Redoute's offer files: the OF01 file we send and the OF03 error report we read back.

Columns and values are those of the Mirakl offer import (normal mode); an offer's fields
are ours (the seller guide's names, see `app.domain.offer`) and are translated here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.domain.offer import DATE_FORMAT, default_period
from app.ports.marketplace import SendableOffer

COLUMNS: tuple[str, ...] = (
    "sku", "product-id", "product-id-type", "price", "discount-price", "discount-start-date",
    "discount-end-date", "quantity", "state", "available-start-date", "available-end-date",
    "leadtime-to-ship", "ecotax", "update-delete", "delivery-fee", "delivery-days-range-min",
    "delivery-days-range-max", "relay-fee", "relay-delay", "relay-days-range-min",
    "relay-days-range-max", "partner-product-parent",
)
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


def offer_line(offer: SendableOffer, today: datetime | date) -> list[str]:
    """The cells of one offer in the OF01 file, in COLUMNS order.

    The price column is the price before any discount (the crossed-out price), the discount
    price the price the customer pays when it is lower: a promotion gives both with its
    dates; otherwise a crossed-out price above the price is a discount without dates.
    """
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
    parent = values.get("parent_sku") or ""
    start, end = values.get("period_start"), values.get("period_end")
    if not start or not end:
        default_start, default_end = default_period(now)
        start, end = start or default_start, end or default_end
    relay = bool(values.get("relay"))
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
        "delivery-fee": _money(values.get("delivery_fee")),
        "delivery-days-range-min": _whole(values.get("delivery_days_min")),
        "delivery-days-range-max": _whole(values.get("delivery_days_max")),
        # Relay delivery terms only for an offer delivered to relays.
        "relay-fee": _money(values.get("relay_fee")) if relay else "",
        "relay-delay": _whole(values.get("relay_delay")) if relay else "",
        "relay-days-range-min": _whole(values.get("relay_days_min")) if relay else "",
        "relay-days-range-max": _whole(values.get("relay_days_max")) if relay else "",
        "partner-product-parent": parent,
    }
    return [cells[name] for name in COLUMNS]


def build_offer_file(rows: Iterable[SendableOffer], today: datetime | date) -> bytes:
    """The OF01 file (`;` separated, UTF-8, header first) of the valid offers among `rows`.

    An offer with errors is left out: the marketplace would refuse it, and its last valid
    values stay online. Quantity 0 is sent: it is how an offer is taken off the site.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        if row.errors:
            continue
        writer.writerow(offer_line(row, today))
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


__all__ = ["COLUMNS", "build_offer_file", "offer_line", "parse_error_report"]
