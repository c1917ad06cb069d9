"""A La Redoute order whose customer details the marketplace holds back until acceptance:
imported without them, they arrive once as an event after acceptance, the order ships; its
flags and ship-by time are on the order and in the list; and no customer's name, address or
phone is ever logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.domain.order import OrderStatus
from tests.e2e.harness import Harness, eventually
from tests.e2e.test_secrets import debug_logs
from tests.support import LiveServer, bearer, make_api_key


def _personal(raw: dict[str, Any]) -> list[str]:
    """What identifies the customer in the marketplace's own record of the order."""
    customer = raw["customer"]
    values = [f"{customer['firstname']} {customer['lastname']}"]
    for address in (customer["shipping_address"], customer["billing_address"]):
        values += [address["street_1"], address.get("phone"), address.get("company")]
    values.append(raw["customer_notification_email"])
    return [v for v in values if v]


def test_the_address_arrives_after_acceptance_once_and_the_order_ships(
    market: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    with debug_logs(capfd) as logs:
        kept = _life(market)
        captured = logs.read()
    assert '"orders_import_round"' in captured  # the capture saw our logs
    leaked = [value for value in _personal(kept) if value in captured]
    assert leaked == [], "customer data in the logs"


def _life(market: Harness) -> dict[str, Any]:
    (mid,) = market.generate(1, lines=2, delivery="relay")
    kept = market.raw(mid)  # the marketplace's own record, with everything
    shipping = kept["customer"]["shipping_address"]

    assert market.import_round().errors == 0
    order = market.order(mid)
    assert order.status == OrderStatus.CREATED
    assert order.shipping_address is None and order.recipient is None
    assert order.billing_address is None
    assert order.customer == {"firstname": kept["customer"]["firstname"],
                              "lastname": kept["customer"]["lastname"], "email": None}
    assert order.delivery == {"mode": "relay", "relay_id": kept["shipping_pudo_id"],
                              "relay_name": None, "relay_address": None}
    assert order.ship_by == datetime.fromisoformat(kept["shipping_deadline"])

    market.service.accept(order.id)
    market.deliver_until_settled()
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.ACCEPTED
    assert order.customer["email"] == kept["customer_notification_email"]
    assert order.shipping_address["city"] == shipping["city"]
    assert order.recipient["street_1"] == shipping["street_1"]
    assert order.recipient["phone"] == shipping["phone"]
    assert order.recipient["company"] == order.delivery["relay_name"] == shipping["company"]
    assert order.billing_address["lastname"] == kept["customer"]["billing_address"]["lastname"]
    assert order.locale == "fr_FR"

    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    market.post(f"/orders/{mid}/flags", {"has_customer_message": True})
    market.import_round()
    market.import_round()  # nothing new: no event twice
    order = market.order(mid)
    assert order.status == OrderStatus.TOSHIP
    assert order.flags["has_customer_message"] and order.flags["can_cancel"]
    assert not order.flags["has_incident"]

    _check_the_api(market, order.id, kept)

    market.service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
    market.deliver_until_settled()
    market.import_round()
    assert market.order(mid).status == OrderStatus.SHIPPED
    assert market.raw(mid)["order_state"] == "SHIPPED"
    every = market.all_event_types(mid)
    assert every.count("CustomerDetailsReceived") == 1
    assert market.event_types(mid) == ["Imported", "Accepted", "PaymentValidated", "Shipped"]
    assert [t for t in every if t != "MarketplaceFlagsChanged"] == [
        "Imported", "Accepted", "CustomerDetailsReceived", "PaymentValidated", "Shipped",
    ]
    return kept


def _check_the_api(market: Harness, order_id: Any, kept: dict[str, Any]) -> None:
    key = make_api_key(market.settings, "operator", "details-e2e")
    with LiveServer(create_app(market.settings)) as server, httpx.Client(
        base_url=server.url, headers=bearer(key), timeout=10
    ) as api:
        shown = api.get(f"/v1/orders/{order_id}").json()
        assert shown["recipient"]["phone"] == kept["customer"]["shipping_address"]["phone"]
        assert shown["billing_address"]["city"] == kept["customer"]["billing_address"]["city"]
        assert shown["marketplace_flags"] == {"has_customer_message": True,
                                              "has_incident": False, "can_cancel": True,
                                              "can_refund": False}
        deadline = datetime.fromisoformat(kept["shipping_deadline"])
        assert datetime.fromisoformat(shown["ship_by"]) == deadline

        def listed() -> dict[str, Any] | None:
            page = api.get("/v1/orders", params={"tab": "waiting_shipment",
                                                 "sort": "ship_by"}).json()
            return next((i for i in page["items"] if i["id"] == str(order_id)), None)

        item = eventually(listed)
        assert item["customer_name"] == (
            f"{kept['customer']['firstname']} {kept['customer']['lastname']}"
        )
        assert datetime.fromisoformat(item["ship_by"]) == deadline
        assert item["late"] is False  # the deadline is days ahead
        assert (item["has_customer_message"], item["can_cancel"]) == (True, True)
