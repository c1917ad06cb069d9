"""The sandbox answers as the published Mirakl seller API says, in every state an order reaches.

Every request these tests send is checked against the spec before it leaves, and every 2xx
answer after it arrives. Orders are driven through every state, with refunds in each state,
cancelations, relay delivery and tracking, then read back through OR11.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, Timings
from tests.contract.spec import ContractError, validate_request, validate_response
from tests.support import LiveServer

KEYS = {2001: "sandbox-laredoute-key", 2002: "sandbox-labrandboutique-key"}


class CheckedShop:
    """A shop's API client whose requests and 2xx answers must all keep to the spec."""

    def __init__(self, url: str, shop_id: int) -> None:
        self.checked = 0
        self.client = httpx.Client(
            base_url=url, timeout=10, params={"shop_id": shop_id},
            headers={"Authorization": KEYS[shop_id]},
            event_hooks={"request": [validate_request], "response": [self._check]},
        )

    def _check(self, response: httpx.Response) -> None:
        if response.is_success:
            response.read()
            validate_response(response)
            self.checked += 1

    def get(self, path: str, **params: Any) -> httpx.Response:
        response = self.client.get(path, params={"shop_id": self.client.params["shop_id"],
                                                 **params})
        assert response.status_code == 200, response.text
        return response

    def put(self, path: str, body: dict[str, Any] | None = None, status: int = 204
            ) -> httpx.Response:
        response = (self.client.put(path, json=body) if body is not None
                    else self.client.put(path))
        assert response.status_code == status, response.text
        return response


