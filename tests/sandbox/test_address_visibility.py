"""OR11 holds the customer's addresses, contacts and notification email back until the
platform setting's step (La Redoute: acceptance); the flags a seller follows."""

from __future__ import annotations

from typing import Any

from sandbox.config import SandboxConfig
from sandbox.visibility import DEFAULT_ADDRESS_VISIBILITY
from tests.sandbox.conftest import Sandbox, assert_mirakl_error


def listed(sandbox: Sandbox, order_id: str) -> dict[str, Any]:
    (order,) = sandbox.lr.get("/api/orders", params={"order_ids": order_id}).json()["orders"]
    return order


def hidden(order: dict[str, Any]) -> bool:
    customer = order["customer"]
    return (
        customer["shipping_address"] is None
        and customer["billing_address"] is None
        and "customer_notification_email" not in order
    )


def test_la_redoute_shows_the_address_from_acceptance_on(sandbox: Sandbox) -> None:
    assert SandboxConfig().address_visibility == DEFAULT_ADDRESS_VISIBILITY == "acceptance"
    assert sandbox.control.get("/settings").json()["address_visibility"] == "acceptance"
    order_id = sandbox.order(delivery="relay", shop_id=2001)
    kept = sandbox.raw(order_id)

    new = listed(sandbox, order_id)
    assert hidden(new)
    # The rest of the order, the customer's name and the relay's id included, is there.
    assert (new["customer"]["firstname"], new["customer"]["lastname"]) == (
        kept["customer"]["firstname"], kept["customer"]["lastname"],
    )  # fmt: skip
    assert new["shipping_pudo_id"] == kept["shipping_pudo_id"]
    assert new["leadtime_to_ship"] >= 1 and new["shipping_deadline"]

    assert sandbox.accept(order_id).status_code == 204
    accepted = listed(sandbox, order_id)
    assert accepted["customer"]["shipping_address"] == kept["customer"]["shipping_address"]
    assert accepted["customer"]["billing_address"] == kept["customer"]["billing_address"]
    assert accepted["customer_notification_email"] == kept["customer_notification_email"]
    assert accepted["last_updated_date"] > new["last_updated_date"]


def test_a_refused_or_expired_order_never_shows_it(sandbox: Sandbox) -> None:
    refused = sandbox.order(shop_id=2001)
    assert sandbox.accept(refused, accepted=False).status_code == 204
    assert listed(sandbox, refused)["order_state"] == "REFUSED"
    assert hidden(listed(sandbox, refused))

    expired = sandbox.order(shop_id=2001)
    sandbox.advance(73 * 3600)
    assert listed(sandbox, expired)["order_state"] == "CANCELED"
    assert hidden(listed(sandbox, expired))


def test_the_shipping_setting_shows_it_once_the_payment_is_debited(sandbox: Sandbox) -> None:
    assert sandbox.settings(address_visibility="shipping")["address_visibility"] == "shipping"
    order_id = sandbox.order(shop_id=2001)
    assert sandbox.accept(order_id).status_code == 204
    assert hidden(listed(sandbox, order_id))

    sandbox.post(f"/orders/{order_id}/payment", {"outcome": "validate"})

    assert listed(sandbox, order_id)["customer"]["shipping_address"] is not None
    # Only the two steps the spec names; null is not a setting.
    for value in ("always", None):
        response = sandbox.control.put("/settings", json={"address_visibility": value})
        assert_mirakl_error(response, 400)


def test_the_customer_writing_and_an_incident_are_flags_that_date_the_order(
    sandbox: Sandbox,
) -> None:
    order_id = sandbox.order(shop_id=2001)
    before = listed(sandbox, order_id)
    assert (before["has_customer_message"], before["has_incident"]) == (False, False)
    sandbox.advance(5)

    sandbox.post(f"/orders/{order_id}/flags", {"has_customer_message": True, "has_incident": True})
    after = listed(sandbox, order_id)
    assert (after["has_customer_message"], after["has_incident"]) == (True, True)
    assert after["last_updated_date"] > before["last_updated_date"]

    sandbox.post(f"/orders/{order_id}/flags", {"has_incident": False})
    assert listed(sandbox, order_id)["has_incident"] is False
    assert listed(sandbox, order_id)["has_customer_message"] is True
    assert sandbox.control.post(f"/orders/{order_id}/flags",
                                json={"has_incident": None}).status_code == 400
