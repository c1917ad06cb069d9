"""Mirakl orders read into our import fields and into the view the sync reconciles with."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from app.adapters.laredoute import (
    is_known_order_state,
    order_status,
    parse_order,
    refund_status,
    view_order,
)
from app.adapters.laredoute.mapping import marketplace_flags
from app.domain.order import (
    Address,
    Customer,
    CustomerDetails,
    Delivery,
    FullAddress,
    MarketplaceFlags,
    NewLine,
    Order,
    OrderStatus,
    RefundStatus,
)
from app.domain.order_money import LinePricing, OrderPricing, TaxMode
from app.ports.marketplace import MarketplaceShipping, UnparsableOrder

ORDER_ID = "LR-20261126-A"


def mirakl_line(index: int, **overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "order_line_id": f"{ORDER_ID}-{index}",
        "order_line_index": index,
        "order_line_state": "WAITING_ACCEPTANCE",
        "offer_sku": "TUNIC-LIN-38",
        "product_sku": "PRD-TUNIC-LIN",
        "product_title": "Tunique en lin",
        "quantity": 2,
        "price_unit": Decimal("29.99"),
        "price": Decimal("59.98"),
        "shipping_price": Decimal("4.90"),
        "order_line_additional_fields": [
            {"code": "colour", "type": "STRING", "value": "écru"},
            {"code": "ean", "type": "STRING", "value": "3600000000017"},
        ],
        "cancelations": [],
        "refunds": [],
        "created_date": "2026-11-26T08:30:00Z",
        "last_updated_date": "2026-11-26T08:30:00Z",
    }
    line.update(overrides)
    return line


def mirakl_order(**overrides: Any) -> dict[str, Any]:
    """An OR11 order as the marketplace sends it (the fields our mapping reads, and a few more)."""
    order: dict[str, Any] = {
        "order_id": ORDER_ID,
        "commercial_id": "LR-20261126",
        "channel": {"code": "LAREDOUTE", "label": "La Redoute"},
        "order_state": "WAITING_ACCEPTANCE",
        "created_date": "2026-11-26T08:30:00Z",
        "last_updated_date": "2026-11-26T08:31:00Z",
        "customer_notification_email": "amelie.durand@example.fr",
        "customer": {
            "customer_id": "C-4711",
            "firstname": "Amélie",
            "lastname": "Durand",
            "locale": "fr_FR",
            "shipping_address": {
                "firstname": "Amélie",
                "lastname": "Durand",
                "street_1": "12 rue de la Gare",
                "zip_code": "59100",
                "city": "Roubaix",
                "country": "France",
                "country_iso_code": "FRA",
            },
        },
        "shipping_type_code": "HOME",
        "shipping_type_label": "Livraison à domicile",
        "shipping_price": Decimal("4.90"),
        "currency_iso_code": "EUR",
        "order_lines": [
            mirakl_line(1),
            mirakl_line(
                2,
                offer_sku="SCARF-SILK",
                product_sku="PRD-SCARF",
                product_title="Foulard en soie",
                quantity=1,
                price_unit=Decimal("15.00"),
                price=Decimal("15.00"),
                shipping_price=Decimal("0.00"),
                order_line_additional_fields=[
                    {"code": "ean", "type": "STRING", "value": "3600000000024"}
                ],
            ),
        ],
    }
    order.update(overrides)
    return order


def relay_order() -> dict[str, Any]:
    order = mirakl_order(shipping_type_code="RELAY", shipping_pudo_id="PUDO-59100-0042")
    order["customer"]["shipping_address"].update(
        company="Tabac de la Gare", street_1="3 place de la Liberté", zip_code="59100",
        city="Roubaix",
    )  # fmt: skip
    return order


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as entries:
            yield entries
    finally:
        structlog.configure(wrapper_class=wrapper)


# ---------------------------------------------------------------- states


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("WAITING_ACCEPTANCE", OrderStatus.CREATED),
        ("WAITING_DEBIT", OrderStatus.ACCEPTED),
        ("WAITING_DEBIT_PAYMENT", OrderStatus.ACCEPTED),
        ("SHIPPING", OrderStatus.TOSHIP),
        ("SHIPPED", OrderStatus.SHIPPED),
        ("TO_COLLECT", OrderStatus.SHIPPED),
        ("RECEIVED", OrderStatus.SHIPPED),
        ("CLOSED", OrderStatus.PAID),
        ("REFUSED", OrderStatus.REFUSED),
        ("CANCELED", OrderStatus.CANCELED),
    ],
)
def test_each_order_state_has_the_seller_guides_status(state: str, status: OrderStatus) -> None:
    assert order_status(state) is status
    assert is_known_order_state(state)


def test_staging_orders_are_known_but_have_no_status_yet(logs: list[dict[str, Any]]) -> None:
    """Not yet visible to sellers: skipped quietly, unlike an unknown state."""
    assert order_status("STAGING") is None
    assert is_known_order_state("STAGING")
    assert logs == []


def test_an_unknown_order_state_has_no_status_and_is_reported(
    logs: list[dict[str, Any]],
) -> None:
    assert order_status("INCIDENT_OPEN") is None
    assert not is_known_order_state("INCIDENT_OPEN")
    assert [(e["event"], e["state"], e["log_level"]) for e in logs] == [
        ("mirakl_unknown_order_state", "INCIDENT_OPEN", "warning")
    ]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("WAITING_REFUND_TAX_CONFIRMATION", RefundStatus.TO_APPROVE),
        ("WAITING_REFUND", RefundStatus.TO_APPROVE),
        ("WAITING_REFUND_PAYMENT", RefundStatus.REFUNDING),
        ("REFUNDED", RefundStatus.REFUNDED),
        ("REFUSED", RefundStatus.REFUND_REFUSED),
    ],
)
def test_each_refund_state_has_our_refund_status(state: str, status: RefundStatus) -> None:
    assert refund_status(state) is status


def test_an_unknown_refund_state_has_no_status_and_is_reported(
    logs: list[dict[str, Any]],
) -> None:
    assert refund_status("REFUND_DISPUTED") is None
    assert [(e["event"], e["refund_state"]) for e in logs] == [
        ("mirakl_unknown_refund_state", "REFUND_DISPUTED")
    ]


# ---------------------------------------------------------------- parse_order


def test_a_home_order_gives_exactly_the_import_fields() -> None:
    fields = parse_order(mirakl_order(), "laredoute")

    assert fields == {
        "channel": "laredoute",
        "marketplace_order_id": ORDER_ID,
        "created_at": datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
        "customer": Customer(
            firstname="Amélie",
            lastname="Durand",
            email="amelie.durand@example.fr",
        ),
        "shipping_address": Address(
            street="12 rue de la Gare",
            zip_code="59100",
            city="Roubaix",
            country="FR",
        ),
        "delivery": Delivery.home(),
        "shipping_price": Decimal("4.90"),
        "details": CustomerDetails(
            customer=Customer(
                firstname="Amélie", lastname="Durand", email="amelie.durand@example.fr"
            ),
            shipping_address=Address(
                street="12 rue de la Gare", zip_code="59100", city="Roubaix", country="FR"
            ),
            recipient=FullAddress(
                firstname="Amélie",
                lastname="Durand",
                street_1="12 rue de la Gare",
                zip_code="59100",
                city="Roubaix",
                country="FR",
            ),
            locale="fr_FR",
            delivery=Delivery.home(),
        ),
        "flags": MarketplaceFlags(),
        "pricing": OrderPricing(currency="EUR", tax_mode=TaxMode.TAX_INCLUDED),
        "additional_fields": {},
        "lines": [
            NewLine(
                line_id=f"{ORDER_ID}-1",
                sku="TUNIC-LIN-38",
                ean="3600000000017",
                title="Tunique en lin",
                quantity=2,
                unit_price=Decimal("29.99"),
                pricing=LinePricing(price=Decimal("59.98"), shipping_price=Decimal("4.90")),
            ),
            NewLine(
                line_id=f"{ORDER_ID}-2",
                sku="SCARF-SILK",
                ean="3600000000024",
                title="Foulard en soie",
                quantity=1,
                unit_price=Decimal("15.00"),
                pricing=LinePricing(price=Decimal("15.00"), shipping_price=Decimal("0.00")),
            ),
        ],
    }


def test_the_parsed_fields_import_into_an_order() -> None:
    order = Order.import_(**parse_order(relay_order(), "labrandboutique"))

    assert order.status == OrderStatus.CREATED
    assert order.order_total == Decimal("79.88")
    assert order.delivery["relay_id"] == "PUDO-59100-0042"


def test_a_relay_order_names_the_relay_from_the_shipping_address() -> None:
    fields = parse_order(relay_order(), "laredoute")

    assert fields["delivery"] == Delivery.relay(
        relay_id="PUDO-59100-0042",
        relay_name="Tabac de la Gare",
        relay_address="3 place de la Liberté, 59100 Roubaix",
    )
    assert fields["shipping_address"].street == "3 place de la Liberté"


def test_a_pickup_point_id_makes_a_relay_delivery_whatever_the_shipping_type() -> None:
    order = relay_order()
    order["shipping_type_code"] = "PICKUP_POINT"

    assert parse_order(order, "laredoute")["delivery"].mode == "relay"


def test_the_second_street_line_is_kept() -> None:
    order = mirakl_order()
    order["customer"]["shipping_address"]["street_2"] = "Bâtiment B"

    assert parse_order(order, "laredoute")["shipping_address"].street == (
        "12 rue de la Gare, Bâtiment B"
    )


def test_the_product_sku_stands_in_for_a_missing_ean() -> None:
    order = mirakl_order()
    order["order_lines"][0]["order_line_additional_fields"] = []

    assert parse_order(order, "laredoute")["lines"][0].ean == "PRD-TUNIC-LIN"


def test_float_money_is_read_through_its_text_not_its_binary_value() -> None:
    order = mirakl_order(shipping_price=4.9)
    order["order_lines"][0]["price_unit"] = 29.99

    fields = parse_order(order, "laredoute")

    assert fields["shipping_price"] == Decimal("4.9")
    assert fields["lines"][0].unit_price == Decimal("29.99")


def test_a_date_with_an_offset_keeps_it() -> None:
    fields = parse_order(mirakl_order(created_date="2026-11-26T09:30:00+01:00"), "laredoute")

    assert fields["created_at"] == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert fields["created_at"].utcoffset() is not None


def _without(path: str) -> dict[str, Any]:
    return _with(path, None)


def _with(path: str, value: Any) -> dict[str, Any]:
    """The sample order with the field at a dotted path (list indexes as numbers) set or removed."""
    order = copy.deepcopy(relay_order())
    *parents, name = path.split(".")
    target: Any = order
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last: Any = int(name) if isinstance(target, list) else name
    if value is None:
        del target[last]
    else:
        target[last] = value
    return order


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("order_id", "order_id"),
        ("created_date", "created_date"),
        ("customer", "customer"),
        ("customer.firstname", "customer.firstname"),
        ("customer.lastname", "customer.lastname"),
        ("customer.shipping_address.street_1", "customer.shipping_address.street_1"),
        ("customer.shipping_address.zip_code", "customer.shipping_address.zip_code"),
        ("customer.shipping_address.city", "customer.shipping_address.city"),
        ("customer.shipping_address.country_iso_code",
         "customer.shipping_address.country_iso_code"),
        ("customer.shipping_address.company", "customer.shipping_address.company"),
        ("shipping_type_code", "shipping_type_code"),
        ("shipping_price", "shipping_price"),
        ("order_lines", "order_lines"),
        ("order_lines.0.order_line_id", "order_lines[0].order_line_id"),
        ("order_lines.1.offer_sku", "order_lines[1].offer_sku"),
        ("order_lines.0.product_title", "order_lines[0].product_title"),
        ("order_lines.0.quantity", "order_lines[0].quantity"),
        ("order_lines.1.price_unit", "order_lines[1].price_unit"),
        ("order_lines.0.order_line_additional_fields.1.value",
         "order_lines[0].order_line_additional_fields[1].value"),
    ],
)  # fmt: skip
def test_a_missing_field_is_named(path: str, field: str) -> None:
    with pytest.raises(UnparsableOrder) as raised:
        parse_order(_without(path), "laredoute")

    assert raised.value.field == field
    assert raised.value.reason == "is missing"
    assert str(raised.value) == f"{field}: is missing"


def test_a_relay_without_pickup_point_id_is_named() -> None:
    order = relay_order()
    del order["shipping_pudo_id"]

    with pytest.raises(UnparsableOrder, match="^shipping_pudo_id: is missing$"):
        parse_order(order, "laredoute")


def test_an_ean_missing_with_its_product_sku_names_the_product_sku() -> None:
    order = mirakl_order()
    order["order_lines"][1]["order_line_additional_fields"] = []
    del order["order_lines"][1]["product_sku"]

    with pytest.raises(UnparsableOrder) as raised:
        parse_order(order, "laredoute")
    assert raised.value.field == "order_lines[1].product_sku"


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("order_id", 4711, "order_id", "must be a string, not int"),
        ("order_id", "  ", "order_id", "is empty"),
        ("created_date", "yesterday", "created_date", "is not an ISO-8601 date: 'yesterday'"),
        ("created_date", "2026-11-26T08:30:00", "created_date",
         "has no time zone: '2026-11-26T08:30:00'"),
        ("customer", "Amélie Durand", "customer", "must be an object, not str"),
        ("customer.shipping_address", ["12 rue de la Gare"], "customer.shipping_address",
         "must be an object, not list"),
        ("customer.shipping_address.country_iso_code", "XYZ",
         "customer.shipping_address.country_iso_code", "unknown country code 'XYZ'"),
        ("shipping_price", "4.90", "shipping_price", "must be a number, not str"),
        ("shipping_price", True, "shipping_price", "must be a number, not bool"),
        ("shipping_price", float("inf"), "shipping_price", "must be a finite number"),
        ("order_lines", [], "order_lines", "must have at least 1 item(s)"),
        ("order_lines", {"0": {}}, "order_lines", "must be a list, not dict"),
        ("order_lines.1", "LR-20261126-A-2", "order_lines[1]", "must be an object"),
        ("order_lines.0.quantity", 2.0, "order_lines[0].quantity",
         "must be a whole number, not float"),
        ("order_lines.0.quantity", "2", "order_lines[0].quantity",
         "must be a whole number, not str"),
        ("order_lines.0.price_unit", [29.99], "order_lines[0].price_unit",
         "must be a number, not list"),
        ("order_lines.0.order_line_additional_fields", "ean",
         "order_lines[0].order_line_additional_fields", "must be a list, not str"),
    ],
)  # fmt: skip
def test_an_ill_typed_field_is_named(path: str, value: Any, field: str, reason: str) -> None:
    with pytest.raises(UnparsableOrder) as raised:
        parse_order(_with(path, value), "laredoute")

    assert (raised.value.field, raised.value.reason) == (field, reason)
    assert isinstance(raised.value, ValueError)


def test_a_document_that_is_not_an_object_is_unparsable() -> None:
    with pytest.raises(UnparsableOrder, match="^order: is not an object$"):
        parse_order(["LR-20261126-A"], "laredoute")  # type: ignore[arg-type]


def test_a_two_letter_country_code_is_taken_as_is() -> None:
    order = _with("customer.shipping_address.country_iso_code", "be")

    assert parse_order(order, "laredoute")["shipping_address"].country == "BE"


def test_an_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_order(mirakl_order(), "amazon")


# ---------------------------------------------------------------- view_order


def refund(refund_id: str, order_refund_id: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_refund_id": order_refund_id,
        "refund_state": state,
        "state": state,
        "amount": Decimal("29.99"),
        "shipping_amount": Decimal("0.00"),
        "quantity": 1,
        "reason_code": "15",
        "created_date": "2026-12-02T10:00:00Z",
        "commission_amount": Decimal("4.50"),
        **extra,
    }


def shipped_order() -> dict[str, Any]:
    """Shipped with Colissimo, one scarf cancelled, two refunds (one refused) on the tunic."""
    order = mirakl_order(
        order_state="RECEIVED",
        acceptance_decision_date="2026-11-26T09:00:00Z",
        customer_debited_date="2026-11-26T09:05:00Z",
        last_updated_date="2026-12-03T11:00:00Z",
        shipping_carrier_code="COLISSIMO",
        shipping_company="Colissimo",
        shipping_tracking="6A12345678901",
        shipping_tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
    )
    tunic, scarf = order["order_lines"]
    tunic.update(
        order_line_state="RECEIVED",
        refunds=[
            refund("1001", "R-1", "REFUSED", refusal_reason="EXPIRED_CARD"),
            refund("1002", "R-2", "WAITING_REFUND_PAYMENT", shipping_amount=Decimal("4.90")),
        ],
    )
    scarf.update(
        order_line_state="CANCELED",
        cancelations=[
            {"id": "C-1", "quantity": 1, "amount": Decimal("15.00"),
             "shipping_amount": Decimal("0.00"), "reason_code": "34",
             "created_date": "2026-11-26T10:00:00Z"},
        ],
    )  # fmt: skip
    return order


def test_view_order_summarises_state_dates_and_tracking() -> None:
    view = view_order(shipped_order())

    assert (view.order_id, view.state, view.status) == (ORDER_ID, "RECEIVED", OrderStatus.SHIPPED)
    assert view.state_known
    assert view.created_at == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert view.last_updated == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    assert view.acceptance_decision_date == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert view.customer_debited_date == datetime(2026, 11, 26, 9, 5, tzinfo=UTC)
    assert view.reason_code is None
    assert view.shipping == MarketplaceShipping(
        carrier_code="COLISSIMO",
        carrier_name="Colissimo",
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
    )


def test_view_order_reads_cancelations_per_line() -> None:
    view = view_order(shipped_order())

    tunic, scarf = view.lines
    assert (tunic.line_id, tunic.state, tunic.quantity, tunic.canceled_quantity) == (
        f"{ORDER_ID}-1", "RECEIVED", 2, 0,
    )  # fmt: skip
    assert (scarf.state, scarf.quantity, scarf.canceled_quantity) == ("CANCELED", 1, 1)
    assert scarf.cancelations[0].amount == Decimal("15.00")
    assert scarf.cancelations[0].reason_code == "34"
    assert view.line(f"{ORDER_ID}-2") is scarf and view.line("nope") is None


def test_view_order_reads_refunds_with_their_status_and_refusal_reason() -> None:
    view = view_order(shipped_order())

    refused, paying = view.lines[0].refunds
    assert (refused.id, refused.order_refund_id, refused.refund_state) == ("1001", "R-1", "REFUSED")
    assert refused.status is RefundStatus.REFUND_REFUSED
    assert refused.refusal_reason == "EXPIRED_CARD"
    assert (refused.amount, refused.quantity, refused.reason_code) == (Decimal("29.99"), 1, "15")
    assert refused.created_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert paying.status is RefundStatus.REFUNDING
    assert paying.shipping_amount == Decimal("4.90")
    assert paying.refusal_reason is None


def test_refunds_of_one_request_are_grouped_across_lines() -> None:
    order = shipped_order()
    order["order_lines"][1]["refunds"] = [refund("1003", "R-2", "WAITING_REFUND_PAYMENT")]

    groups = view_order(order).refunds_by_order_refund_id

    assert list(groups) == ["R-1", "R-2"]
    assert [r.id for r in groups["R-1"]] == ["1001"]
    assert [r.id for r in groups["R-2"]] == ["1002", "1003"]
    assert [r.id for r in view_order(order).refunds] == ["1001", "1002", "1003"]


def test_view_order_tolerates_unknown_states(logs: list[dict[str, Any]]) -> None:
    order = shipped_order()
    order["order_state"] = "INCIDENT_OPEN"
    order["order_lines"][0]["refunds"][1]["refund_state"] = "REFUND_DISPUTED"

    view = view_order(order)

    assert (view.state, view.status, view.state_known) == ("INCIDENT_OPEN", None, False)
    assert view.lines[0].refunds[1].refund_state == "REFUND_DISPUTED"
    assert view.lines[0].refunds[1].status is None
    assert {e["event"] for e in logs} == {
        "mirakl_unknown_order_state", "mirakl_unknown_refund_state",
    }  # fmt: skip


def test_view_order_of_a_new_order_has_no_tracking_and_no_decision() -> None:
    view = view_order(mirakl_order())

    assert view.status is OrderStatus.CREATED
    assert view.shipping is None
    assert view.acceptance_decision_date is None
    assert view.refunds == () and view.refunds_by_order_refund_id == {}


def test_view_order_keeps_the_reason_of_a_cancellation() -> None:
    view = view_order(
        mirakl_order(order_state="CANCELED", order_state_reason_code="ACCEPTANCE_DEADLINE_EXCEEDED")
    )

    assert (view.status, view.reason_code) == (OrderStatus.CANCELED, "ACCEPTANCE_DEADLINE_EXCEEDED")


def test_view_order_reads_absent_refund_amounts_as_zero() -> None:
    order = shipped_order()
    del order["order_lines"][0]["refunds"][0]["amount"]
    del order["order_lines"][0]["refunds"][0]["shipping_amount"]

    refunded = view_order(order).lines[0].refunds[0]

    assert (refunded.amount, refunded.shipping_amount) == (Decimal("0.00"), Decimal("0.00"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.pop("last_updated_date"), "last_updated_date"),
        (lambda o: o.pop("order_state"), "order_state"),
        (lambda o: o.update(acceptance_decision_date="soon"), "acceptance_decision_date"),
        (lambda o: o["order_lines"][0]["refunds"][1].pop("order_refund_id"),
         "order_lines[0].refunds[1].order_refund_id"),
        (lambda o: o["order_lines"][1]["cancelations"][0].update(quantity="1"),
         "order_lines[1].cancelations[0].quantity"),
        (lambda o: o["order_lines"][0].update(refunds={"1001": {}}), "order_lines[0].refunds"),
    ],
)  # fmt: skip
def test_view_order_names_what_it_cannot_read(change: Any, field: str) -> None:
    order = shipped_order()
    change(order)

    with pytest.raises(UnparsableOrder) as raised:
        view_order(order)
    assert raised.value.field == field


# ---------------------------------------------------------------- the spec's own example


def spec_example_order() -> dict[str, Any]:
    """The first order of OR11's example answer in the published spec."""
    import json

    from tests.contract.spec import SPEC_PATH

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    answer = spec["paths"]["/api/orders"]["get"]["responses"]["200"]["content"]
    return copy.deepcopy(
        answer["application/json"]["examples"]["application/json-0"]["value"]["orders"][0]
    )


