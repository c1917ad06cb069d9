"""OR21 accept, OR23 tracking, OR24 ship, OR29 / OR30 cancel: the rules and their refusals."""

from __future__ import annotations

from tests.sandbox.conftest import Sandbox, assert_mirakl_error, taxes_for


def decisions(raw: dict, *accepted: bool) -> dict:
    return {"order_lines": [{"id": ln["order_line_id"], "accepted": ok}
                            for ln, ok in zip(raw["order_lines"], accepted, strict=True)]}


def test_accepting_every_line_waits_for_the_debit(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    response = sandbox.accept(order_id)
    assert response.status_code == 204 and response.content == b""
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "WAITING_DEBIT_PAYMENT"
    assert raw["acceptance_decision_date"] == raw["last_updated_date"]
    assert [ln["order_line_state"] for ln in raw["order_lines"]] == ["WAITING_DEBIT_PAYMENT"] * 2


def test_refusing_some_lines_keeps_the_order_and_all_lines_refuses_it(sandbox: Sandbox) -> None:
    partly, wholly = sandbox.orders(2, lines=2)
    raw = sandbox.raw(partly)
    assert sandbox.lr.put(f"/api/orders/{partly}/accept",
                          json=decisions(raw, True, False)).status_code == 204
    raw = sandbox.raw(partly)
    assert raw["order_state"] == "WAITING_DEBIT_PAYMENT"
    assert [ln["order_line_state"] for ln in raw["order_lines"]] == [
        "WAITING_DEBIT_PAYMENT", "REFUSED"]
    assert sandbox.accept(wholly, accepted=False).status_code == 204
    raw = sandbox.raw(wholly)
    assert raw["order_state"] == "REFUSED"
    assert {ln["order_line_state"] for ln in raw["order_lines"]} == {"REFUSED"}


def test_acceptance_refusals_name_the_broken_rule(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    raw = sandbox.raw(order_id)
    first, second = (ln["order_line_id"] for ln in raw["order_lines"])
    url = f"/api/orders/{order_id}/accept"

    def put(*lines: tuple[str, bool]) -> object:
        return sandbox.lr.put(url, json={"order_lines": [{"id": i, "accepted": a}
                                                         for i, a in lines]})

    assert_mirakl_error(put((first, True)), 400, "ORDER_LINE_ACCEPTANCE_DECISION_MISSING")
    assert_mirakl_error(put((first, True), (first, False), (second, True)), 400,
                        "ORDER_LINE_DUPLICATE_ID")
    assert_mirakl_error(put((first, True), (second, True), ("LR-00000000-A-9", True)), 400,
                        "ORDER_LINE_NOT_FOUND")
    assert_mirakl_error(sandbox.lr.put(url, json={"order_lines": [{"id": first}]}), 400,
                        "VALIDATION_ERROR")
    assert_mirakl_error(sandbox.lr.put(url, content=b"{not json",
                                       headers={"Content-Type": "application/json"}), 400)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_ACCEPTANCE"  # nothing applied
    assert_mirakl_error(sandbox.lr.put("/api/orders/LR-99999999-A/accept",
                                       json={"order_lines": []}), 404, "ORDER_NOT_FOUND")
    assert put((first, True), (second, True)).status_code == 204
    assert_mirakl_error(put((first, True), (second, True)), 400, "ORDER_INVALID_STATE")


def test_tracking_with_a_registered_carrier_builds_its_url(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    url = f"/api/orders/{order_id}/tracking"
    body = {"carrier_code": "COLISSIMO", "tracking_number": "6A12345678901"}
    assert_mirakl_error(sandbox.lr.put(url, json=body), 400, "ORDER_INVALID_STATE")
    sandbox.to_shipping(order_id)
    assert sandbox.lr.put(url, json=body).status_code == 204
    raw = sandbox.raw(order_id)
    assert raw["shipping_carrier_code"] == "COLISSIMO"
    assert raw["shipping_company"] == "Colissimo"
    assert raw["shipping_tracking"] == "6A12345678901"
    assert raw["shipping_tracking_url"] == (
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901")


def test_tracking_with_an_unregistered_carrier_keeps_its_name_and_url(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.to_shipping(order_id)
    url = f"/api/orders/{order_id}/tracking"
    assert_mirakl_error(sandbox.lr.put(url, json={"carrier_code": "PIGEON",
                                                  "tracking_number": "1"}), 400,
                        "CARRIER_NOT_FOUND")
    assert_mirakl_error(sandbox.lr.put(url, json={"tracking_number": "1"}), 400,
                        "VALIDATION_ERROR")
    assert_mirakl_error(sandbox.lr.put(url, json={"carrier_name": "Dupont",
                                                  "carrier_url": "dupont.example/XK-42"}), 400,
                        "VALIDATION_ERROR")
    assert_mirakl_error(sandbox.lr.put(url, json={"carrier_code": "UPS",
                                                  "tracking_number": "1" * 33}), 400,
                        "VALIDATION_ERROR")
    assert sandbox.lr.put(url, json={"carrier_name": "Transports Dupont",
                                     "carrier_url": "https://dupont.example/suivi/XK-42",
                                     "tracking_number": "XK-42"}).status_code == 204
    raw = sandbox.raw(order_id)
    assert "shipping_carrier_code" not in raw
    assert raw["shipping_company"] == "Transports Dupont"
    assert raw["shipping_tracking_url"] == "https://dupont.example/suivi/XK-42"
    # Still allowed once shipped, to correct a number.
    assert sandbox.lr.put(f"/api/orders/{order_id}/ship").status_code == 204
    assert sandbox.lr.put(url, json={"carrier_code": "DHL",
                                     "tracking_number": "JD0001"}).status_code == 204
    assert sandbox.raw(order_id)["shipping_tracking_url"].endswith("tracking-id=JD0001")


def test_shipping_moves_the_order_and_its_lines_once(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{order_id}/ship"), 400,
                        "ORDER_INVALID_STATE")
    sandbox.to_shipping(order_id)
    raw = sandbox.raw(order_id)
    assert raw["can_shop_ship"] is True and raw["can_cancel"] is True
    assert sandbox.lr.put(f"/api/orders/{order_id}/ship").status_code == 204
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "SHIPPED"
    assert raw["can_shop_ship"] is False and raw["can_cancel"] is False
    assert all(ln["order_line_state"] == "SHIPPED" and ln["shipped_date"]
               for ln in raw["order_lines"])
    assert all(ln["can_refund"] for ln in raw["order_lines"])
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{order_id}/ship"), 400,
                        "ORDER_INVALID_STATE")


def test_cancelling_a_whole_order_before_shipment(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{order_id}/cancel"), 400,
                        "ORDER_INVALID_STATE")
    before = sandbox.to_shipping(order_id)
    assert sandbox.lr.put(f"/api/orders/{order_id}/cancel").status_code == 204
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "CANCELED"
    assert raw["order_state_reason_code"] == "SHOP_CANCELED"
    assert raw["price"] == 0 and raw["total_price"] == 0
    for old, line in zip(before["order_lines"], raw["order_lines"], strict=True):
        assert line["order_line_state"] == "CANCELED"
        [cancelation] = line["cancelations"]
        assert cancelation["quantity"] == old["quantity"]
        assert cancelation["amount"] == old["price"]
        assert cancelation["shipping_amount"] == old["shipping_price"]
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{order_id}/cancel"), 400,
                        "ORDER_INVALID_STATE")


def test_cancelling_quantities_line_by_line(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    raw = sandbox.to_shipping(order_id)
    first, second = raw["order_lines"]

    def cancel(line: dict, quantity: int, amount: float, shipping: float = 0.0,
               reason: str = "OUT_OF_STOCK") -> object:
        return sandbox.lr.put("/api/orders/cancel", json={"cancelations": [{
            "order_line_id": line["order_line_id"], "quantity": quantity, "amount": amount,
            "shipping_amount": shipping, "reason_code": reason,
            **(taxes_for(line, amount, shipping) if "price" in line else {})}]})

    assert_mirakl_error(cancel(first, 1, 1.0, reason="DAMAGED_PRODUCT"), 400,
                        "REASON_CODE_INVALID")
    assert_mirakl_error(cancel(first, first["quantity"] + 1, 1.0), 400,
                        "CANCELATION_QUANTITY_TOO_HIGH")
    assert_mirakl_error(cancel(first, 1, first["price"] + 1), 400, "CANCELATION_AMOUNT_TOO_HIGH")
    assert_mirakl_error(cancel({"order_line_id": "LR-00000000-A-1"}, 1, 1.0), 404,
                        "ORDER_LINE_NOT_FOUND")

    response = cancel(first, first["quantity"], first["price"], first["shipping_price"])
    assert response.status_code == 200, response.text
    [answer] = response.json()["cancelations"]
    assert answer["order_line_id"] == first["order_line_id"]
    assert answer["reason_code"] == "OUT_OF_STOCK" and answer["cancelation_id"]
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "SHIPPING"  # the other line goes on
    assert raw["order_lines"][0]["order_line_state"] == "CANCELED"
    assert raw["order_lines"][0]["price"] == 0
    assert raw["price"] == second["price"]

    assert cancel(second, second["quantity"], second["price"],
                  second["shipping_price"]).status_code == 200
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "CANCELED"
    assert raw["order_state_reason_code"] == "SHOP_CANCELED"
