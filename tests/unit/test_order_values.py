"""The values an order is imported with, and the dictionaries the Imported event records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.errors import RuleViolation
from app.domain.order import Customer, Delivery, NewLine, Order
from tests.unit.order_builders import SHIPPING, TUNIC_LINE, import_fields

RELAY = {
    "relay_id": "MR-059123",
    "relay_name": "Tabac de la Grand-Place",
    "relay_address": "12 Grand-Place, 59100 Roubaix",
}


def test_a_misspelt_field_is_refused_where_the_value_is_built() -> None:
    with pytest.raises(TypeError):
        Customer(first_name="Camille", last_name="Lefebvre", email="c@example.fr")  # type: ignore[call-arg]


def test_the_values_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        Customer("Camille", "Lefebvre", "c@example.fr")  # type: ignore[misc]


@pytest.mark.parametrize("missing", sorted(RELAY))
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_relay_delivery_names_its_relay(missing: str, blank: str | None) -> None:
    with pytest.raises(RuleViolation) as refused:
        Delivery(mode="relay", **{**RELAY, missing: blank})  # type: ignore[arg-type]

    assert (refused.value.field, refused.value.rule) == (f"delivery.{missing}", "required_for_relay")


def test_a_delivery_is_home_or_relay() -> None:
    with pytest.raises(RuleViolation) as refused:
        Delivery(mode="drone")  # type: ignore[arg-type]

    assert (refused.value.field, refused.value.rule) == ("delivery.mode", "delivery_mode")


def test_a_home_delivery_is_stored_with_no_relay() -> None:
    assert Delivery(mode="home", **RELAY).stored() == {  # type: ignore[arg-type]
        "mode": "home",
        "relay_id": None,
        "relay_name": None,
        "relay_address": None,
    }
    assert Delivery.relay(**RELAY).stored() == {"mode": "relay", **RELAY}


def test_the_imported_event_records_plain_dictionaries_under_the_stored_keys() -> None:
    """Projections and the history API read these keys from the log."""
    order = Order.import_(**import_fields())

    (imported,) = order.collect_events()
    data: dict[str, Any] = vars(imported)
    assert data["customer"] == {
        "firstname": "Camille",
        "lastname": "Lefebvre",
        "email": "camille.lefebvre@example.fr",
    }
    assert set(data["shipping_address"]) == {"street", "zip_code", "city", "country"}
    assert data["delivery"]["mode"] == "home"
    assert data["shipping_price"] == SHIPPING
    assert data["lines"][0] == {
        "line_id": TUNIC_LINE,
        "sku": "TUNIC-LIN-M",
        "ean": "3601234567890",
        "title": "Tunique en lin",
        "quantity": 2,
        "unit_price": Decimal("39.90"),
        "pricing": None,
    }
    assert data["pricing"] == {
        "currency": "EUR", "tax_mode": "TAX_INCLUDED", "total_commission": None,
    }
    assert order.customer == data["customer"]


@pytest.mark.parametrize("field", ["customer", "shipping_address", "delivery"])
def test_a_dictionary_in_place_of_a_value_is_refused(field: str) -> None:
    with pytest.raises(TypeError, match=field):
        Order.import_(**import_fields(**{field: {"mode": "home"}}))


def test_a_dictionary_in_place_of_a_line_is_refused() -> None:
    line = import_fields()["lines"][0]
    assert isinstance(line, NewLine)

    with pytest.raises(TypeError, match=r"lines\[1\]"):
        Order.import_(**import_fields(lines=[line, {"line_id": "L2"}]))