def test_the_spec_example_order_gives_what_a_shipper_needs() -> None:
    fields = parse_order(spec_example_order(), "laredoute")

    details = fields["details"]
    assert fields["customer"] == Customer(
        firstname="Smith",
        lastname="Taylor",
        email="notification+ec1riop21ju4rfynl0helvzou.e0z0r7cj2@notification.mirakl.net",
    )
    assert fields["shipping_address"] == Address(
        street="113 MacDougal Street, 1st floor", zip_code="NY 10012", city="New York",
        country="US",
    )  # fmt: skip
    assert details.recipient == FullAddress(
        civility="M", firstname="Smith", lastname="Taylor", company="LIMARK Company",
        street_1="113 MacDougal Street", street_2="1st floor",
        additional_info="One article per box", zip_code="NY 10012", city="New York",
        state="Manhattan", country="US",
    )  # fmt: skip
    assert details.billing_address == FullAddress(
        civility="M", firstname="smith", lastname="Taylor", company="LIMARK Company",
        street_1="113 MacDougal Street", street_2="1st floor", zip_code="NY 10012",
        city="New York City", state="Manhattan", country="US",
    )  # fmt: skip
    assert details.locale == "en_US"
    # A pick-up point id: the relay is named by the shipping address.
    assert fields["delivery"] == Delivery.relay(
        relay_id="C1039", relay_name="LIMARK Company",
        relay_address="113 MacDougal Street, NY 10012 New York",
    )  # fmt: skip
    order = Order.import_(**fields)
    assert order.status == OrderStatus.CREATED
    assert order.recipient is not None and order.recipient["additional_info"] == (
        "One article per box"
    )


