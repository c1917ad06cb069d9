"""OR28 refunds: only shipped lines, never above what is left, and how La Redoute processes them."""

from __future__ import annotations

from tests.sandbox.conftest import Sandbox, assert_mirakl_error, taxes_for


def refund_of(line: dict, amount: float, shipping: float = 0.0, quantity: int | None = None,
              reason: str = "DAMAGED_PRODUCT") -> dict:
    """A refund of the line with its taxes in proportion (see taxes_for)."""
    body = {"order_line_id": line["order_line_id"], "amount": amount,
            "shipping_amount": shipping, "reason_code": reason,
            **(taxes_for(line, amount, shipping) if "price" in line else {})}
    if quantity is not None:
        body["quantity"] = quantity
    return body


def test_refunds_in_one_call_share_an_order_refund_id(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=2)
    first, second = sandbox.shipped(order_id)["order_lines"]
    response = sandbox.refund(refund_of(first, first["price"], first["shipping_price"],
                                        first["quantity"]),
                              refund_of(second, 5.0, reason="GOODWILL"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order_tax_mode"] == "TAX_INCLUDED"
    one, two = body["refunds"]
    assert one["order_refund_id"] == two["order_refund_id"]
    assert one["refund_id"] != two["refund_id"]
    assert (one["amount"], one["shipping_amount"]) == (first["price"], first["shipping_price"])
    raw = sandbox.raw(order_id)
    [stored] = raw["order_lines"][0]["refunds"]
    assert stored["id"] == one["refund_id"]
    assert stored["refund_state"] == "WAITING_REFUND"
    assert raw["order_lines"][0]["can_refund"] is False  # nothing left to refund
    assert raw["order_lines"][1]["can_refund"] is True
    [group] = raw["order_refunds"]
    assert group["order_refund_id"] == one["order_refund_id"]
    [vat] = group["taxes"]  # the price and shipping VAT of both refunds
    refunded_vat = sum(t["amount"] for r in body["refunds"]
                       for t in r["taxes"] + r["shipping_taxes"])
    assert vat["code"] == "TVA-20" and vat["total_amount"] == round(refunded_vat, 2)


def test_refund_refusals(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.raw(order_id)["order_lines"]
    assert_mirakl_error(sandbox.refund(refund_of(line, 1.0)), 400, "ORDER_INVALID_STATE")
    sandbox.shipped(order_id)
    assert_mirakl_error(sandbox.refund(refund_of(line, 1.0, reason="OUT_OF_STOCK")), 400,
                        "REASON_CODE_INVALID")
    assert_mirakl_error(sandbox.refund(refund_of(line, line["price"] + 0.01)), 400,
                        "REFUND_AMOUNT_TOO_HIGH")
    assert_mirakl_error(sandbox.refund(refund_of(line, 0, line["shipping_price"] + 0.01)), 400,
                        "REFUND_AMOUNT_TOO_HIGH")
    # Two refunds of one line in one call add up.
    half = round(line["price"] / 2 + 0.01, 2)
    assert_mirakl_error(sandbox.refund(refund_of(line, half), refund_of(line, half)), 400,
                        "REFUND_AMOUNT_TOO_HIGH")
    assert_mirakl_error(sandbox.refund(refund_of(line, 1.0, quantity=line["quantity"] + 1)), 400,
                        "REFUND_QUANTITY_TOO_HIGH")
    assert_mirakl_error(sandbox.refund(refund_of({"order_line_id": "LR-1-A-1"}, 1.0)), 404,
                        "ORDER_LINE_NOT_FOUND")
    assert_mirakl_error(sandbox.refund(refund_of(line, -1.0)), 400, "VALIDATION_ERROR")
    assert_mirakl_error(sandbox.lr.put("/api/orders/refund", json={"refunds": []}), 400,
                        "VALIDATION_ERROR")
    assert sandbox.raw(order_id)["order_lines"][0]["refunds"] == []  # nothing applied


def test_a_second_refund_gets_only_what_is_left(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    first = sandbox.refund(refund_of(line, 10.0))
    assert first.status_code == 200, first.text
    left = round(line["price"] - 10.0, 2)
    assert_mirakl_error(sandbox.refund(refund_of(line, left + 0.01)), 400,
                        "REFUND_AMOUNT_TOO_HIGH")
    rest = refund_of(line, left, line["shipping_price"])
    rest["taxes"] = [{"code": "TVA-20", "amount": round(
        line["taxes"][0]["amount"] - first.json()["refunds"][0]["taxes"][0]["amount"], 2)}]
    assert sandbox.refund(rest).status_code == 200


def test_refunds_advance_by_hand_to_refunded(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    refund_id = sandbox.refund(refund_of(line, line["price"], line["shipping_price"])
                               ).json()["refunds"][0]["refund_id"]
    assert sandbox.post(f"/refunds/{refund_id}", {"action": "advance"})["refund_state"] == (
        "WAITING_REFUND_PAYMENT")
    done = sandbox.post(f"/refunds/{refund_id}", {"action": "advance"})
    assert done["refund_state"] == "REFUNDED" and done["transaction_date"]
    raw = sandbox.raw(order_id)
    assert raw["fully_refunded"] is True
    response = sandbox.control.post(f"/refunds/{refund_id}", json={"action": "advance"})
    assert_mirakl_error(response, 400, "REFUND_INVALID_STATE")
    assert_mirakl_error(sandbox.control.post("/refunds/RF-999999", json={"action": "advance"}),
                        404, "REFUND_NOT_FOUND")


def test_a_refused_refund_frees_its_amount(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    refund_id = sandbox.refund(refund_of(line, line["price"])).json()["refunds"][0]["refund_id"]
    refused = sandbox.post(f"/refunds/{refund_id}", {"action": "refuse", "reason": "EXPIRED_CARD"})
    assert refused["refund_state"] == "REFUSED"
    assert refused["refusal_reason"] == "EXPIRED_CARD"
    raw = sandbox.raw(order_id)
    assert raw["order_lines"][0]["refunds"][0]["refusal_reason"] == "EXPIRED_CARD"
    assert raw["order_lines"][0]["can_refund"] is True
    assert sandbox.refund(refund_of(line, line["price"])).status_code == 200


def test_refunds_advance_on_their_own_after_the_refund_delay(sandbox: Sandbox) -> None:
    sandbox.settings(refund_delay=600)
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    sandbox.refund(refund_of(line, 5.0))

    def state() -> str:
        return sandbox.raw(order_id)["order_lines"][0]["refunds"][0]["refund_state"]

    sandbox.advance(599)
    assert state() == "WAITING_REFUND"
    sandbox.advance(2)
    assert state() == "WAITING_REFUND_PAYMENT"
    sandbox.advance(600)
    assert state() == "REFUNDED"


def test_refunds_are_allowed_on_received_and_closed_orders(sandbox: Sandbox) -> None:
    received, closed = sandbox.orders(2, lines=1)
    for order_id in (received, closed):
        sandbox.shipped(order_id)
    sandbox.post(f"/orders/{received}/receive")
    sandbox.post(f"/orders/{closed}/close")
    for order_id in (received, closed):
        [line] = sandbox.raw(order_id)["order_lines"]
        assert sandbox.refund(refund_of(line, 1.0)).status_code == 200
