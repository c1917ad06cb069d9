"""The Offer aggregate against La Redoute's rules (seller guide 2.2, 2.6, 2.11, 3.2, 4):
reading a source row, each blocking rule with its message, the events of each change, the
promotion and replaying the events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.domain.errors import RuleViolation
from app.domain.offer import (
    FIELDS,
    MAX_SKU_LENGTH,
    FieldError,
    Offer,
    check_offer,
    default_period,
    ean_is_valid,
    offer_id_for,
    read_fields,
)

EAN = "4006381333931"
EAN_2 = "5901234123457"
CHANNEL = "laredoute"


def check_digit(body: str) -> str:
    """The GS1 check digit of an EAN body, computed from the right: weights 3, 1, 3, ..."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def with_check(body: str) -> str:
    return body + check_digit(body)


def wrong_check(body: str) -> str:
    return body + str((int(check_digit(body)) + 1) % 10)


def row(**overrides: Any) -> dict[str, Any]:
    """A valid simple product's source row, as a CSV gives it (strings)."""
    raw: dict[str, Any] = {
        "ean": EAN, "price": "29.99", "crossed_price": "39.99", "quantity": "5",
        "delivery_fee": "4.90", "shipment_delay": "2", "delivery_days_min": "2",
        "delivery_days_max": "4", "eco_fee": "0.50",
        "period_start": "2026-01-01T00:00:00", "period_end": "2026-12-31T23:59:59",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def errors_of(sku: str = "SKU-1", **overrides: Any) -> list[FieldError]:
    values, read_errors = read_fields(row(**overrides))
    return read_errors + check_offer(sku, values)


def offer(sku: str = "SKU-1", **overrides: Any) -> Offer:
    values, errors = read_fields(row(**overrides))
    return Offer.register(channel=CHANNEL, sku=sku, values=values, errors=errors)


def event_names(o: Offer) -> list[str]:
    return [type(e).__name__ for e in o.collect_events()]


def fresh(sku: str = "SKU-1", **overrides: Any) -> Offer:
    """A registered offer whose Registered event was already collected."""
    o = offer(sku, **overrides)
    o.collect_events()
    return o


def update(o: Offer, **overrides: Any) -> bool:
    values, errors = read_fields(row(**overrides))
    return o.update(values, errors)


# ---------------------------------------------------------------- a valid offer


def test_a_complete_simple_product_has_no_errors() -> None:
    values, read_errors = read_fields(row())
    assert read_errors == []
    assert check_offer("SKU-1", values) == []
    assert values["price"] == Decimal("29.99")
    assert values["crossed_price"] == Decimal("39.99")
    assert values["quantity"] == 5
    assert values["relay"] is False
    assert set(values) == set(FIELDS)


# ---------------------------------------------------------------- price


def test_price_is_required() -> None:
    assert errors_of(price=...) == [
        FieldError("price", "required", "SellingPriceAmount is required: every offer needs a price")
    ]


def test_an_empty_price_cell_is_a_missing_price() -> None:
    assert [(e.field, e.rule) for e in errors_of(price="  ")] == [("price", "required")]


@pytest.mark.parametrize("price", ["0", "0.00", "-5"])
def test_price_must_be_above_zero(price: str) -> None:
    errors = errors_of(price=price, crossed_price=...)
    assert FieldError("price", "positive", "SellingPriceAmount must be above 0") in errors
    assert [e.field for e in errors] == ["price"]


# ---------------------------------------------------------------- delivery fee


def test_delivery_fee_is_required_or_the_export_is_blocked() -> None:
    assert errors_of(delivery_fee=...) == [
        FieldError("delivery_fee", "required",
                   "DeliveryFee is required: without it La Redoute blocks the export")
    ]


def test_a_free_delivery_is_allowed_but_not_a_negative_fee() -> None:
    assert errors_of(delivery_fee="0") == []
    assert errors_of(delivery_fee="-1") == [
        FieldError("delivery_fee", "non_negative", "DeliveryFee cannot be negative")
    ]


# ---------------------------------------------------------------- crossed-out price


def test_crossed_price_below_the_price_is_refused() -> None:
    assert errors_of(price="30.00", crossed_price="29.99") == [
        FieldError("crossed_price", "not_below_price",
                   "PrixBarre (29.99) must be at least SellingPriceAmount (30.00); "
                   "equal means no crossed-out price")
    ]


def test_crossed_price_equal_to_the_price_means_no_crossed_out_price() -> None:
    assert errors_of(price="30", crossed_price="30.00") == []


def test_a_missing_crossed_price_is_the_price() -> None:
    values, errors = read_fields(row(crossed_price=...))
    assert errors == []
    assert values["crossed_price"] == values["price"] == Decimal("29.99")
    assert check_offer("SKU-1", values) == []


def test_an_unreadable_crossed_price_is_not_replaced_by_the_price() -> None:
    values, errors = read_fields(row(crossed_price="n/a"))
    assert values["crossed_price"] is None
    assert [(e.field, e.rule) for e in errors] == [("crossed_price", "format")]


# ---------------------------------------------------------------- amounts


def test_an_amount_with_a_decimal_comma_is_read() -> None:
    values, errors = read_fields(row(price="10,50", crossed_price="12,5", delivery_fee="0,99"))
    assert errors == []
    assert values["price"] == Decimal("10.50")
    assert values["crossed_price"] == Decimal("12.50")
    assert values["delivery_fee"] == Decimal("0.99")


def test_amounts_from_json_numbers_are_read() -> None:
    values, errors = read_fields(row(price=10.5, crossed_price=12, delivery_fee=Decimal("3.9")))
    assert errors == []
    assert values["price"] == Decimal("10.50")
    assert values["crossed_price"] == Decimal("12.00")
    assert values["delivery_fee"] == Decimal("3.90")


@pytest.mark.parametrize("price", ["10.505", "10,505", 10.123])
def test_more_than_two_decimals_are_refused(price: Any) -> None:
    values, errors = read_fields(row(price=price))
    assert values["price"] is None
    assert errors == [FieldError("price", "format", "price has more than 2 decimal places")]


@pytest.mark.parametrize("price", ["abc", "1.000,50", "NaN", "Infinity", True, [1]])
def test_an_unreadable_amount_is_a_format_error(price: Any) -> None:
    values, errors = read_fields(row(price=price, crossed_price=...))
    assert values["price"] is None
    assert [(e.field, e.rule) for e in errors] == [("price", "format")]
    assert errors[0].message.startswith("price must be an amount in euros")


def test_an_unreadable_value_has_one_error_not_a_rule_error_too() -> None:
    """price 'abc' is None after reading: the offer says 'format', not also 'required'."""
    o = offer(price="abc", crossed_price=...)
    assert o.values["price"] is None
    assert o.errors == [{"field": "price", "rule": "format",
                         "message": "price must be an amount in euros, not 'abc'"}]


# ---------------------------------------------------------------- dates


def test_period_dates_in_the_guide_format_are_kept_as_written() -> None:
    values, errors = read_fields(row())
    assert errors == []
    assert values["period_start"] == "2026-01-01T00:00:00"
    assert values["period_end"] == "2026-12-31T23:59:59"


@pytest.mark.parametrize("date", [
    "2026-01-01", "2026-01-01 00:00:00", "01/01/2026", "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00+01:00", "2026-01-01T00:00", "2026-01-01T00:00:00.000", "tomorrow",
])
def test_other_date_formats_are_refused(date: str) -> None:
    values, errors = read_fields(row(period_start=date))
    assert values["period_start"] is None
    assert errors == [FieldError("period_start", "format",
                                 f"period_start must be written YYYY-MM-DDTHH:mm:ss, not {date!r}")]


@pytest.mark.parametrize("date", ["2026-02-30T00:00:00", "2026-13-01T00:00:00",
                                  "2026-01-01T24:00:00", "2026-01-01T12:60:00",
                                  "2025-02-29T00:00:00"])
def test_impossible_dates_are_refused(date: str) -> None:
    values, errors = read_fields(row(period_end=date))
    assert values["period_end"] is None
    assert errors == [FieldError("period_end", "format",
                                 f"period_end is not a real date: {date!r}")]


def test_a_leap_day_is_a_real_date() -> None:
    assert errors_of(period_start="2028-02-29T00:00:00", period_end="2028-03-01T00:00:00") == []


def test_the_period_cannot_end_before_it_starts() -> None:
    assert errors_of(period_start="2026-06-02T00:00:00", period_end="2026-06-01T23:59:59") == [
        FieldError("period_end", "after_start",
                   "OfferPeriodEndDate (2026-06-01T23:59:59) is before OfferPeriodStartDate "
                   "(2026-06-02T00:00:00)")
    ]


def test_a_period_of_one_instant_is_allowed() -> None:
    assert errors_of(period_start="2026-06-01T00:00:00", period_end="2026-06-01T00:00:00") == []


def test_missing_period_dates_stay_missing() -> None:
    values, errors = read_fields(row(period_start=..., period_end=...))
    assert errors == []
    assert values["period_start"] is None and values["period_end"] is None
    assert check_offer("SKU-1", values) == []


def test_the_default_period_is_today_midnight_to_a_year_later() -> None:
    assert default_period(datetime(2026, 11, 26, 9, 30, tzinfo=UTC)) == (
        "2026-11-26T00:00:00", "2027-11-26T00:00:00")


# ---------------------------------------------------------------- EAN


@pytest.mark.parametrize("ean", [
    "4006381333931", "5901234123457", "3600000000016", "0012345678905",
    with_check("376123456789"), with_check("301234567890"),
    "96385074", "73513537", with_check("5512345"),
])
def test_valid_eans(ean: str) -> None:
    assert ean_is_valid(ean)


@pytest.mark.parametrize("ean", [
    "4006381333932", "5901234123456", wrong_check("376123456789"),
    "96385075", wrong_check("5512345"),
    "400638133393", "40063813339311", "400638133393X", "", "9638507", "4006381 333931",
])
def test_invalid_eans(ean: str) -> None:
    assert not ean_is_valid(ean)


def test_an_ean_with_a_wrong_check_digit_is_an_error_on_the_offer() -> None:
    assert errors_of(ean="4006381333932") == [
        FieldError("ean", "ean_checksum",
                   "ProductIdentifier '4006381333932' is not a valid EAN (checksum)")
    ]


def test_an_ean_given_as_a_json_number_is_read_as_text() -> None:
    values, errors = read_fields(row(ean=4006381333931))
    assert errors == []
    assert values["ean"] == "4006381333931"


# ---------------------------------------------------------------- SKU


def test_a_sku_of_32_characters_is_allowed_33_is_not() -> None:
    assert MAX_SKU_LENGTH == 32
    assert errors_of("S" * 32) == []
    assert errors_of("S" * 33) == [
        FieldError("sku", "max_length",
                   "PartnerProductReference (SKU) has 33 characters; at most 32")
    ]


@pytest.mark.parametrize("sku", ["", "   "])
def test_an_offer_needs_a_sku(sku: str) -> None:
    values, errors = read_fields(row())
    with pytest.raises(RuleViolation) as raised:
        Offer.register(channel=CHANNEL, sku=sku, values=values, errors=errors)
    assert (raised.value.field, raised.value.rule) == ("sku", "required")


def test_the_offer_id_is_the_channel_and_the_sku() -> None:
    assert Offer.create_id(CHANNEL, "A") == offer_id_for(CHANNEL, "A") == offer("A").id
    assert offer_id_for(CHANNEL, "A") != offer_id_for("labrandboutique", "A")
    assert offer_id_for(CHANNEL, "A") != offer_id_for(CHANNEL, "B")


# ---------------------------------------------------------------- quantity


@pytest.mark.parametrize("quantity, expected", [("0", 0), ("12", 12), (7, 7), (" 3 ", 3)])
def test_quantity_is_a_whole_number(quantity: Any, expected: int) -> None:
    values, errors = read_fields(row(quantity=quantity))
    assert errors == []
    assert values["quantity"] == expected


@pytest.mark.parametrize("quantity", ["1.5", 1.5, "abc", True, False, "1e3", 2.0])
def test_quantity_that_is_not_a_whole_number_is_a_format_error(quantity: Any) -> None:
    values, errors = read_fields(row(quantity=quantity))
    assert values["quantity"] is None
    assert [(e.field, e.rule) for e in errors] == [("quantity", "format")]
    assert errors[0].message.startswith("quantity must be a whole number")


@pytest.mark.parametrize("quantity", ["-1", -1])
def test_a_negative_quantity_is_refused(quantity: Any) -> None:
    assert errors_of(quantity=quantity) == [
        FieldError("quantity", "non_negative", "quantity must be a whole number of 0 or more")
    ]


def test_quantity_is_required() -> None:
    assert errors_of(quantity=...) == [
        FieldError("quantity", "required", "quantity is required (0 unpublishes the offer)")
    ]


def test_quantity_zero_is_valid_and_unpublished() -> None:
    o = offer(quantity="0")
    assert o.valid and not o.published


def test_set_quantity_refuses_what_is_not_a_whole_number() -> None:
    o = fresh()
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(RuleViolation):
            o.set_quantity(bad)  # type: ignore[arg-type]
    assert event_names(o) == []


# ---------------------------------------------------------------- eco fee


def test_the_eco_fee_is_kept_apart_from_the_price() -> None:
    values, _ = read_fields(row(price="100.00", crossed_price=..., eco_fee="6.50"))
    assert values["price"] == Decimal("100.00")
    assert values["eco_fee"] == Decimal("6.50")
    assert check_offer("SKU-1", values) == []


def test_the_eco_fee_is_optional_but_not_negative() -> None:
    assert errors_of(eco_fee=...) == []
    assert errors_of(eco_fee="0") == []
    assert errors_of(eco_fee="-0.01") == [
        FieldError("eco_fee", "non_negative", "SellingPriceWEEEFee cannot be negative")
    ]


# ---------------------------------------------------------------- simple, parent, child


def test_a_simple_product_needs_an_ean() -> None:
    assert errors_of(ean=...) == [
        FieldError("ean", "required",
                   "ProductIdentifier (EAN) is required for a simple or child product")
    ]


def test_a_parent_product_has_no_ean() -> None:
    assert errors_of("TUNIC", ean=..., parent_sku="TUNIC") == []
    assert errors_of("TUNIC", parent_sku="TUNIC") == [
        FieldError("ean", "empty_for_parent",
                   "ProductIdentifier must be empty for a parent product "
                   "(PartnerProductParent = PartnerProductReference)")
    ]


def test_a_child_product_names_its_parent_and_has_an_ean() -> None:
    assert errors_of("TUNIC-38", parent_sku="TUNIC") == []
    assert [(e.field, e.rule) for e in errors_of("TUNIC-38", parent_sku="TUNIC", ean=...)] == [
        ("ean", "required")]
    assert [(e.field, e.rule) for e in errors_of("TUNIC-38", parent_sku="TUNIC",
                                                 ean="4006381333932")] == [("ean", "ean_checksum")]


# ---------------------------------------------------------------- delivery and relay


def test_delivery_days_range_must_be_in_order() -> None:
    assert errors_of(delivery_days_min="5", delivery_days_max="3") == [
        FieldError("delivery_days_max", "range",
                   "delivery_days_max (3) is below delivery_days_min (5)")
    ]
    assert errors_of(delivery_days_min="3", delivery_days_max="3") == []


def test_delays_cannot_be_negative() -> None:
    assert errors_of(shipment_delay="-1") == [
        FieldError("shipment_delay", "non_negative", "shipment_delay cannot be negative")
    ]


def relay_row(**overrides: Any) -> dict[str, Any]:
    return {"relay": "1", "relay_fee": "2.90", "relay_delay": "1", "relay_days_min": "3",
            "relay_days_max": "5", **overrides}


def test_relay_delivery_with_its_fields_is_valid() -> None:
    values, errors = read_fields(row(**relay_row()))
    assert errors == []
    assert values["relay"] is True and values["relay_fee"] == Decimal("2.90")
    assert check_offer("SKU-1", values) == []


def test_relay_delivery_needs_a_relay_fee() -> None:
    assert errors_of(**relay_row(relay_fee=...)) == [
        FieldError("relay_fee", "required_for_relay", "RelayFee is required for relay delivery")
    ]


def test_relay_days_range_must_be_in_order() -> None:
    assert errors_of(**relay_row(relay_days_min="6", relay_days_max="5")) == [
        FieldError("relay_days_max", "range", "relay_days_max (5) is below relay_days_min (6)")
    ]


def test_without_relay_the_relay_fields_are_not_required() -> None:
    assert errors_of(relay="0") == []
    assert errors_of(relay="false", relay_days_min="6", relay_days_max="5") == []


def test_the_relay_fee_cannot_be_negative() -> None:
    assert errors_of(**relay_row(relay_fee="-1")) == [
        FieldError("relay_fee", "non_negative", "relay_fee cannot be negative")
    ]


@pytest.mark.parametrize("text, expected", [("1", True), ("true", True), ("OUI", True),
                                            ("yes", True), ("0", False), ("non", False),
                                            (True, True), (False, False)])
def test_relay_flags(text: Any, expected: bool) -> None:
    values, errors = read_fields(row(**relay_row(relay=text)))
    assert errors == []
    assert values["relay"] is expected


def test_an_unreadable_relay_flag_is_a_format_error() -> None:
    values, errors = read_fields(row(relay="maybe"))
    assert values["relay"] is False  # not relay delivery until it is readable
    assert errors == [FieldError("relay", "format", "relay must be true or false, not 'maybe'")]


def test_several_broken_rules_are_all_reported() -> None:
    o = offer("S" * 40, price="0", delivery_fee=..., quantity="-2", ean="123")
    assert [(e["field"], e["rule"]) for e in o.errors] == [
        ("sku", "max_length"), ("price", "positive"), ("delivery_fee", "required"),
        ("quantity", "non_negative"), ("ean", "ean_checksum"),
    ]


# ---------------------------------------------------------------- events


def test_registering_records_one_registered_event_with_the_errors() -> None:
    o = offer(price="abc", crossed_price=..., delivery_fee=...)
    assert event_names(o) == ["Registered"]
    assert o.version == 1
    assert not o.valid
    assert [(e["field"], e["rule"]) for e in o.errors] == [("price", "format"),
                                                           ("delivery_fee", "required")]


def test_an_update_with_the_same_values_records_nothing() -> None:
    o = fresh()
    assert update(o) is False
    assert event_names(o) == []
    assert o.version == 1


def test_the_same_values_written_differently_are_the_same_offer() -> None:
    o = fresh()
    assert update(o, price="29,99", quantity=5, delivery_fee=" 4.9 ") is False
    assert event_names(o) == []


@pytest.mark.parametrize("changes, expected", [
    ({"price": "24.99"}, "PriceChanged"),
    ({"crossed_price": "49.99"}, "PriceChanged"),
    ({"eco_fee": "1.00"}, "PriceChanged"),
    ({"quantity": "12"}, "StockChanged"),
    ({"delivery_fee": "0"}, "DeliveryTermsChanged"),
    ({"shipment_delay": "3"}, "DeliveryTermsChanged"),
    ({"delivery_days_max": "6"}, "DeliveryTermsChanged"),
    ({"relay": "1", "relay_fee": "3.00"}, "DeliveryTermsChanged"),
    ({"period_end": "2027-01-01T00:00:00"}, "PeriodChanged"),
    ({"ean": EAN_2}, "ProductChanged"),
    ({"parent_sku": "PARENT"}, "ProductChanged"),
])
def test_each_kind_of_change_is_one_event(changes: dict[str, Any], expected: str) -> None:
    o = fresh()
    assert update(o, **changes) is True
    assert event_names(o) == [expected]
    assert o.version == 2


def test_changes_of_several_kinds_are_one_event_each() -> None:
    o = fresh()
    update(o, price="19.99", crossed_price="29.99", quantity="3", delivery_fee="5.90",
           period_start="2026-02-01T00:00:00", ean=EAN_2)
    assert event_names(o) == ["ProductChanged", "PriceChanged", "DeliveryTermsChanged",
                              "PeriodChanged", "StockChanged"]
    assert o.values["price"] == Decimal("19.99") and o.values["quantity"] == 3
    assert o.values["ean"] == EAN_2 and o.values["delivery_fee"] == Decimal("5.90")


def test_quantity_to_zero_unpublishes_and_back_republishes() -> None:
    o = fresh()
    update(o, quantity="0")
    [unpublished] = o.collect_events()
    assert type(unpublished).__name__ == "Unpublished"
    assert unpublished.previous_quantity == 5
    assert not o.published and o.values["quantity"] == 0
    update(o, quantity="0")
    assert event_names(o) == []
    update(o, quantity="8")
    assert event_names(o) == ["Republished"]
    assert o.published and o.values["quantity"] == 8


def test_unpublish_keeps_the_offer_with_quantity_zero() -> None:
    o = fresh()
    o.unpublish()
    assert event_names(o) == ["Unpublished"]
    assert o.values["quantity"] == 0 and o.values["price"] == Decimal("29.99")
    o.unpublish()
    assert event_names(o) == []


def test_validation_changed_only_when_the_errors_change() -> None:
    o = fresh()
    update(o, delivery_fee=...)
    assert event_names(o) == ["DeliveryTermsChanged", "ValidationChanged"]
    assert [(e["field"], e["rule"]) for e in o.errors] == [("delivery_fee", "required")]
    update(o, delivery_fee=..., price="25.00")  # still the same error
    assert event_names(o) == ["PriceChanged"]
    update(o, delivery_fee="4.90", price="25.00")
    assert event_names(o) == ["DeliveryTermsChanged", "ValidationChanged"]
    assert o.errors == [] and o.valid


def test_an_unreadable_value_replacing_a_good_one_is_a_change_with_its_error() -> None:
    o = fresh()
    update(o, price="abc", crossed_price=...)
    assert event_names(o) == ["PriceChanged", "ValidationChanged"]
    assert o.values["price"] is None
    assert o.errors == [{"field": "price", "rule": "format",
                         "message": "price must be an amount in euros, not 'abc'"}]


def test_unpublishing_keeps_the_format_errors_of_other_fields() -> None:
    o = fresh(price="abc", crossed_price=...)
    o.unpublish()
    assert event_names(o) == ["Unpublished"]
    assert [(e["field"], e["rule"]) for e in o.errors] == [("price", "format")]


def test_unpublishing_an_unreadable_quantity_clears_its_error() -> None:
    o = fresh(quantity="lots")
    assert [(e["field"], e["rule"]) for e in o.errors] == [("quantity", "format")]
    o.set_quantity(0)
    assert event_names(o) == ["StockChanged", "ValidationChanged"]
    assert o.errors == [] and o.values["quantity"] == 0


# ---------------------------------------------------------------- promotion


def promote(o: Offer, price: str = "19.99", crossed: str = "29.99",
            start: str | None = "2026-11-27T00:00:00",
            end: str | None = "2026-11-30T23:59:59") -> None:
    o.set_promotion(price=Decimal(price), crossed_price=Decimal(crossed), start=start, end=end)


def test_a_promotion_is_set_and_ended() -> None:
    o = fresh()
    promote(o)
    assert event_names(o) == ["PromotionSet"]
    assert o.promotion == {"price": Decimal("19.99"), "crossed_price": Decimal("29.99"),
                           "start": "2026-11-27T00:00:00", "end": "2026-11-30T23:59:59"}
    promote(o)  # the same promotion again
    assert event_names(o) == []
    o.end_promotion()
    assert event_names(o) == ["PromotionEnded"]
    assert o.promotion is None


def test_a_promotion_without_dates() -> None:
    o = fresh()
    promote(o, start=None, end=None)
    assert event_names(o) == ["PromotionSet"]


@pytest.mark.parametrize("price, crossed", [("29.99", "29.99"), ("30.00", "29.99")])
def test_the_promotional_price_must_be_below_the_crossed_price(price: str, crossed: str) -> None:
    o = fresh()
    with pytest.raises(RuleViolation) as raised:
        promote(o, price, crossed)
    assert (raised.value.field, raised.value.rule) == ("crossed_price", "above_price")
    assert raised.value.message == "PrixBarre must be above the promotional SellingPriceAmount"
    assert o.promotion is None and event_names(o) == []


def test_the_promotional_price_must_be_above_zero() -> None:
    with pytest.raises(RuleViolation) as raised:
        promote(fresh(), "0", "10")
    assert (raised.value.field, raised.value.rule) == ("price", "positive")


@pytest.mark.parametrize("field, start, end", [
    ("start", "2026-11-27", None), ("end", None, "27/11/2026"),
    ("start", "2026-11-27T00:00:00Z", None), ("start", "2026-02-30T00:00:00", None),
    ("end", None, "2026-11-31T00:00:00"),
])
def test_promotion_dates_must_be_real_guide_dates(field: str, start: str | None,
                                                   end: str | None) -> None:
    with pytest.raises(RuleViolation) as raised:
        promote(fresh(), start=start, end=end)
    assert (raised.value.field, raised.value.rule) == (field, "date_format")


def test_a_promotion_cannot_end_before_it_starts() -> None:
    with pytest.raises(RuleViolation) as raised:
        promote(fresh(), start="2026-12-01T00:00:00", end="2026-11-30T00:00:00")
    assert (raised.value.field, raised.value.rule) == ("end", "after_start")


def test_ending_a_promotion_needs_one() -> None:
    o = fresh()
    with pytest.raises(RuleViolation) as raised:
        o.end_promotion()
    assert (raised.value.field, raised.value.rule) == ("promotion", "none")


def test_joining_an_operation_records_its_batch_id() -> None:
    o = fresh()
    o.join_operation(operation="BlackFriday", batch_id="4242")
    assert event_names(o) == ["OperationJoined"]
    assert o.operation == {"name": "BlackFriday", "batch_id": "4242"}


# ---------------------------------------------------------------- replay


def state(o: Offer) -> tuple[Any, ...]:
    return (o.id, o.version, o.channel, o.sku, o.values, o.errors, o.promotion, o.operation,
            o.published, o.valid)


def test_replaying_the_events_gives_the_same_offer() -> None:
    o = offer(delivery_fee=...)
    update(o, price="24.99", quantity="0", delivery_fee="3.90", ean=EAN_2)
    update(o, quantity="4", period_end="2027-06-30T00:00:00", **relay_row())
    promote(o)
    o.end_promotion()
    promote(o, "9.99", "14.99", None, None)
    o.join_operation(operation="Rush", batch_id="77")
    update(o, price="x", quantity="4", period_end="2027-06-30T00:00:00", **relay_row())
    events = o.collect_events()
    assert len(events) == o.version
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert state(replayed) == state(o)