def test_the_spec_example_order_without_addresses_is_imported_awaiting_them() -> None:
    raw = spec_example_order()
    raw["customer"]["shipping_address"] = None
    raw["customer"]["billing_address"] = None
    raw["customer"]["accounting_contact"] = None
    raw["customer"]["delivery_contact"] = None
    raw["customer_notification_email"] = None

    fields = parse_order(raw, "laredoute")

    assert fields["shipping_address"] is None
    assert fields["customer"] == Customer(firstname="Smith", lastname="Taylor", email=None)
    assert fields["details"].recipient is None
    assert fields["details"].billing_address is None
    assert fields["delivery"] == Delivery.relay_awaiting_details(relay_id="C1039")
    order = Order.import_(**fields)
    assert order.status == OrderStatus.CREATED
    assert order.shipping_address is None
    assert order.delivery == {
        "mode": "relay", "relay_id": "C1039", "relay_name": None, "relay_address": None,
    }  # fmt: skip

    # The next read shows them: one event brings them, a second read adds nothing.
    shown = parse_order(spec_example_order(), "laredoute")["details"]
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert order.receive_customer_details(shown, at=at)
    assert not order.receive_customer_details(shown, at=at)
    assert order.shipping_address == shown.shipping_address.stored()
    assert order.customer["email"] == shown.customer.email
    assert order.delivery["relay_name"] == "LIMARK Company"
    assert [type(e).__name__ for e in order.collect_events()] == [
        "Imported", "CustomerDetailsReceived",
    ]  # fmt: skip


