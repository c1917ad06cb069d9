"""The orders API on each store: import, read, every command and the history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from tests.support import (
    CLOCK_START,
    assert_problem,
    at,
    imported_order,
    order_payload,
    order_to_ship,
    paid_order,
    utc_text,
)


def _etag(order: dict[str, Any]) -> str:
    return f'"{order["version"]}"'


def _command(client, order: dict[str, Any], route: str, body: dict[str, Any] | None = None):
    """POST a command with the order's ETag, as a client that just read it would."""
    return client.post(
        f"/v1/orders/{order['id']}/{route}", headers={"If-Match": _etag(order)}, json=body
    )


def _assert_answered_version(response, version: int) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    order = response.json()
    assert order["version"] == version
    assert response.headers["etag"] == f'"{version}"'
    return order


def _line(order: dict[str, Any], line_id: str) -> dict[str, Any]:
    return next(line for line in order["lines"] if line["line_id"] == line_id)


# ---------------------------------------------------------------- import and read


def test_importing_an_order_answers_201_with_its_location_and_etag(client) -> None:
    """A new order is created in status CREATED, at version 1, at the URL it names."""
    response = client.post("/v1/orders", json=order_payload("LR-TUNIC-001"))
    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/orders/{order['id']}"
    assert UUID(order["id"])
    assert order["marketplace_order_id"] == "LR-TUNIC-001"
    assert order["channel"] == "laredoute"
    assert order["status"] == "CREATED"
    assert order["tab"] == "new"
    assert order["version"] == 1
    assert order["acceptance_deadline"] == utc_text(at(hours=72, minutes=-30))
    assert order["customer"]["firstname"] == "Amélie"
    assert order["delivery"] == {
        "mode": "home", "relay_id": None, "relay_name": None, "relay_address": None
    }
    assert order["lines"][0] == {
        "line_id": "L1",
        "sku": "TUNIC-LIN-38",
        "ean": "3600000000017",
        "title": "Tunique en lin",
        "quantity": 2,
        "unit_price": "29.99",
        "origin_unit_price": None,
        "amount": "59.98",
        # An order entered by hand: its shipping is its first line's, with no taxes nor fees.
        "shipping_price": "4.90",
        "taxes": [],
        "shipping_taxes": [],
        "fees": [],
        "promotions": [],
        "eco_contributions": [],
        "commission": None,
        "status": "CREATED",
        "canceled_quantity": 0,
        "refunded_quantity": 0,
    }
    assert order["lines"][1]["shipping_price"] == "0.00"
    assert order["additional_fields"] == {}
    assert order["amounts"] == {
        "currency": "EUR",
        "tax_mode": "TAX_INCLUDED",
        "goods_total": "74.98",
        "shipping_price": "4.90",
        "taxes_total": "0.00",
        "fees_total": "0.00",
        "order_total": "79.88",
        "total_commission": None,
        "canceled_amount": "0.00",
        "payable_total": "79.88",
        "refunded_amount": "0.00",
        "refundable_amount": "0.00",
    }
    assert order["shipment"] is None and order["refunds"] == []


