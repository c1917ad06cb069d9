"""The OF01 file the offer feed sends: columns, prices, promotion, defaults, quantity 0."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from app.adapters.laredoute.offer_files import (
    DEFAULT_FIELD_MAP,
    build_offer_file,
    offer_columns,
    parse_error_report,
)
from app.domain.offer import Offer, read_fields
from app.projections.offers import OfferRow

TODAY = datetime(2026, 6, 10, 14, 30, tzinfo=UTC)
HEADER = (
    "sku;product-id;product-id-type;price;discount-price;discount-start-date;discount-end-date;"
    "quantity;state;available-start-date;available-end-date;leadtime-to-ship;ecotax;"
    "update-delete;delivery-fee;delivery-days-range-min;delivery-days-range-max;relay-fee;"
    "relay-delay;relay-days-range-min;relay-days-range-max;partner-product-parent"
)


# A shop declaring every additional field La Redoute's mapping targets.
LA_REDOUTE = offer_columns(DEFAULT_FIELD_MAP.values())


def build(rows: list[OfferRow], today: datetime) -> bytes:
    return build_offer_file(rows, today, LA_REDOUTE)


def row(sku: str = "SKU-1", *, promotion: dict[str, Any] | None = None,
        errors: list[dict[str, str]] | None = None, **values: Any) -> OfferRow:
    """A read model row: values as the projection keeps them (money as strings)."""
    base: dict[str, Any] = {
        "ean": "3601234567894", "parent_sku": None, "price": "19.90", "crossed_price": "19.90",
        "eco_fee": None, "quantity": 5, "delivery_fee": "4.90", "shipment_delay": 2,
        "delivery_days_min": 2, "delivery_days_max": 4, "relay": False, "relay_fee": None,
        "relay_delay": None, "relay_days_min": None, "relay_days_max": None,
        "period_start": "2026-01-01T00:00:00", "period_end": "2026-12-31T23:59:59",
    }
    base.update(values)
    return OfferRow(offer_id=uuid4(), channel="laredoute", sku=sku, values=base,
                    errors=errors or [], promotion=promotion, operation=None, version=1,
                    sync_state="pending", sent_version=None, import_id=None,
                    marketplace_message=None)


def lines(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    assert reader.fieldnames == list(LA_REDOUTE.header)
    return list(reader)


def test_header_is_the_agreed_columns_in_order() -> None:
    content = build([], TODAY)
    assert content == (HEADER + "\n").encode()
    assert ";".join(LA_REDOUTE.header) == HEADER


def test_a_simple_offer() -> None:
    (line,) = lines(build([row(eco_fee="0.5")], TODAY))
    assert line == {
        "sku": "SKU-1", "product-id": "3601234567894", "product-id-type": "EAN",
        "price": "19.90", "discount-price": "", "discount-start-date": "",
        "discount-end-date": "", "quantity": "5", "state": "11",
        "available-start-date": "2026-01-01T00:00:00",
        "available-end-date": "2026-12-31T23:59:59", "leadtime-to-ship": "2",
        "ecotax": "0.50", "update-delete": "update", "delivery-fee": "4.90",
        "delivery-days-range-min": "2", "delivery-days-range-max": "4", "relay-fee": "",
        "relay-delay": "", "relay-days-range-min": "", "relay-days-range-max": "",
        "partner-product-parent": "",
    }


def test_money_has_a_point_and_two_decimals() -> None:
    (line,) = lines(build([row(price="20", crossed_price="20", delivery_fee="0",
                                          eco_fee="1.5")], TODAY))
    assert (line["price"], line["delivery-fee"], line["ecotax"]) == ("20.00", "0.00", "1.50")


def test_crossed_price_above_price_is_a_discount() -> None:
    (line,) = lines(build([row(price="15.00", crossed_price="19.90")], TODAY))
    assert line["price"] == "19.90"
    assert line["discount-price"] == "15.00"
    assert line["discount-start-date"] == line["discount-end-date"] == ""


def test_crossed_price_equal_to_price_is_no_discount() -> None:
    (line,) = lines(build([row(price="19.90", crossed_price="19.90")], TODAY))
    assert (line["price"], line["discount-price"]) == ("19.90", "")


def test_promotion_gives_discount_price_and_dates() -> None:
    promotion = {"price": "12.00", "crossed_price": "24.00", "start": "2026-06-01T00:00:00",
                 "end": "2026-06-30T23:59:59"}
    (line,) = lines(build([row(promotion=promotion)], TODAY))
    assert line["price"] == "24.00"
    assert line["discount-price"] == "12.00"
    assert line["discount-start-date"] == "2026-06-01T00:00:00"
    assert line["discount-end-date"] == "2026-06-30T23:59:59"


def test_promotion_without_dates() -> None:
    promotion = {"price": "12.00", "crossed_price": "24.00", "start": None, "end": None}
    (line,) = lines(build([row(promotion=promotion)], TODAY))
    assert (line["price"], line["discount-price"]) == ("24.00", "12.00")
    assert line["discount-start-date"] == line["discount-end-date"] == ""


def test_a_promotion_already_over_sends_the_regular_prices() -> None:
    promotion = {"price": "12.00", "crossed_price": "24.00", "start": "2026-05-01T00:00:00",
                 "end": "2026-05-31T23:59:59"}
    (line,) = lines(build([row(promotion=promotion, price="18.00",
                                          crossed_price="20.00")], TODAY))
    assert (line["price"], line["discount-price"]) == ("20.00", "18.00")
    assert line["discount-start-date"] == line["discount-end-date"] == ""


def test_missing_period_dates_default_to_today_and_a_year() -> None:
    (line,) = lines(build([row(period_start=None, period_end=None)], TODAY))
    assert line["available-start-date"] == "2026-06-10T00:00:00"
    assert line["available-end-date"] == "2027-06-10T00:00:00"


def test_one_missing_period_date_takes_its_default_alone() -> None:
    (line,) = lines(build([row(period_start="2026-02-01T00:00:00", period_end=None)],
                                     TODAY))
    assert line["available-start-date"] == "2026-02-01T00:00:00"
    assert line["available-end-date"] == "2027-06-10T00:00:00"


def test_quantity_zero_is_sent() -> None:
    (line,) = lines(build([row(quantity=0)], TODAY))
    assert line["quantity"] == "0"


def test_offers_with_errors_are_left_out() -> None:
    broken = row("BROKEN", delivery_fee=None,
                 errors=[{"field": "delivery_fee", "rule": "required", "message": "required"}])
    content = build([row("A"), broken, row("B", quantity=0)], TODAY)
    assert [line["sku"] for line in lines(content)] == ["A", "B"]


def test_parent_product_is_sent_by_its_sku() -> None:
    (parent, child) = lines(build([
        row("PARENT-1", ean=None, parent_sku="PARENT-1"),
        row("CHILD-1", parent_sku="PARENT-1"),
    ], TODAY))
    assert (parent["product-id"], parent["product-id-type"]) == ("PARENT-1", "SHOP_SKU")
    assert parent["partner-product-parent"] == "PARENT-1"
    assert (child["product-id"], child["product-id-type"]) == ("3601234567894", "EAN")
    assert child["partner-product-parent"] == "PARENT-1"


def test_relay_terms_only_for_relay_delivery() -> None:
    relay = row("R", relay=True, relay_fee="2.5", relay_delay=3, relay_days_min=3,
                relay_days_max=6)
    home = row("H", relay=False, relay_fee="2.5", relay_delay=3)
    (r, h) = lines(build([relay, home], TODAY))
    assert (r["relay-fee"], r["relay-delay"], r["relay-days-range-min"],
            r["relay-days-range-max"]) == ("2.50", "3", "3", "6")
    assert (h["relay-fee"], h["relay-delay"]) == ("", "")


def test_cells_with_separators_are_quoted() -> None:
    content = build([row('SKU;"1"')], TODAY)
    (line,) = lines(content)
    assert line["sku"] == 'SKU;"1"'


def test_the_aggregate_gives_the_same_line_as_its_read_model_row() -> None:
    raw = {"ean": "3601234567894", "price": "15", "crossed_price": "19.90", "quantity": "0",
           "delivery_fee": "4.90", "shipment_delay": "2", "eco_fee": "0.30"}
    values, errors = read_fields(raw)
    offer = Offer.register(channel="laredoute", sku="AGG-1", values=values, errors=errors)
    offer.set_promotion(price=Decimal("9.99"), crossed_price=Decimal("19.90"), start=None,
                        end="2026-07-01T00:00:00")
    assert not offer.errors
    as_row = row("AGG-1", price="15.00", crossed_price="19.90", quantity=0,
                 delivery_fee="4.90", shipment_delay=2, eco_fee="0.30", delivery_days_min=None,
                 delivery_days_max=None, period_start=None, period_end=None,
                 promotion={"price": "9.99", "crossed_price": "19.90", "start": None,
                            "end": "2026-07-01T00:00:00"})
    assert build([offer], TODAY) == build([as_row], TODAY)
    (line,) = lines(build([offer], TODAY))
    assert (line["price"], line["discount-price"], line["quantity"]) == ("19.90", "9.99", "0")


def test_error_report_gives_the_message_per_sku() -> None:
    report = (HEADER + ";error-line;error-message\n"
              "A;3601234567894;EAN;19.90;;;;5;11;;;;;update;4.90;;;;;;;;1;product not found\n"
              "C;3601234567894;EAN;19.90;;;;5;11;;;;;update;;;;;;;;;3;DeliveryFee is required\n"
              ).encode()
    assert parse_error_report(report) == {"A": "product not found",
                                          "C": "DeliveryFee is required"}