def test_an_order_without_addresses_nor_email_is_parsed() -> None:
    raw = mirakl_order(customer_notification_email=None)
    raw["customer"]["shipping_address"] = None

    fields = parse_order(raw, "laredoute")

    assert (fields["shipping_address"], fields["customer"].email) == (None, None)
    assert fields["delivery"] == Delivery.home()


def test_phones_and_the_billing_address_are_kept() -> None:
    raw = mirakl_order()
    raw["customer"]["shipping_address"].update(phone="0320000000", phone_secondary="0600000000")
    raw["customer"]["billing_address"] = dict(raw["customer"]["shipping_address"], city="Lille")

    details = parse_order(raw, "laredoute")["details"]

    assert details.recipient.phone == "0320000000"
    assert details.recipient.phone_secondary == "0600000000"
    assert details.billing_address.city == "Lille"


def test_the_spec_example_flags_and_shipping_deadline() -> None:
    flags = marketplace_flags(spec_example_order())

    assert flags == MarketplaceFlags(
        has_customer_message=False, has_incident=False, can_cancel=False, can_refund=True,
        shipping_deadline=datetime(2019, 9, 1, 23, 59, 59, 999000, tzinfo=UTC),
        leadtime_to_ship=5,
    )  # fmt: skip


def test_view_order_carries_the_details_and_flags() -> None:
    raw = mirakl_order(has_incident=True, has_customer_message=True, can_cancel=True,
                       leadtime_to_ship=3)  # fmt: skip

    view = view_order(raw)

    assert view.details is not None and view.details.customer.lastname == "Durand"
    assert view.flags == MarketplaceFlags(
        has_customer_message=True, has_incident=True, can_cancel=True, leadtime_to_ship=3
    )


