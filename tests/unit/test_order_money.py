"""An order's money as Mirakl counts it: taxes in either tax mode, fees, per-line shipping, and
the shares that cancellations and refunds take of each line."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.adapters.laredoute import parse_order
from app.domain.errors import RuleViolation
from app.domain.order import Delivery, LineQuantity, NewLine, Order, OrderStatus
from app.domain.order_money import (
    Charges,
    Fee,
    LinePricing,
    OrderPricing,
    Tax,
    TaxMode,
)

NOW = datetime.now(UTC).replace(microsecond=0)
SPEC = Path(__file__).resolve().parents[1] / "contract" / "mirakl-mmp-seller-openapi.json"

D = Decimal


def vat(amount: str, rate: str = "20") -> Tax:
    return Tax(code="TVA-20", amount=D(amount), rate=D(rate),
               calculation_rule="PROPORTIONAL_TO_AMOUNT")


def taxed_order(mode: TaxMode = TaxMode.TAX_INCLUDED) -> Order:
    """Three linen tunics at 29.99 (one tax, an eco fee) and a scarf carrying the shipping."""
    tunics = LinePricing(
        price=D("89.97"), shipping_price=D("0.00"), taxes=(vat("14.99"),),
        fees=(Fee(code="ECO_PART", amount=D("0.30")),),
        origin_unit_price=D("34.99"),
    )
    scarf = LinePricing(
        price=D("15.00"), shipping_price=D("6.00"), taxes=(vat("2.50"),),
        shipping_taxes=(vat("1.00"),),
    )
    return Order.import_(
        channel="laredoute", marketplace_order_id="LR-MONEY", created_at=NOW,
        customer=None, shipping_address=None, delivery=Delivery.home(),
        shipping_price=D("6.00"),
        lines=[
            NewLine(line_id="L1", sku="TUNIC", ean="3600000000017", title="Tunique",
                    quantity=3, unit_price=D("29.99"), pricing=tunics),
            NewLine(line_id="L2", sku="SCARF", ean="3600000000024", title="Foulard",
                    quantity=1, unit_price=D("15.00"), pricing=scarf),
        ],
        pricing=OrderPricing(currency="EUR", tax_mode=mode, total_commission=D("15.75")),
    )  # fmt: skip


def shipped(order: Order) -> Order:
    at = order.created_at + timedelta(hours=1)
    order.accept(at=at)
    order.validate_payment(at=at)
    order.ship(carrier="Colissimo", tracking_number="6A1",
               tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A1", at=at)
    return order


def test_taxes_are_within_the_prices_when_included() -> None:
    order = taxed_order(TaxMode.TAX_INCLUDED)

    assert order.shipping_price == D("6.00")
    assert order.taxes_total == D("18.49")
    assert order.fees_total == D("0.30")
    assert order.order_total == D("89.97") + D("15.00") + D("6.00") + D("0.30")


def test_taxes_come_on_top_when_excluded() -> None:
    order = taxed_order(TaxMode.TAX_EXCLUDED)

    assert order.order_total == D("89.97") + D("15.00") + D("6.00") + D("0.30") + D("18.49")


def test_a_partial_refund_takes_the_pieces_price_and_its_taxes_in_proportion() -> None:
    order = shipped(taxed_order(TaxMode.TAX_EXCLUDED))

    refund = order.request_refund(lines=[LineQuantity("L1", 1)], refund_shipping=False,
                                  reason="15", at=NOW)

    part = refund.charges["L1"]
    assert part.price == D("29.99")
    assert part.taxes == {"TVA-20": D("5.00")}  # 14.99 x 29.99 / 89.97
    assert part.fees == {"ECO_PART": D("0.10")}
    assert part.shipping == 0 and part.shipping_taxes == {}
    assert refund.amount == D("29.99") + D("5.00") + D("0.10")
    assert list(refund.charges) == ["L1"]


def test_the_last_pieces_take_what_is_left_so_the_shares_add_up() -> None:
    order = shipped(taxed_order(TaxMode.TAX_EXCLUDED))
    first = order.request_refund(lines=[LineQuantity("L1", 1)], refund_shipping=False,
                                 reason="15", at=NOW)
    order.approve_refund(first.refund_id, at=NOW)
    order.complete_refund(first.refund_id, at=NOW)

    second = order.request_refund(lines=[LineQuantity("L1", 2)], refund_shipping=False,
                                  reason="15", at=NOW)

    total = first.charges["L1"] + second.charges["L1"]
    assert total == Charges(price=D("89.97"), taxes={"TVA-20": D("14.99")},
                            fees={"ECO_PART": D("0.30")})
    assert order.line("L1").left.price == D("59.98")  # the second is not completed yet


def test_refunding_the_shipping_gives_back_its_taxes_from_the_line_that_carries_it() -> None:
    order = shipped(taxed_order(TaxMode.TAX_EXCLUDED))

    refund = order.request_refund(lines=[LineQuantity("L1", 1)], refund_shipping=True,
                                  reason="15", at=NOW)

    assert set(refund.charges) == {"L1", "L2"}
    assert refund.lines == {"L1": 1}
    scarf = refund.charges["L2"]
    assert (scarf.price, scarf.shipping) == (D("0.00"), D("6.00"))
    assert scarf.shipping_taxes == {"TVA-20": D("1.00")}
    # Every tax code of the line stays, at 0, for the marketplace that wants them.
    assert scarf.taxes == {"TVA-20": D("0.00")}
    assert refund.shipping_amount == D("6.00")
    assert refund.amount == D("29.99") + D("5.00") + D("0.10") + D("6.00") + D("1.00")


def test_a_whole_refund_gives_back_what_was_paid() -> None:
    for mode in TaxMode:
        order = shipped(taxed_order(mode))
        refund = order.request_refund(lines=None, refund_shipping=True, reason="15", at=NOW)
        assert refund.amount == order.order_total == order.refundable_amount


def test_the_shipping_goes_back_once() -> None:
    order = shipped(taxed_order())
    refund = order.request_refund(lines=[LineQuantity("L2", 1)], refund_shipping=True,
                                  reason="15", at=NOW)
    order.approve_refund(refund.refund_id, at=NOW)
    order.complete_refund(refund.refund_id, at=NOW)

    with pytest.raises(RuleViolation) as refused:
        order.request_refund(lines=[LineQuantity("L1", 1)], refund_shipping=True,
                             reason="15", at=NOW)
    assert (refused.value.field, refused.value.rule) == ("refund_shipping", "already_refunded")


def test_cancelling_some_pieces_keeps_the_shipping() -> None:
    order = taxed_order()
    order.accept(at=NOW)
    order.validate_payment(at=NOW)

    order.cancel(lines=[LineQuantity("L1", 2)], reason="34", at=NOW)

    (event,) = [e for e in order.collect_events() if type(e).__name__ == "LinesCanceled"]
    assert event.charges["L1"]["price"] == D("59.98")
    assert event.charges["L1"]["taxes"] == {"TVA-20": D("9.99")}
    assert event.charges["L1"]["shipping"] == 0
    assert (event.currency, event.tax_mode) == ("EUR", "TAX_INCLUDED")
    assert order.canceled_amount == D("59.98") + D("0.20")


def test_cancelling_a_lines_last_pieces_cancels_its_shipping_too() -> None:
    order = taxed_order(TaxMode.TAX_EXCLUDED)
    order.accept(at=NOW)
    order.validate_payment(at=NOW)

    order.cancel(lines=[LineQuantity("L2", 1)], reason="34", at=NOW)

    scarf = order.line("L2")
    assert scarf.canceled == Charges(price=D("15.00"), shipping=D("6.00"),
                                     taxes={"TVA-20": D("2.50")},
                                     shipping_taxes={"TVA-20": D("1.00")})
    assert order.status == OrderStatus.TOSHIP
    assert order.payable_total == D("89.97") + D("14.99") + D("0.30")


def test_cancelling_everything_leaves_nothing_to_pay() -> None:
    order = taxed_order(TaxMode.TAX_EXCLUDED)
    order.accept(at=NOW)
    order.validate_payment(at=NOW)

    order.cancel(lines=None, reason="34", at=NOW)

    assert order.canceled_amount == order.order_total
    assert order.payable_total == 0


def test_an_order_known_by_unit_prices_keeps_its_shipping_on_its_first_line() -> None:
    order = Order.import_(
        channel="laredoute", marketplace_order_id="LR-HAND", created_at=NOW, customer=None,
        shipping_address=None, delivery=Delivery.home(), shipping_price=D("4.90"),
        lines=[NewLine(line_id="L1", sku="A", ean="3600000000017", title="A", quantity=2,
                       unit_price=D("10.00")),
               NewLine(line_id="L2", sku="B", ean="3600000000024", title="B", quantity=1,
                       unit_price=D("5.00"))],
    )  # fmt: skip

    assert [line.charged.shipping for line in order.lines] == [D("4.90"), D("0.00")]
    assert order.order_total == D("29.90")
    assert (order.currency, order.tax_mode) == ("EUR", "TAX_INCLUDED")


def test_a_cancellation_recorded_before_its_parts_were_replays_as_the_pieces_price() -> None:
    order = Order.import_(
        channel="laredoute", marketplace_order_id="LR-OLD", created_at=NOW, customer=None,
        shipping_address=None, delivery=Delivery.home(), shipping_price=D("4.90"),
        lines=[NewLine(line_id="L1", sku="A", ean="3600000000017", title="A", quantity=2,
                       unit_price=D("10.00"))],
    )  # fmt: skip
    order.accept(at=NOW)
    order.validate_payment(at=NOW)
    # As the event was recorded then: quantities, no charges.
    order._lines_canceled(lines={"L1": 1}, reason="34", at=NOW, status="TOSHIP")

    events = order.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert replayed.line("L1").canceled == Charges(price=D("10.00"))
    assert replayed.payable_total == D("14.90")


def test_amounts_in_fractions_of_cents_are_refused_on_import() -> None:
    bad = LinePricing(price=D("10.00"), taxes=(Tax(code="TVA-20", amount=D("1.666")),))
    with pytest.raises(RuleViolation) as refused:
        Order.import_(
            channel="laredoute", marketplace_order_id="LR-BAD", created_at=NOW, customer=None,
            shipping_address=None, delivery=Delivery.home(), shipping_price=D("0.00"),
            lines=[NewLine(line_id="L1", sku="A", ean="3600000000017", title="A", quantity=1,
                           unit_price=D("10.00"), pricing=bad)],
        )  # fmt: skip
    assert (refused.value.field, refused.value.rule) == ("lines[0].taxes[0].amount", "cents")


def test_an_unknown_tax_mode_is_refused_on_import() -> None:
    with pytest.raises(RuleViolation) as refused:
        taxed_order(mode="TAX_SOMETIMES")  # type: ignore[arg-type]
    assert refused.value.field == "tax_mode"


# ---------------------------------------------------------------- the spec's example


def spec_example_order() -> dict[str, Any]:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    answer = spec["paths"]["/api/orders"]["get"]["responses"]["200"]["content"]
    return copy.deepcopy(
        answer["application/json"]["examples"]["application/json-0"]["value"]["orders"][0]
    )


def test_the_spec_example_keeps_its_taxes_fees_and_eco_contributions() -> None:
    fields = parse_order(spec_example_order(), "laredoute")
    order = Order.import_(**fields)

    assert (order.currency, order.tax_mode) == ("USD", "TAX_EXCLUDED")
    (line,) = order.lines
    pricing = line.priced
    assert pricing["price"] == D("165.00") and pricing["shipping_price"] == D("8.00")
    assert [(t["code"], t["amount"], t["calculation_rule"]) for t in pricing["taxes"]] == [
        ("tax1", D("10.00"), "NONE"), ("tax2", D("10.00"), None),
    ]  # fmt: skip
    assert [t["code"] for t in pricing["shipping_taxes"]] == ["tax1", "tax2"]
    assert pricing["fees"] == [{"code": "fee1", "amount": D("0.65")}]
    assert pricing["origin_unit_price"] == D("60.00")
    assert pricing["eco_contributions"][0]["total_amount"] == D("6.00")
    assert order.pricing["total_commission"] == D("21.30")
    # Excluded taxes come on top: 165 + 8 + 0.65 + 20 + 20.
    assert order.order_total == D("213.65")


def test_the_spec_example_refunds_one_piece_with_its_taxes() -> None:
    order = shipped(Order.import_(**parse_order(spec_example_order(), "laredoute")))
    line_id = order.lines[0].line_id

    refund = order.request_refund(lines=[LineQuantity(line_id, 1)], refund_shipping=False,
                                  reason="15", at=order.created_at + timedelta(days=1))

    part = refund.charges[line_id]
    assert (part.price, part.taxes) == (D("55.00"), {"tax1": D("3.33"), "tax2": D("3.33")})
    assert part.fees == {"fee1": D("0.22")}
    assert refund.amount == D("55.00") + D("6.66") + D("0.22")


def test_order_additional_fields_are_kept_by_code() -> None:
    raw = spec_example_order()
    raw["order_additional_fields"] = [
        {"code": "gift-message", "type": "STRING", "value": "Joyeux anniversaire"},
        {"code": "express", "type": "BOOLEAN", "value": True},
        {"code": "colours", "type": "MULTIPLE_VALUES_LIST", "value": ["red", "blue"]},
    ]

    order = Order.import_(**parse_order(raw, "laredoute"))

    assert order.additional_fields == {
        "gift-message": "Joyeux anniversaire", "express": True, "colours": ["red", "blue"],
    }  # fmt: skip