class Zoo:
    """Orders of both shops in every state, made through the API and the control API."""

    def __init__(self, url: str) -> None:
        self.control = httpx.Client(base_url=f"{url}/control", timeout=10)
        self.lr = CheckedShop(url, 2001)
        self.lbb = CheckedShop(url, 2002)
        self.orders: dict[str, str] = {}

    def new(self, name: str, **options: Any) -> str:
        options.setdefault("shop_id", 2001)
        response = self.control.post("/orders", json={"count": 1, **options})
        assert response.status_code == 200, response.text
        self.orders[name] = response.json()["orders"][0]
        return self.orders[name]

    def raw(self, order_id: str) -> dict[str, Any]:
        return self.control.get(f"/orders/{order_id}").json()

    def control_post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(path, json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def accept(self, order_id: str, *decisions: bool, shop: CheckedShop | None = None) -> None:
        lines = self.raw(order_id)["order_lines"]
        decisions = decisions or (True,) * len(lines)
        (shop or self.lr).put(f"/api/orders/{order_id}/accept", {"order_lines": [
            {"id": ln["order_line_id"], "accepted": ok}
            for ln, ok in zip(lines, decisions, strict=True)]})

    def to_shipping(self, order_id: str, shop: CheckedShop | None = None) -> None:
        self.accept(order_id, shop=shop)
        self.control_post(f"/orders/{order_id}/payment", {"outcome": "validate"})

    def shipped(self, order_id: str, tracking: dict[str, str] | None = None,
                shop: CheckedShop | None = None) -> list[dict[str, Any]]:
        shop = shop or self.lr
        self.to_shipping(order_id, shop)
        shop.put(f"/api/orders/{order_id}/tracking",
                 tracking or {"carrier_code": "COLISSIMO", "tracking_number": "6A12345678901"})
        shop.put(f"/api/orders/{order_id}/ship")
        return self.raw(order_id)["order_lines"]

    def refund(self, line: dict[str, Any], amount: float) -> str:
        # The line's VAT is owed with the amount (required when the line has taxes).
        vat = [{"code": t["code"], "amount": 0.5} for t in line["taxes"]]
        shipping_vat = [{"code": t["code"], "amount": 0} for t in line["shipping_taxes"]]
        response = self.lr.put("/api/orders/refund", {"refunds": [{
            "order_line_id": line["order_line_id"], "amount": amount, "shipping_amount": 0,
            "taxes": vat, "shipping_taxes": shipping_vat,
            "reason_code": "PRODUCT_RETURNED", "quantity": 1, "currency_iso_code": "EUR"}]},
            status=200)
        return response.json()["refunds"][0]["refund_id"]


@pytest.fixture(scope="module")
def zoo() -> Iterator[Zoo]:
    manual = Timings(payment_delay=None, payment_refusal_rate=0.0, receive_delay=None,
                     close_delay=None, refund_delay=None)
    with LiveServer(create_sandbox_app(SandboxConfig(seed=2026, timings=manual))) as server:
        zoo = Zoo(server.url)
        zoo.new("deadline_canceled")
        zoo.control_post("/clock", {"advance_seconds": 73 * 3600})

        zoo.new("waiting_home", delivery="home", lines=3)
        zoo.new("waiting_relay", delivery="relay", lines=2)
        zoo.accept(zoo.new("waiting_debit", lines=2))
        zoo.accept(zoo.new("partly_refused", lines=2), True, False)
        zoo.accept(zoo.new("refused", lines=2), False, False)
        zoo.to_shipping(zoo.new("shipping", delivery="relay"))
        zoo.accept(zoo.new("payment_refused"))
        zoo.control_post(f"/orders/{zoo.orders['payment_refused']}/payment",
                         {"outcome": "refuse"})
        zoo.to_shipping(zoo.new("shop_canceled", lines=2))
        zoo.lr.put(f"/api/orders/{zoo.orders['shop_canceled']}/cancel")

        partial = zoo.new("line_canceled", lines=2)
        zoo.to_shipping(partial)
        line = zoo.raw(partial)["order_lines"][0]
        response = zoo.lr.put("/api/orders/cancel", {"cancelations": [{
            "order_line_id": line["order_line_id"], "quantity": line["quantity"],
            "amount": line["price"], "shipping_amount": line["shipping_price"],
            "taxes": [{"code": t["code"], "amount": t["amount"]} for t in line["taxes"]],
            "shipping_taxes": [{"code": t["code"], "amount": t["amount"]}
                               for t in line["shipping_taxes"]],
            "fees": [{"code": f["code"], "amount": f["amount"]} for f in line["fees"]],
            "reason_code": "OUT_OF_STOCK", "currency_iso_code": "EUR"}]}, status=200)
        assert response.json()["cancelations"][0]["order_line_id"] == line["order_line_id"]

        zoo.shipped(zoo.new("shipped_known_carrier", lines=2))
        zoo.shipped(zoo.new("shipped_other_carrier", delivery="relay"), tracking={
            "carrier_name": "Transports Dupont", "tracking_number": "XK-42",
            "carrier_url": "https://dupont.example/suivi/XK-42"})
        zoo.shipped(zoo.new("received"))
        zoo.control_post(f"/orders/{zoo.orders['received']}/receive")
        zoo.shipped(zoo.new("closed"))
        zoo.control_post(f"/orders/{zoo.orders['closed']}/close")

        lines = zoo.shipped(zoo.new("refunds_in_every_state", lines=4))
        waiting = zoo.refund(lines[0], 1.0)
        paying = zoo.refund(lines[1], 2.0)
        zoo.control_post(f"/refunds/{paying}", {"action": "advance"})
        refunded = zoo.refund(lines[2], 3.0)
        for _ in range(2):
            zoo.control_post(f"/refunds/{refunded}", {"action": "advance"})
        refused = zoo.refund(lines[3], 4.0)
        zoo.control_post(f"/refunds/{refused}", {"action": "refuse", "reason": "STOLEN_CARD"})
        assert waiting

        lbb = zoo.new("brand_boutique", shop_id=2002, lines=2)
        zoo.shipped(lbb, shop=zoo.lbb)
        yield zoo


def test_every_order_state_is_in_the_zoo(zoo: Zoo) -> None:
    states = {zoo.raw(order_id)["order_state"] for order_id in zoo.orders.values()}
    assert states == {"WAITING_ACCEPTANCE", "WAITING_DEBIT_PAYMENT", "SHIPPING", "SHIPPED",
                      "RECEIVED", "CLOSED", "REFUSED", "CANCELED"}
    refunds = zoo.raw(zoo.orders["refunds_in_every_state"])["order_lines"]
    assert [ln["refunds"][0]["refund_state"] for ln in refunds] == [
        "WAITING_REFUND", "WAITING_REFUND_PAYMENT", "REFUNDED", "REFUSED"]
    # Each accept, tracking, ship, cancel and refund answer above went through the check.
    calls = zoo.control.get("/calls").json()["calls"]
    answered = [c for c in calls if c["status"] and 200 <= c["status"] < 300]
    assert len(answered) > 20
    assert zoo.lr.checked + zoo.lbb.checked == len(answered)


def test_every_order_in_the_listing_keeps_to_the_spec(zoo: Zoo) -> None:
    before = zoo.lr.checked
    listed = zoo.lr.get("/api/orders", max=100).json()
    ours = [i for i in zoo.orders.values() if i.startswith("LR-")]
    assert sorted(o["order_id"] for o in listed["orders"]) == sorted(ours)
    assert zoo.lr.checked == before + 1  # the hook validated it


@pytest.mark.parametrize("state", ["WAITING_ACCEPTANCE", "WAITING_DEBIT_PAYMENT", "SHIPPING",
                                   "SHIPPED", "RECEIVED", "CLOSED", "REFUSED", "CANCELED"])
def test_each_state_filtered_alone_keeps_to_the_spec(zoo: Zoo, state: str) -> None:
    page = zoo.lr.get("/api/orders", order_state_codes=state, max=100).json()
    assert page["orders"] and {o["order_state"] for o in page["orders"]} == {state}


def test_each_order_read_by_id_keeps_to_the_spec(zoo: Zoo) -> None:
    for name, order_id in zoo.orders.items():
        shop = zoo.lbb if order_id.startswith("LBB-") else zoo.lr
        page = shop.get("/api/orders", order_ids=order_id).json()
        assert [o["order_id"] for o in page["orders"]] == [order_id], name


def test_paged_and_dated_listings_keep_to_the_spec(zoo: Zoo) -> None:
    total = zoo.lr.get("/api/orders", max=1).json()["total_count"]
    seen = []
    for offset in range(0, total, 7):
        seen += [o["order_id"] for o in zoo.lr.get("/api/orders", max=7, offset=offset)
                 .json()["orders"]]
    assert len(seen) == len(set(seen)) == total
    start = zoo.raw(zoo.orders["closed"])["last_updated_date"]
    recent = zoo.lr.get("/api/orders", start_update_date=start,
                        end_update_date="2100-01-01T00:00:00Z", channel_codes="LAREDOUTE").json()
    assert zoo.orders["closed"] in {o["order_id"] for o in recent["orders"]}


def test_reasons_and_carriers_keep_to_the_spec(zoo: Zoo) -> None:
    assert zoo.lr.get("/api/reasons").json()["reasons"]
    assert zoo.lbb.get("/api/shipping/carriers").json()["carriers"]


def test_special_orders_carry_the_fields_the_client_reads(zoo: Zoo) -> None:
    relay = zoo.raw(zoo.orders["shipped_other_carrier"])
    assert relay["shipping_type_code"] == "RELAY" and relay["shipping_pudo_id"]
    assert relay["shipping_company"] == "Transports Dupont"
    known = zoo.raw(zoo.orders["shipped_known_carrier"])
    assert known["shipping_carrier_code"] == "COLISSIMO" and known["shipping_tracking_url"]
    canceled = zoo.raw(zoo.orders["line_canceled"])
    assert canceled["order_lines"][0]["cancelations"]
    assert zoo.raw(zoo.orders["deadline_canceled"])["order_state_reason_code"] == (
        "ACCEPTANCE_DEADLINE_EXCEEDED")


def test_the_validator_would_catch_a_null_or_a_missing_field(zoo: Zoo) -> None:
    """Guard against a validator that passes everything."""
    order = zoo.raw(zoo.orders["waiting_home"])
    request = httpx.Request("GET", "http://127.0.0.1/api/orders",
                            headers={"Authorization": KEYS[2001]})
    for broken in ({**order, "shipping_pudo_id": None},
                   {k: v for k, v in order.items() if k != "order_lines"}):
        response = httpx.Response(200, json={"orders": [broken], "total_count": 1},
                                  request=request)
        with pytest.raises(ContractError):
            validate_response(response)