def test_importing_the_same_order_again_answers_200_with_the_first_order(client) -> None:
    """The marketplace sends LR-TUNIC-001 twice: the second answer is the first order, untouched."""
    first = client.post("/v1/orders", json=order_payload("LR-TUNIC-001"))
    again = client.post("/v1/orders", json=order_payload("LR-TUNIC-001", shipping_price="99.00"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == '"1"'
    assert again.headers["location"] == first.headers["location"]
    assert len(client.get(f"/v1/orders/{first.json()['id']}/events").json()["events"]) == 1


def test_a_relay_order_keeps_its_relay(client) -> None:
    """A Mondial Relay point's name, address and id come back as they were sent."""
    relay = {
        "mode": "relay",
        "relay_id": "MR-059-0042",
        "relay_name": "Tabac de la Gare",
        "relay_address": "3 place de la Gare, 59100 Roubaix",
    }
    order = imported_order(client, "LR-RELAY-001", delivery=relay)
    assert order["delivery"] == relay


def test_an_order_without_customer_or_address_is_imported_as_the_marketplace_shows_it(
    client,
) -> None:
    """La Redoute holds the customer and the address back until acceptance: left out or
    null, the order is imported all the same and shows them null until they come."""
    for mid, hidden in (("LR-HIDDEN-001", {"customer": None, "shipping_address": None}),
                        ("LR-HIDDEN-002", {})):
        payload = {k: v for k, v in order_payload(mid).items()
                   if k not in ("customer", "shipping_address")}
        response = client.post("/v1/orders", json={**payload, **hidden})
        assert response.status_code == 201, response.text
        order = response.json()
        assert (order["customer"], order["shipping_address"]) == (None, None)
        assert order["status"] == "CREATED" and order["amounts"]["order_total"] == "79.88"
        read = client.get(f"/v1/orders/{order['id']}").json()
        assert (read["customer"], read["shipping_address"]) == (None, None)
    hidden_customer = imported_order(client, "LR-HIDDEN-003", customer=None)
    assert hidden_customer["customer"] is None
    assert hidden_customer["shipping_address"]["city"] == "Roubaix"


def test_a_customer_or_address_given_must_be_valid(client) -> None:
    """Optional is not unchecked: a customer or address that is given and wrong is refused,
    naming the field, and nothing is imported."""
    invalid = "/problems/invalid-request"
    address = {"street": "12 rue de la Gare", "zip_code": "59100", "city": "Roubaix",
               "country": "France"}
    assert_problem(client.post("/v1/orders", json=order_payload(shipping_address=address)),
                   422, invalid, field="shipping_address.country")
    assert_problem(client.post("/v1/orders", json=order_payload(shipping_address="Roubaix")),
                   422, invalid, field="shipping_address", rule="model_attributes_type")
    no_city = {k: v for k, v in address.items() if k != "city"} | {"country": "FR"}
    assert_problem(client.post("/v1/orders", json=order_payload(shipping_address=no_city)),
                   422, invalid, field="shipping_address.city", rule="missing")
    assert_problem(client.post("/v1/orders", json=order_payload(customer={"firstname": "Amélie"})),
                   422, invalid, field="customer.lastname", rule="missing")
    # None of them was imported: the same order, valid, is new.
    assert client.post("/v1/orders", json=order_payload()).status_code == 201


def test_reading_an_order_answers_its_state_and_etag(client) -> None:
    """GET answers the order as the import did, with its version as ETag."""
    imported = imported_order(client)
    response = client.get(f"/v1/orders/{imported['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == imported


# ---------------------------------------------------------------- merchant commands


def test_accepting_an_order_answers_it_accepted_at_version_2(client) -> None:
    """Accept answers the new state and the new ETag."""
    order = imported_order(client)
    accepted = _assert_answered_version(_command(client, order, "accept"), 2)
    assert accepted["status"] == "ACCEPTED"
    assert accepted["accepted_at"] == utc_text(CLOCK_START)
    assert {line["status"] for line in accepted["lines"]} == {"ACCEPTED"}
    assert client.get(f"/v1/orders/{order['id']}").headers["etag"] == '"2"'


def test_refusing_an_order_records_the_reason(client) -> None:
    """Refuse moves a CREATED order to REFUSED, in the Canceled tab."""
    order = imported_order(client)
    refused = _assert_answered_version(
        _command(client, order, "refuse", {"reason": "Tunique plus fabriquée"}), 2
    )
    assert refused["status"] == "REFUSED"
    assert refused["tab"] == "canceled"
    assert refused["refusal_reason"] == "Tunique plus fabriquée"


def test_shipping_with_colissimo_builds_the_tracking_url(client, app) -> None:
    """Without tracking_url, the URL of a carrier we know is built from the tracking number."""
    order = order_to_ship(client, app)
    assert order["status"] == "TOSHIP" and order["version"] == 3
    body = {"tracking_number": "6A12345678901", "carrier": "Colissimo"}
    shipped = _assert_answered_version(_command(client, order, "ship", body), 4)
    assert shipped["status"] == "SHIPPED"
    assert shipped["tab"] == "sent"
    assert shipped["shipment"] == {
        "carrier": "Colissimo",
        "tracking_number": "6A12345678901",
        "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "shipped_at": utc_text(CLOCK_START),
    }
    assert {line["status"] for line in shipped["lines"]} == {"SHIPPED"}


def test_shipping_with_another_carrier_keeps_its_tracking_url(client, app) -> None:
    """A carrier we do not know ships with the URL the merchant gives."""
    order = order_to_ship(client, app)
    shipped = _assert_answered_version(
        _command(
            client,
            order,
            "ship",
            {
                "tracking_number": "TD-2026-0042",
                "carrier": "Transports Dupont",
                "tracking_url": "https://suivi.transports-dupont.fr/TD-2026-0042",
            },
        ),
        4,
    )
    assert shipped["shipment"]["carrier"] == "Transports Dupont"
    assert shipped["shipment"]["tracking_url"] == "https://suivi.transports-dupont.fr/TD-2026-0042"


def test_canceling_the_whole_order_puts_it_out_of_stock(client, app) -> None:
    """Cancel without lines takes every line out: OUT_OF_STOCK, nothing left to pay."""
    order = order_to_ship(client, app)
    canceled = _assert_answered_version(
        _command(client, order, "cancel", {"reason": "Rupture de stock"}), 4
    )
    assert canceled["status"] == "OUT_OF_STOCK"
    assert canceled["tab"] == "canceled"
    assert canceled["cancel_reason"] == "Rupture de stock"
    assert [(ln["status"], ln["canceled_quantity"]) for ln in canceled["lines"]] == [
        ("OUT_OF_STOCK", 2),
        ("OUT_OF_STOCK", 1),
    ]
    # The goods (74.98) and, the last pieces gone, the shipping (4.90) with them.
    assert canceled["amounts"]["canceled_amount"] == "79.88"
    assert canceled["amounts"]["payable_total"] == "0.00"


def test_canceling_one_line_keeps_the_rest_of_the_order(client, app) -> None:
    """The silk scarf is out of stock: its line is, the tunics still ship."""
    order = order_to_ship(client, app)
    canceled = _assert_answered_version(
        _command(
            client,
            order,
            "cancel",
            {"lines": [{"line_id": "L2", "quantity": 1}], "reason": "Foulard en rupture"},
        ),
        4,
    )
    assert canceled["status"] == "TOSHIP"
    assert _line(canceled, "L2")["status"] == "OUT_OF_STOCK"
    assert _line(canceled, "L2")["canceled_quantity"] == 1
    assert _line(canceled, "L1")["status"] == "TOSHIP"
    assert canceled["amounts"]["canceled_amount"] == "15.00"
    assert canceled["amounts"]["payable_total"] == "64.88"


def test_canceling_part_of_a_line_keeps_the_other_quantity(client, app) -> None:
    """One tunic out of two is out of stock: the line keeps one."""
    order = order_to_ship(client, app)
    canceled = _assert_answered_version(
        _command(
            client,
            order,
            "cancel",
            {"lines": [{"line_id": "L1", "quantity": 1}], "reason": "Une seule tunique en stock"},
        ),
        4,
    )
    assert _line(canceled, "L1")["canceled_quantity"] == 1
    assert _line(canceled, "L1")["status"] == "TOSHIP"
    assert canceled["amounts"]["canceled_amount"] == "29.99"


def test_refunding_the_whole_order_with_shipping_refunds_everything_paid(client, app) -> None:
    """A refund without lines, with shipping, asks for all that was paid."""
    order = paid_order(client, app)
    assert order["status"] == "PAID" and order["version"] == 5
    refunded = _assert_answered_version(
        _command(client, order, "refunds", {"refund_shipping": True, "reason": "Colis perdu"}), 6
    )
    assert refunded["status"] == "TO_REFUND"
    assert refunded["refunds"] == [
        {
            "refund_id": "R1",
            "status": "TO_REFUND",
            "lines": [
                # The shipping goes back from the line that carries it.
                {"line_id": "L1", "quantity": 2, "amount": "59.98", "shipping_amount": "4.90",
                 "taxes": {}, "shipping_taxes": {}, "fees": {}},
                {"line_id": "L2", "quantity": 1, "amount": "15.00", "shipping_amount": "0.00",
                 "taxes": {}, "shipping_taxes": {}, "fees": {}},
            ],
            "shipping_amount": "4.90",
            "amount": "79.88",
            "reason": "Colis perdu",
            "refusal_reason": None,
            "requested_at": utc_text(CLOCK_START),
            "updated_at": utc_text(CLOCK_START),
        }
    ]
    assert {line["status"] for line in refunded["lines"]} == {"TO_REFUND"}


def test_refunding_one_tunic_without_shipping_refunds_its_price(client, app) -> None:
    """A partial refund names the line and quantity; the other line stays PAID."""
    order = paid_order(client, app)
    refunded = _assert_answered_version(
        _command(
            client,
            order,
            "refunds",
            {
                "lines": [{"line_id": "L1", "quantity": 1}],
                "refund_shipping": False,
                "reason": "Tunique abîmée",
            },
        ),
        6,
    )
    (refund,) = refunded["refunds"]
    assert refund["lines"] == [{"line_id": "L1", "quantity": 1, "amount": "29.99",
                                "shipping_amount": "0.00", "taxes": {}, "shipping_taxes": {}, "fees": {}}]
    assert refund["shipping_amount"] == "0.00"
    assert refund["amount"] == "29.99"
    assert _line(refunded, "L1")["status"] == "TO_REFUND"
    assert _line(refunded, "L2")["status"] == "PAID"


def test_refunding_one_line_with_shipping_adds_the_shipping_price(client, app) -> None:
    """The scarf and the shipping cost are refunded together."""
    order = paid_order(client, app)
    refunded = _assert_answered_version(
        _command(
            client,
            order,
            "refunds",
            {
                "lines": [{"line_id": "L2", "quantity": 1}],
                "refund_shipping": True,
                "reason": "Foulard non conforme",
            },
        ),
        6,
    )
    assert refunded["refunds"][0]["amount"] == "19.90"
    assert refunded["refunds"][0]["shipping_amount"] == "4.90"


def test_a_completed_refund_shows_on_lines_and_amounts(client, app) -> None:
    """Once the marketplace refunds, lines count refunded quantities and amounts drop."""
    order = paid_order(client, app)
    _command(
        client,
        order,
        "refunds",
        {"lines": [{"line_id": "L1", "quantity": 1}], "refund_shipping": False, "reason": "Abîmée"},
    )
    order_id = UUID(order["id"])
    app.state.service.submit_refund(order_id, "R1")
    app.state.service.approve_refund(order_id, "R1")
    app.state.service.complete_refund(order_id, "R1")
    response = client.get(f"/v1/orders/{order['id']}")
    assert response.headers["etag"] == '"9"'
    after = response.json()
    assert after["status"] == "REFUNDED"
    assert after["refunds"][0]["status"] == "REFUNDED"
    assert _line(after, "L1")["refunded_quantity"] == 1
    assert _line(after, "L2")["refunded_quantity"] == 0
    assert after["amounts"]["refunded_amount"] == "29.99"
    assert after["amounts"]["refundable_amount"] == "49.89"


def test_a_new_refund_request_supersedes_one_not_yet_dealt_with(client, app) -> None:
    """The second request replaces the first, which stays in the list as SUPERSEDED."""
    order = paid_order(client, app)
    first = _command(
        client,
        order,
        "refunds",
        {"lines": [{"line_id": "L1", "quantity": 1}], "refund_shipping": False, "reason": "Abîmée"},
    ).json()
    body = {
        "lines": [{"line_id": "L1", "quantity": 2}],
        "refund_shipping": False,
        "reason": "Deux abîmées",
    }
    second = _assert_answered_version(_command(client, first, "refunds", body), 7)
    assert [(r["refund_id"], r["status"]) for r in second["refunds"]] == [
        ("R1", "SUPERSEDED"),
        ("R2", "TO_REFUND"),
    ]


def test_a_refund_request_that_has_left_is_followed_to_its_end_not_superseded(client, app) -> None:
    """On Mirakl a refund cannot be withdrawn: once its delivery has gone out, a new request
    waits (422 naming the rule); a pending one would have been replaced."""
    from app.adapters.sync_store import SyncStore

    order = paid_order(client, app)
    first = _command(
        client,
        order,
        "refunds",
        {"lines": [{"line_id": "L1", "quantity": 1}], "refund_shipping": False, "reason": "Abîmée"},
    ).json()
    app.state.runners["marketplace_actions"].catch_up()
    store = SyncStore(app.state.db)
    refund = next(a for a in store.actions_of(UUID(order["id"])) if a.kind == "refund")
    assert store.move_action(refund.id, from_states=["pending"], to_state="sent", at=1.0)
    body = {"lines": [{"line_id": "L1", "quantity": 2}], "refund_shipping": False,
            "reason": "Deux abîmées"}
    refused = _command(client, first, "refunds", body)
    assert_problem(refused, 422, "/problems/rule-violation", field="refund",
                   rule="sent_refund_in_progress")
    after = client.get(f"/v1/orders/{order['id']}").json()
    assert [(r["refund_id"], r["status"]) for r in after["refunds"]] == [("R1", "TO_REFUND")]


# ---------------------------------------------------------------- history


def test_the_history_lists_every_event_oldest_first(client, app) -> None:
    """Each event has its type, version, timestamp and data, money as decimal strings."""
    order = paid_order(client, app)
    _command(
        client,
        order,
        "refunds",
        {"lines": [{"line_id": "L1", "quantity": 1}], "refund_shipping": True, "reason": "Abîmée"},
    )
    response = client.get(f"/v1/orders/{order['id']}/events")
    assert response.status_code == 200
    history = response.json()
    assert history["order_id"] == order["id"]
    events = history["events"]
    assert [(e["type"], e["version"]) for e in events] == [
        ("Imported", 1),
        ("Accepted", 2),
        ("PaymentValidated", 3),
        ("Shipped", 4),
        ("Paid", 5),
        ("RefundRequested", 6),
    ]
    timestamps = [e["timestamp"] for e in events]
    assert all(isinstance(t, str) and t.endswith("Z") for t in timestamps)
    imported = events[0]["data"]
    assert imported["marketplace_order_id"] == "LR-TUNIC-001"
    assert imported["shipping_price"] == "4.90"
    assert [line["unit_price"] for line in imported["lines"]] == ["29.99", "15.00"]
    assert imported["created_at"] == utc_text(at(minutes=-30))
    assert events[1]["data"]["at"] == utc_text(CLOCK_START)
    assert events[3]["data"]["carrier"] == "Colissimo"
    assert events[3]["data"]["tracking_number"] == "6A12345678901"
    refund = events[5]["data"]
    assert refund["lines"] == {"L1": 1}
    assert refund["line_amounts"] == {"L1": "29.99"}
    assert refund["shipping_amount"] == "4.90"
    assert refund["amount"] == "34.89"
    assert Decimal(refund["amount"]) == Decimal("29.99") + Decimal("4.90")


# ---------------------------------------------------------------- probes


def test_healthz_answers_ok(client) -> None:
    """The liveness probe needs nothing but the process."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_answers_ok_with_its_checks(client) -> None:
    """The readiness probe reports the store, the migrations and whatever else it checks."""
    response = client.get("/readyz")
    assert response.status_code == 200
    ready = response.json()
    assert ready["status"] == "ok"
    assert ready["checks"]["store"] == "ok"
    assert ready["checks"]["migrations"] == "ok"
    assert set(ready["checks"].values()) == {"ok"}