def test_an_ill_typed_flag_is_named() -> None:
    with pytest.raises(UnparsableOrder) as raised:
        view_order(mirakl_order(has_incident="yes"))

    assert raised.value.field == "has_incident"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"taxes": [{"code": "TVA-20", "amount": "1.00"}]}, "order_lines[0].taxes[0].amount"),
        ({"taxes": [{"code": " ", "amount": 1.0}]}, "order_lines[0].taxes[0].code"),
        ({"fees": [{"code": "ECO", "amount": True}]}, "order_lines[0].fees[0].amount"),
        ({"shipping_taxes": {"code": "TVA-20"}}, "order_lines[0].shipping_taxes"),
        ({"price": float("inf")}, "order_lines[0].price"),
    ],
)
def test_a_line_with_money_of_the_wrong_type_names_the_field(
    change: dict[str, Any], field: str
) -> None:
    raw = mirakl_order()
    raw["order_lines"][0].update(change)

    with pytest.raises(UnparsableOrder) as refused:
        parse_order(raw, "laredoute")
    assert refused.value.field == field


def test_the_quick_and_the_checked_reading_of_a_lines_money_agree() -> None:
    from app.adapters.laredoute.mapping import _checked_line_pricing, _line_pricing

    line = mirakl_line(
        1, taxes=[{"code": "TVA-20", "amount": 9.99, "rate": 20.0,
                   "tax_calculation_rule": "PROPORTIONAL_TO_AMOUNT"}],
        shipping_taxes=[{"code": "TVA-20", "amount": 0.82, "rate": 20}],
        fees=[{"code": "ECO_PARTICIPATION", "amount": 1.5}],
        promotions=[{"id": "P1", "deduced_amount": 5, "promo_code": None, "apportioned": False,
                     "configuration": {"type": "AMOUNT_OFF"}}],
        eco_contributions=[{"epr_category_code": "FR_DEA", "producer_id": "X", "unit_amount": 0.5,
                            "total_amount": 1.0, "producer_id_owner": "SELLER"}],
        origin_unit_price=34.99, total_commission=10.8,
    )  # fmt: skip

    assert _line_pricing(line, "order_lines[0]") == _checked_line_pricing(line, "order_lines[0]")
