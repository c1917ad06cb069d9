"""Money as Mirakl counts it: VAT per line in the order's tax mode, fees, promotions, totals,
and what OR28 refunds and OR30 cancelations must say of the taxes and fees they take."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from sandbox.config import SandboxConfig
from tests.sandbox.conftest import (
    Sandbox,
    assert_mirakl_error,
    manual_timings,
    start_sandbox,
    taxes_for,
)

CENT = Decimal("0.01")


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def check_order_money(raw: dict[str, Any], tax_mode: str, taxed: bool = True) -> None:
    """Every amount of the order follows from its lines, to the cent, in its tax mode."""
    assert raw["currency_iso_code"] == "EUR"
    assert raw["order_tax_mode"] == tax_mode
    price = shipping = total = commission = Decimal(0)
    for line in raw["order_lines"]:
        quantity = line["quantity"]
        assert d(line["price"]) == d(line["price_unit"]) * quantity
        assert d(line["shipping_price"]) == (
            d(line["shipping_price_unit"])
            + d(line["shipping_price_additional_unit"]) * (quantity - 1))
        for taxes, base in ((line["taxes"], line["price"]),
                            (line["shipping_taxes"], line["shipping_price"])):
            if not taxed:
                assert taxes == []
                continue
            [vat] = taxes
            assert vat["code"] == "TVA-20" and vat["rate"] == 20
            assert vat["tax_calculation_rule"] == "NONE"
            expected = (d(base) * 20 / 120 if tax_mode == "TAX_INCLUDED"
                        else d(base) * 20 / 100)
            assert d(vat["amount"]) == cents(expected)
        fees = sum((d(f["amount"]) for f in line["fees"]), Decimal(0))
        assert d(line["total_price"]) == d(line["price"]) + d(line["shipping_price"]) + fees
        if d(line["origin_unit_price"]) > d(line["price_unit"]):
            [promotion] = line["promotions"]
            assert d(promotion["deduced_amount"]) == (
                (d(line["origin_unit_price"]) - d(line["price_unit"])) * quantity)
            assert promotion["configuration"]["type"] == "PERCENTAGE_OFF"
        else:
            assert line["origin_unit_price"] == line["price_unit"]
            assert "promotions" not in line
        assert d(line["commission_fee"]) == cents(d(line["price"]) * d("0.15"))
        assert d(line["commission_vat"]) == cents(d(line["commission_fee"]) * d("0.20"))
        assert line["commission_taxes"] == [{"code": "TVA-20", "amount": line["commission_vat"],
                                             "rate": 20.0}]
        assert d(line["total_commission"]) == (
            d(line["commission_fee"]) + d(line["commission_vat"]))
        price += d(line["price"])
        shipping += d(line["shipping_price"])
        total += d(line["total_price"])
        commission += d(line["total_commission"])
    assert (d(raw["price"]), d(raw["shipping_price"]), d(raw["total_price"]),
            d(raw["total_commission"])) == (price, shipping, total, commission)


def lines_of(sandbox: Sandbox, ids: list[str]) -> list[dict[str, Any]]:
    return [line for order_id in ids for line in sandbox.raw(order_id)["order_lines"]]


def test_tax_included_orders_hold_their_vat_and_add_up(sandbox: Sandbox) -> None:
    assert sandbox.control.get("/settings").json()["order_tax_mode"] == "TAX_INCLUDED"
    ids = sandbox.orders(30, lines=3)
    for order_id in ids:
        check_order_money(sandbox.raw(order_id), "TAX_INCLUDED")
    lines = lines_of(sandbox, ids)
    # Some lines on promotion, some not; the eco-participation on furniture and lamps only.
    assert any(ln.get("promotions") for ln in lines)
    assert any(not ln.get("promotions") for ln in lines)
    with_fees = [ln for ln in lines if ln["fees"]]
    assert with_fees and {ln["category_code"] for ln in with_fees} <= {"mobilier", "luminaires"}
    assert all(f["code"] == "ECO_PARTICIPATION" for ln in with_fees for f in ln["fees"])


def test_tax_excluded_orders_put_their_vat_on_top(sandbox: Sandbox) -> None:
    before = sandbox.order()
    settings = sandbox.settings(order_tax_mode="TAX_EXCLUDED")
    assert settings["order_tax_mode"] == "TAX_EXCLUDED" and settings["taxes_enabled"] is True
    ids = sandbox.orders(20, lines=3)
    for order_id in ids:
        check_order_money(sandbox.raw(order_id), "TAX_EXCLUDED")
    # An order keeps the mode it was made in.
    assert sandbox.raw(before)["order_tax_mode"] == "TAX_INCLUDED"
    assert_mirakl_error(sandbox.control.put("/settings", json={"order_tax_mode": "NET"}), 400)
    assert_mirakl_error(sandbox.control.put("/settings", json={"order_tax_mode": None}), 400,
                        "VALIDATION_ERROR")


@pytest.fixture
def untaxed() -> Iterator[Sandbox]:
    yield from start_sandbox(SandboxConfig(seed=7, timings=manual_timings(),
                                           tick_interval=0.05, taxes_enabled=False))


def test_orders_without_taxes_take_refunds_and_cancelations_without_taxes(
        untaxed: Sandbox) -> None:
    assert untaxed.control.get("/settings").json()["taxes_enabled"] is False
    shipped, shipping = untaxed.orders(2, lines=2)
    for order_id in (shipped, shipping):
        check_order_money(untaxed.raw(order_id), "TAX_INCLUDED", taxed=False)
    [line, _] = untaxed.shipped(shipped)["order_lines"]
    refunded = untaxed.refund({"order_line_id": line["order_line_id"], "amount": 1.0,
                               "shipping_amount": 0, "reason_code": "DAMAGED_PRODUCT"})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refunds"][0]["taxes"] == []
    # A tax the line does not have is still refused.
    assert_mirakl_error(untaxed.refund({
        "order_line_id": line["order_line_id"], "amount": 1.0, "shipping_amount": 0,
        "reason_code": "DAMAGED_PRODUCT", "taxes": [{"code": "TVA-20", "amount": 0.1}]}),
        400, "TAX_CODE_INVALID")
    [first, _] = untaxed.to_shipping(shipping)["order_lines"]
    canceled = untaxed.lr.put("/api/orders/cancel", json={"cancelations": [{
        "order_line_id": first["order_line_id"], "quantity": 1, "amount": first["price_unit"],
        "shipping_amount": 0, "reason_code": "OUT_OF_STOCK"}]})
    assert canceled.status_code == 200, canceled.text
    # Switched on again, new orders carry VAT.
    untaxed.settings(taxes_enabled=True)
    check_order_money(untaxed.raw(untaxed.order()), "TAX_INCLUDED")


def refund(line: dict[str, Any], amount: float, shipping: float = 0.0, **parts: Any
           ) -> dict[str, Any]:
    return {"order_line_id": line["order_line_id"], "amount": amount,
            "shipping_amount": shipping, "reason_code": "DAMAGED_PRODUCT", **parts}


def vat(amount: float, code: str = "TVA-20") -> list[dict[str, Any]]:
    return [{"code": code, "amount": amount}]


def test_a_refund_of_a_taxed_line_says_its_taxes(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    tax = line["taxes"][0]["amount"]
    shipping_tax = line["shipping_taxes"][0]["amount"]
    body = assert_mirakl_error(sandbox.refund(refund(line, 10.0)), 400, "TAXES_REQUIRED")
    assert line["order_line_id"] in body["message"] and "TVA-20" in body["message"]
    assert_mirakl_error(sandbox.refund(refund(line, 10.0, taxes=[])), 400, "TAXES_REQUIRED")
    assert_mirakl_error(sandbox.refund(refund(line, 10.0, taxes=vat(1.0))), 400,
                        "SHIPPING_TAXES_REQUIRED")
    given = {"shipping_taxes": vat(0)}
    assert_mirakl_error(sandbox.refund(refund(line, 10.0, taxes=vat(1.0, "TVA-5.5"), **given)),
                        400, "TAX_CODE_INVALID")
    assert_mirakl_error(sandbox.refund(refund(line, 10.0, taxes=vat(1.0), **given,
                                              fees=[{"code": "DEEE", "amount": 1.0}])),
                        400, "FEE_CODE_INVALID")
    assert_mirakl_error(sandbox.refund(refund(line, 10.0, taxes=vat(tax + 0.01), **given)),
                        400, "REFUND_AMOUNT_TOO_HIGH")
    assert_mirakl_error(sandbox.refund(refund(line, 0, line["shipping_price"], taxes=vat(0),
                                              shipping_taxes=vat(shipping_tax + 0.01))),
                        400, "REFUND_AMOUNT_TOO_HIGH")
    # The same tax code over two refunds of the call adds up.
    half = round(tax / 2 + 0.01, 2)
    assert_mirakl_error(sandbox.refund(refund(line, 1.0, taxes=vat(half), **given),
                                       refund(line, 1.0, taxes=vat(half), **given)),
                        400, "REFUND_AMOUNT_TOO_HIGH")
    mode = sandbox.lr.put("/api/orders/refund", json={
        "order_tax_mode": "TAX_EXCLUDED", "refunds": [refund(line, 10.0, taxes=vat(1.0),
                                                             **given)]})
    assert_mirakl_error(mode, 400, "ORDER_TAX_MODE_INVALID")
    assert sandbox.raw(order_id)["order_lines"][0]["refunds"] == []  # nothing applied

    response = sandbox.lr.put("/api/orders/refund", json={
        "order_tax_mode": "TAX_INCLUDED", "refunds": [refund(line, 10.0, taxes=vat(1.67),
                                                             **given)]})
    assert response.status_code == 200, response.text
    assert response.json()["order_tax_mode"] == "TAX_INCLUDED"
    [answer] = response.json()["refunds"]
    assert answer["taxes"] == [{"code": "TVA-20", "amount": 1.67, "rate": 20.0}]
    assert answer["shipping_taxes"] == [{"code": "TVA-20", "amount": 0.0, "rate": 20.0}]
    assert answer["fees"] == []
    raw = sandbox.raw(order_id)
    [recorded] = raw["order_lines"][0]["refunds"]
    assert recorded["taxes"] == answer["taxes"]
    assert recorded["shipping_taxes"] == answer["shipping_taxes"]
    assert raw["order_refunds"] == [{"order_refund_id": answer["order_refund_id"], "taxes": [
        {"code": "TVA-20", "rate": 20.0, "total_amount": 1.67}]}]
    check_order_money(raw, "TAX_INCLUDED")  # a refund changes none of the line's amounts

    # What is left of the VAT, to the cent, and no more.
    left = round(tax - 1.67, 2)
    rest = round(line["price"] - 10.0, 2)
    assert_mirakl_error(sandbox.refund(refund(line, rest, taxes=vat(round(left + 0.01, 2)),
                                              **given)), 400, "REFUND_AMOUNT_TOO_HIGH")
    assert sandbox.refund(refund(line, rest, taxes=vat(left), **given)).status_code == 200


def test_a_refused_refund_frees_its_taxes(sandbox: Sandbox) -> None:
    order_id = sandbox.order(lines=1)
    [line] = sandbox.shipped(order_id)["order_lines"]
    whole = refund(line, line["price"], line["shipping_price"],
                   **taxes_for(line, line["price"], line["shipping_price"]))
    refund_id = sandbox.refund(whole).json()["refunds"][0]["refund_id"]
    assert_mirakl_error(sandbox.refund(refund(line, 0, taxes=vat(0.01), shipping_taxes=vat(0))),
                        400, "REFUND_AMOUNT_TOO_HIGH")
    sandbox.post(f"/refunds/{refund_id}", {"action": "refuse"})
    assert sandbox.refund(whole).status_code == 200


def a_line_with_fees(sandbox: Sandbox, min_quantity: int = 1) -> tuple[str, dict[str, Any]]:
    for _ in range(40):
        order_id = sandbox.order(lines=5)
        for line in sandbox.raw(order_id)["order_lines"]:
            if line["fees"] and line["quantity"] >= min_quantity:
                return order_id, line
    raise AssertionError("no line with fees in 200 lines")


def test_fees_are_refunded_by_code_and_never_beyond_the_line(sandbox: Sandbox) -> None:
    order_id, line = a_line_with_fees(sandbox)
    sandbox.shipped(order_id)
    [fee] = line["fees"]
    parts = {"taxes": vat(0), "shipping_taxes": vat(0)}
    too_much = [{"code": fee["code"], "amount": round(fee["amount"] + 0.01, 2)}]
    assert_mirakl_error(sandbox.refund(refund(line, 0, fees=too_much, **parts)), 400,
                        "REFUND_AMOUNT_TOO_HIGH")
    response = sandbox.refund(refund(line, 0, fees=[fee], **parts))  # the fee alone
    assert response.status_code == 200, response.text
    assert response.json()["refunds"][0]["fees"] == [fee]
    assert sandbox.raw(order_id)["order_lines"][line["order_line_index"] - 1]["refunds"][0][
        "fees"] == [fee]
    assert_mirakl_error(sandbox.refund(refund(line, 0, fees=[{**fee, "amount": 0.01}],
                                              **parts)), 400, "REFUND_AMOUNT_TOO_HIGH")


def cancel(sandbox: Sandbox, line: dict[str, Any], quantity: int, amount: float,
           shipping: float = 0.0, order_tax_mode: str | None = None, **parts: Any
           ) -> httpx.Response:
    body: dict[str, Any] = {"cancelations": [{
        "order_line_id": line["order_line_id"], "quantity": quantity, "amount": amount,
        "shipping_amount": shipping, "reason_code": "OUT_OF_STOCK", **parts}]}
    if order_tax_mode:
        body["order_tax_mode"] = order_tax_mode
    return sandbox.lr.put("/api/orders/cancel", json=body)


def test_a_cancelation_of_a_taxed_line_says_its_taxes_and_lowers_them(
        sandbox: Sandbox) -> None:
    sandbox.settings(order_tax_mode="TAX_EXCLUDED")
    order_id, line = a_line_with_fees(sandbox, min_quantity=2)  # one item cancelled of two
    sandbox.to_shipping(order_id)
    tax = line["taxes"][0]["amount"]
    shipping_tax = line["shipping_taxes"][0]["amount"]
    [fee] = line["fees"]
    unit = line["price_unit"]
    assert_mirakl_error(cancel(sandbox, line, 1, unit), 400, "TAXES_REQUIRED")
    assert_mirakl_error(cancel(sandbox, line, 1, unit, taxes=vat(1.0)), 400,
                        "SHIPPING_TAXES_REQUIRED")
    given = {"shipping_taxes": vat(0)}
    assert_mirakl_error(cancel(sandbox, line, 1, unit, taxes=vat(1.0, "TVA-10"), **given),
                        400, "TAX_CODE_INVALID")
    assert_mirakl_error(cancel(sandbox, line, 1, unit, taxes=vat(tax + 0.01), **given), 400,
                        "CANCELATION_AMOUNT_TOO_HIGH")
    assert_mirakl_error(cancel(sandbox, line, 1, unit, taxes=vat(0),
                               shipping_taxes=vat(shipping_tax + 0.01)), 400,
                        "CANCELATION_AMOUNT_TOO_HIGH")
    assert_mirakl_error(cancel(sandbox, line, 1, unit, taxes=vat(0), **given,
                               fees=[{**fee, "amount": round(fee["amount"] + 0.01, 2)}]),
                        400, "CANCELATION_AMOUNT_TOO_HIGH")
    assert_mirakl_error(cancel(sandbox, line, 1, unit, order_tax_mode="TAX_INCLUDED",
                               taxes=vat(0), **given),
                        400, "ORDER_TAX_MODE_INVALID")
    assert sandbox.raw(order_id)["order_lines"][line["order_line_index"] - 1][
        "cancelations"] == []

    unit_tax = round(unit * 0.2, 2)
    unit_fee = round(fee["amount"] / line["quantity"], 2)
    shipping = round(line["shipping_price"] / 2, 2)
    response = cancel(sandbox, line, 1, unit, shipping, order_tax_mode="TAX_EXCLUDED",
                      taxes=vat(unit_tax), shipping_taxes=vat(0.01),
                      fees=[{**fee, "amount": unit_fee}])
    assert response.status_code == 200, response.text
    assert response.json()["order_tax_mode"] == "TAX_EXCLUDED"
    [answer] = response.json()["cancelations"]
    assert answer["taxes"] == [{"code": "TVA-20", "amount": unit_tax, "rate": 20.0}]
    assert answer["shipping_taxes"] == [{"code": "TVA-20", "amount": 0.01, "rate": 20.0}]
    assert answer["fees"] == [{"code": fee["code"], "amount": unit_fee}]
    raw = sandbox.raw(order_id)
    after = raw["order_lines"][line["order_line_index"] - 1]
    [recorded] = after["cancelations"]
    assert (recorded["taxes"], recorded["shipping_taxes"], recorded["fees"]) == (
        answer["taxes"], answer["shipping_taxes"], answer["fees"])
    assert d(after["price"]) == d(line["price"]) - d(unit)
    assert d(after["shipping_price"]) == d(line["shipping_price"]) - d(shipping)
    assert d(after["taxes"][0]["amount"]) == d(tax) - d(unit_tax)
    assert d(after["shipping_taxes"][0]["amount"]) == d(shipping_tax) - d("0.01")
    assert d(after["fees"][0]["amount"]) == d(fee["amount"]) - d(unit_fee)
    assert d(after["total_price"]) == (
        d(after["price"]) + d(after["shipping_price"]) + d(after["fees"][0]["amount"]))
    others = sum((d(ln["total_price"]) for ln in raw["order_lines"]), Decimal(0))
    assert d(raw["total_price"]) == others

    # Only what is left of the VAT can still be cancelled.
    left = float(d(tax) - d(unit_tax))
    assert_mirakl_error(cancel(sandbox, after, 1, 0, taxes=vat(round(left + 0.01, 2)),
                               **given), 400, "CANCELATION_AMOUNT_TOO_HIGH")


def test_cancelling_a_whole_order_takes_off_its_taxes_and_fees(sandbox: Sandbox) -> None:
    order_id, line = a_line_with_fees(sandbox)
    sandbox.to_shipping(order_id)
    assert sandbox.lr.put(f"/api/orders/{order_id}/cancel").status_code == 204
    raw = sandbox.raw(order_id)
    assert raw["total_price"] == 0
    after = raw["order_lines"][line["order_line_index"] - 1]
    [cancelation] = after["cancelations"]
    assert cancelation["taxes"] == [{"code": "TVA-20", "amount": line["taxes"][0]["amount"],
                                     "rate": 20.0}]
    assert cancelation["fees"] == line["fees"]
    assert after["taxes"][0]["amount"] == 0 and after["shipping_taxes"][0]["amount"] == 0
    assert after["fees"][0]["amount"] == 0
