"""An order's money end to end, on both stores, against the sandbox counting taxes as Mirakl
does: the address held back until acceptance, the order shipped, one piece refunded with its
taxes and fees; the last piece of a line cancelled with its shipping and shipping taxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.order import OrderStatus
from app.domain.order_money import Charges
from tests.e2e.harness import Harness

D = Decimal


def _amount(value: Any) -> Decimal:
    return D(str(value)).quantize(D("0.01"))


def _by_code(items: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {item["code"]: _amount(item["amount"]) for item in items}


def _tax_mode(market: Harness, mode: str) -> None:
    response = market.control.put("/settings", json={"order_tax_mode": mode})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("mode", ["TAX_EXCLUDED", "TAX_INCLUDED"])
def test_hidden_address_accept_ship_and_a_partial_refund_with_taxes(
    market: Harness, mode: str
) -> None:
    _tax_mode(market, mode)
    (mid,) = market.generate(1, lines=3, delivery="home")
    assert market.import_round().errors == 0
    order = market.order(mid)
    assert order.shipping_address is None  # La Redoute shows it after acceptance
    raw = market.raw(mid)

    # The order's money is the marketplace's, line by line.
    assert (order.currency, order.tax_mode) == ("EUR", mode)
    assert order.goods_total == _amount(raw["price"])
    assert order.shipping_price == _amount(raw["shipping_price"])
    for line, mline in zip(order.lines, raw["order_lines"], strict=True):
        assert line.charged == Charges(
            price=_amount(mline["price"]), shipping=_amount(mline["shipping_price"]),
            taxes=_by_code(mline["taxes"]), shipping_taxes=_by_code(mline["shipping_taxes"]),
            fees=_by_code(mline.get("fees") or []),
        )  # fmt: skip
    assert order.taxes_total > 0
    paid = _amount(raw["total_price"])
    if mode == "TAX_EXCLUDED":
        paid += order.taxes_total
    assert order.order_total == paid

    market.service.accept(order.id)
    market.deliver_until_settled()
    market.import_round()
    assert market.order(mid).shipping_address is not None
    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    market.import_round()
    market.service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
    market.deliver_until_settled()
    market.import_round()
    assert market.order(mid).status == OrderStatus.SHIPPED

    # One piece of the line with the most pieces (and a fee when a line has one).
    order = market.order(mid)
    line = max(order.lines, key=lambda ln: (bool(ln.charged.fees), ln.quantity))
    market.service.request_refund(order.id, reason="DAMAGED_PRODUCT",
                                  refund_shipping=False, lines=[(line.line_id, 1)])
    part = market.order(mid).refunds[-1].charges[line.line_id]
    market.deliver_until_settled()
    assert market.order(mid).status == OrderStatus.TO_APPROVE

    (sent,) = [r for ml in market.raw(mid)["order_lines"] for r in ml["refunds"]]
    assert _amount(sent["amount"]) == part.price
    assert _by_code(sent["taxes"]) == dict(part.taxes)
    assert _by_code(sent.get("fees") or []) == dict(part.fees)
    assert _amount(sent["shipping_amount"]) == 0
    assert part.taxes and all(amount > 0 for amount in part.taxes.values())

    market.post(f"/refunds/{sent['id']}", {"action": "advance"})
    market.post(f"/refunds/{sent['id']}", {"action": "advance"})
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == part.total(mode)
    assert order.refundable_amount == order.order_total - part.total(mode)


def test_cancelling_a_lines_last_piece_cancels_its_shipping_and_its_taxes(
    market: Harness,
) -> None:
    _tax_mode(market, "TAX_EXCLUDED")
    order = market.to_ship(lines=3)
    mid = order.marketplace_order_id
    line = next((ln for ln in order.lines if ln.charged.shipping > 0), order.lines[0])

    market.service.cancel(order.id, reason="OUT_OF_STOCK", lines=[(line.line_id, line.quantity)])
    market.deliver_until_settled()

    (mline,) = [ml for ml in market.raw(mid)["order_lines"]
                if ml["order_line_id"] == line.line_id]
    (cancelation,) = mline["cancelations"]
    assert _amount(cancelation["amount"]) == line.charged.price
    assert _amount(cancelation["shipping_amount"]) == line.charged.shipping
    assert _by_code(cancelation["taxes"]) == dict(line.charged.taxes)
    assert _by_code(cancelation["shipping_taxes"]) == dict(line.charged.shipping_taxes)
    # What the marketplace has left on the line is nothing.
    assert _amount(mline["price"]) == 0 and _amount(mline["shipping_price"]) == 0
    order = market.order(mid)
    assert order.line(line.line_id).canceled == line.charged
    assert order.payable_total == order.order_total - line.charged.total("TAX_EXCLUDED")
