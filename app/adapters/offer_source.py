"""Reading a merchant's offer source: CSV (the seller guide's column names or ours, `;` or
`,`) or a JSON array of objects, into rows keyed by our field names."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from app.domain.offer import FIELDS


class SourceError(ValueError):
    """The source as a whole cannot be read: where, and which rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


# Source column names of the seller guide (Lengow's La Redoute feed) and ours.
GUIDE_COLUMNS = {
    "productidentifier": "ean", "partnerproductreference": "sku",
    "partnerproductparent": "parent_sku", "sellingpriceamount": "price",
    "prixbarre": "crossed_price", "quantity": "quantity", "deliveryfee": "delivery_fee",
    "shipmentdelay": "shipment_delay", "deliverydaysrangemin": "delivery_days_min",
    "deliverydaysrangemax": "delivery_days_max", "deliveryrelay": "relay",
    "relayfee": "relay_fee", "relaydelay": "relay_delay", "relaydaysrangemin": "relay_days_min",
    "relaydaysrangemax": "relay_days_max", "sellingpriceweeefee": "eco_fee",
    "sellingpriceweefee": "eco_fee", "offerperiodstartdate": "period_start",
    "offerperiodenddate": "period_end",
}




def read_source(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Rows of a source sent as `content_type` (application/json or text/csv)."""
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError("body", "json", f"the body is not JSON: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SourceError("body", "array_of_objects",
                              "a JSON source is an array of offer objects")
        return [_renamed(r) for r in data]
    if content_type in ("text/csv", "application/csv", "text/plain"):
        return read_csv(body)
    raise SourceError("Content-Type", "csv_or_json", "send text/csv or application/json")


def read_csv(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("body", "utf8", "the CSV source must be UTF-8") from None
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames or "sku" not in {_column(c) for c in reader.fieldnames}:
        raise SourceError("body", "sku_column",
                          "the CSV header must name PartnerProductReference (or sku)")
    return [_renamed(row) for row in reader]


def _column(name: str | None) -> str:
    key = (name or "").strip()
    return GUIDE_COLUMNS.get(key.lower().replace("_", "").replace(" ", ""), key)


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = _column(name)
        if column in FIELDS or column == "sku":
            out[column] = value
    return out


__all__ = ["GUIDE_COLUMNS", "SourceError", "read_csv", "read_source"]
