"""The control API: generated orders, corrupt ones, forced states, the call log, demo mode."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from sandbox.app import create_sandbox_app
from sandbox.catalog import ean13
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import Sandbox, assert_mirakl_error, manual_timings, start_sandbox


def ean_is_valid(code: str) -> bool:
    return bool(re.fullmatch(r"\d{13}", code)) and ean13(code[:12]) == code


def test_ean13_check_digit_matches_gs1() -> None:
    assert ean13("400638133393") == "4006381333931"
    assert ean13("590123412345") == "5901234123457"


def test_generated_orders_look_like_la_redoute_orders(sandbox: Sandbox) -> None:
    ids = sandbox.orders(40)
    for order_id in ids:
        raw = sandbox.raw(order_id)
        assert re.fullmatch(r"LR-\d{8}-A", order_id)
        assert raw["commercial_id"] == order_id[:-2]
        assert raw["channel"] == {"code": "LAREDOUTE", "label": "La Redoute"}
        assert raw["currency_iso_code"] == "EUR"
        assert raw["created_date"].endswith("Z")
        customer = raw["customer"]
        assert customer["locale"] == "fr_FR"
        for address in (customer["shipping_address"], customer["billing_address"]):
            assert address["country_iso_code"] == "FRA" and address["country"] == "France"
            assert re.fullmatch(r"\d{5}", address["zip_code"])
        assert 1 <= len(raw["order_lines"]) <= 5
        total = Decimal(0)
        for index, line in enumerate(raw["order_lines"], start=1):
            assert line["order_line_id"] == f"{order_id}-{index}"
            assert line["order_line_index"] == index
            assert len(line["offer_sku"]) <= 32
            [ean] = line["order_line_additional_fields"]
            assert ean["code"] == "ean" and ean_is_valid(ean["value"])
            assert Decimal(str(line["price"])) == (
                Decimal(str(line["price_unit"])) * line["quantity"])
            total += Decimal(str(line["price"]))
        assert Decimal(str(raw["price"])) == total
        fees = sum((Decimal(str(f["amount"])) for ln in raw["order_lines"] for f in ln["fees"]),
                   Decimal(0))
        assert Decimal(str(raw["total_price"])) == (
            total + Decimal(str(raw["shipping_price"])) + fees)
    kinds = {sandbox.raw(i)["shipping_type_code"] for i in ids}
    assert kinds == {"HOME", "RELAY"}


def test_relay_orders_carry_the_relay_and_its_address(sandbox: Sandbox) -> None:
    raw = sandbox.raw(sandbox.order(delivery="relay", lines=3))
    assert raw["shipping_type_code"] == "RELAY"
    assert raw["shipping_pudo_id"]
    shipping = raw["customer"]["shipping_address"]
    assert shipping["company"] and shipping["street_1"] and shipping["city"]
    assert len(raw["order_lines"]) == 3
    home = sandbox.raw(sandbox.order(delivery="home"))
    assert home["shipping_type_code"] == "HOME" and "shipping_pudo_id" not in home


def test_orders_without_a_shop_are_spread_over_both_shops(sandbox: Sandbox) -> None:
    response = sandbox.control.post("/orders", json={"count": 30})
    ids = response.json()["orders"]
    assert len(ids) == 30
    assert {i.split("-")[0] for i in ids} == {"LR", "LBB"}
    lbb = sandbox.raw(next(i for i in ids if i.startswith("LBB-")))
    assert lbb["channel"]["code"] == "LABRANDBOUTIQUE"
    assert_mirakl_error(sandbox.control.post("/orders", json={"shop_id": 9}), 404)
    assert sandbox.control.post("/orders", json={"lines": 6}).status_code == 400


def test_a_seed_gives_the_same_orders() -> None:
    def generate() -> list[tuple]:
        config = SandboxConfig(seed=99, timings=manual_timings())
        for sandbox in start_sandbox(config):
            ids = sandbox.orders(5)
            return [(i, sandbox.raw(i)["customer"]["lastname"],
                     [ln["offer_sku"] for ln in sandbox.raw(i)["order_lines"]]) for i in ids]
        raise AssertionError("no sandbox")

    assert generate() == generate()


def test_corrupt_orders(sandbox: Sandbox) -> None:
    no_lines = sandbox.order(corrupt="no_lines")
    bad_price = sandbox.order(corrupt="bad_price")
    unknown = sandbox.order(corrupt="unknown_state")
    assert sandbox.raw(no_lines)["order_lines"] == []
    assert isinstance(sandbox.raw(bad_price)["order_lines"][0]["price_unit"], str)
    assert sandbox.raw(unknown)["order_state"] == "WAITING_SCORING"
    listed = sandbox.lr.get("/api/orders", params={"order_ids": ",".join(
        [no_lines, bad_price, unknown])})
    assert listed.status_code == 200 and listed.json()["total_count"] == 3
    # A corrupt order still goes through the marketplace's motions.
    sandbox.advance(73 * 3600)
    assert sandbox.raw(bad_price)["order_state"] == "CANCELED"


def test_forcing_a_raw_state(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    forced = sandbox.post(f"/orders/{order_id}/state", {"state": "TELEPORTED"})
    assert forced["order_state"] == "TELEPORTED"
    listed = sandbox.lr.get("/api/orders", params={"order_state_codes": "TELEPORTED"}).json()
    assert [o["order_id"] for o in listed["orders"]] == [order_id]
    sandbox.advance(100 * 3600)  # no deadline for a state the marketplace does not know
    assert sandbox.raw(order_id)["order_state"] == "TELEPORTED"
    assert_mirakl_error(sandbox.control.post("/orders/LR-0-A/state", json={"state": "X"}), 404,
                        "ORDER_NOT_FOUND")
    assert_mirakl_error(sandbox.control.get("/orders/LR-0-A"), 404, "ORDER_NOT_FOUND")


def test_the_call_log_records_each_marketplace_call(sandbox: Sandbox) -> None:
    order_id, other = sandbox.orders(2)
    [line] = sandbox.raw(order_id)["order_lines"][:1]
    sandbox.lr.get("/api/orders", params={"order_ids": order_id})
    sandbox.accept(order_id)
    sandbox.accept(order_id)  # refused: already accepted
    sandbox.lr.put("/api/orders/refund", json={"refunds": [{
        "order_line_id": line["order_line_id"], "amount": 1, "shipping_amount": 0,
        "reason_code": "GOODWILL"}]})
    calls = sandbox.calls(order_id=order_id)
    assert [(c["operation"], c["status"]) for c in calls] == [
        ("OR11", 200), ("OR21", 204), ("OR21", 400), ("OR28", 400)]
    assert all(c["order_id"] == order_id and c["time"].endswith("Z") for c in calls)
    assert [c["status"] for c in sandbox.calls(operation="OR21", order_id=order_id)] == [204, 400]
    assert sandbox.calls(order_id=other) == []
    sandbox.raw(other)  # control calls are not marketplace calls
    assert all(c["path"].startswith("/api/") for c in sandbox.calls())


def test_demo_mode_keeps_generating_orders() -> None:
    config = SandboxConfig(seed=5, timings=manual_timings(), tick_interval=0.02)
    for sandbox in start_sandbox(config):
        assert sandbox.lr.get("/api/orders").json()["total_count"] == 0
        sandbox.settings(demo_orders_per_minute=1200)  # 20 a second
        time.sleep(0.6)
        sandbox.settings(demo_orders_per_minute=0)
        made = (sandbox.lr.get("/api/orders").json()["total_count"]
                + sandbox.lbb.get("/api/orders").json()["total_count"])
        assert 4 <= made <= 20
        time.sleep(0.1)
        again = (sandbox.lr.get("/api/orders").json()["total_count"]
                 + sandbox.lbb.get("/api/orders").json()["total_count"])
        assert again == made  # stopped


def test_every_control_route_is_documented() -> None:
    schema = create_sandbox_app(SandboxConfig()).openapi()
    control = {path: ops for path, ops in schema["paths"].items() if path.startswith("/control")}
    assert set(control) == {
        "/control/orders", "/control/orders/{order_id}", "/control/orders/{order_id}/payment",
        "/control/orders/{order_id}/receive", "/control/orders/{order_id}/close",
        "/control/orders/{order_id}/state", "/control/orders/{order_id}/flags",
        "/control/refunds/{refund_id}", "/control/clock",
        "/control/settings", "/control/faults", "/control/calls", "/control/offer-imports",
        "/control/offer-imports/{import_id}/complete", "/control/offers",
        "/control/catalogue/unknown-products"}
    for ops in control.values():
        for op in ops.values():
            assert op["summary"], op
    assert {schema["paths"]["/api/orders"]["get"]["operationId"]} == {"OR11"}
