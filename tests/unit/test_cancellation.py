"""Out of stock: cancelling a whole order waiting for shipment, or some quantities of some lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.errors import InvalidStatus, RuleViolation
from app.domain.order import LineQuantity, Order, OrderStatus
from app.projections.order_tabs import TAB_OF_STATUS
from tests.unit.order_builders import (
    BELT_LINE,
    PAYABLE,
    TRACKING_NUMBER,
    TUNIC_LINE,
    hours_after_creation,
    order_in,
)

CANCELED_AT = hours_after_creation(5)


def _cancel(order: Order, lines: list[LineQuantity] | None, reason: str = "Out of stock") -> None:
    order.cancel(lines=lines, reason=reason, at=CANCELED_AT)


def _statuses(order: Order) -> dict[str, str]:
    return {line.line_id: order.line_status(line) for line in order.lines}


def test_cancelling_the_whole_order_puts_it_out_of_stock() -> None:
    """No lines given: every line is out of stock, the customer pays nothing."""
    order = order_in(OrderStatus.TOSHIP)

    _cancel(order, None, reason="Warehouse flooded")

    assert order.status == OrderStatus.OUT_OF_STOCK
    assert TAB_OF_STATUS[order.status] == "canceled"
    assert order.is_terminal
    assert _statuses(order) == {TUNIC_LINE: "OUT_OF_STOCK", BELT_LINE: "OUT_OF_STOCK"}
    assert [line.canceled_quantity for line in order.lines] == [2, 1]
    assert order.payable_total == Decimal("0.00")
    assert order.cancel_reason == "Warehouse flooded"
    assert order.closed_at == CANCELED_AT


def test_cancelling_one_line_leaves_the_rest_of_the_order_to_ship() -> None:
    """Only the belt is out of stock: the tunics still go out."""
    order = order_in(OrderStatus.TOSHIP)

    _cancel(order, [LineQuantity(BELT_LINE, 1)])

    assert order.status == OrderStatus.TOSHIP
    assert TAB_OF_STATUS[order.status] == "waiting_shipment"
    assert _statuses(order) == {TUNIC_LINE: "TOSHIP", BELT_LINE: "OUT_OF_STOCK"}
    assert order.payable_total == PAYABLE - Decimal("15.00")
    assert order.closed_at is None


def test_cancelling_part_of_a_line_keeps_the_line_to_ship() -> None:
    """One tunic of two is missing: the line ships with one."""
    order = order_in(OrderStatus.TOSHIP)

    _cancel(order, [LineQuantity(TUNIC_LINE, 1)])

    tunic = order.line(TUNIC_LINE)
    assert tunic is not None
    assert (tunic.canceled_quantity, tunic.kept_quantity) == (1, 1)
    assert _statuses(order) == {TUNIC_LINE: "TOSHIP", BELT_LINE: "TOSHIP"}
    assert order.payable_total == PAYABLE - Decimal("39.90")


def test_cancelling_what_is_left_line_by_line_puts_the_order_out_of_stock() -> None:
    """When the last kept quantity goes, the whole order is out of stock."""
    order = order_in(OrderStatus.TOSHIP)

    _cancel(order, [LineQuantity(TUNIC_LINE, 1)])
    _cancel(order, [LineQuantity(BELT_LINE, 1)])
    assert order.status == OrderStatus.TOSHIP
    _cancel(order, [LineQuantity(TUNIC_LINE, 1)])

    assert order.status == OrderStatus.OUT_OF_STOCK
    assert order.closed_at == CANCELED_AT
    assert order.payable_total == Decimal("0.00")


def test_cancelling_the_whole_order_after_a_line_cancels_only_what_is_left() -> None:
    """Quantities already cancelled are not cancelled twice."""
    order = order_in(OrderStatus.TOSHIP)
    _cancel(order, [LineQuantity(TUNIC_LINE, 1)])

    _cancel(order, None)

    assert order.status == OrderStatus.OUT_OF_STOCK
    assert [line.canceled_quantity for line in order.lines] == [2, 1]


def test_an_order_with_a_cancelled_line_can_still_be_shipped() -> None:
    """The rest of the order goes on."""
    order = order_in(OrderStatus.TOSHIP)
    _cancel(order, [LineQuantity(BELT_LINE, 1)])

    order.ship(tracking_number=TRACKING_NUMBER, carrier="GLS", tracking_url=None, at=CANCELED_AT)

    assert order.status == OrderStatus.SHIPPED
    assert _statuses(order) == {TUNIC_LINE: "SHIPPED", BELT_LINE: "OUT_OF_STOCK"}


@pytest.mark.parametrize(
    ("lines", "field", "rule"),
    [
        pytest.param(
            [LineQuantity("LR-SCARF-404", 1)], "lines[0].line_id", "unknown_line", id="unknown line"
        ),
        pytest.param(
            [LineQuantity(BELT_LINE, 1), LineQuantity("LR-SCARF-404", 1)],
            "lines[1].line_id",
            "unknown_line",
            id="unknown second line",
        ),
        pytest.param(
            [LineQuantity(TUNIC_LINE, 1), LineQuantity(TUNIC_LINE, 1)],
            "lines[1].line_id",
            "duplicate_line",
            id="duplicate line",
        ),
        pytest.param(
            [LineQuantity(TUNIC_LINE, 3)], "lines[0].quantity", "at_most_cancelable", id="too many"
        ),
        pytest.param(
            [LineQuantity(BELT_LINE, 1), LineQuantity(TUNIC_LINE, 3)],
            "lines[1].quantity",
            "at_most_cancelable",
            id="second line too many",
        ),
        pytest.param(
            [LineQuantity(TUNIC_LINE, 0)], "lines[0].quantity", "positive", id="zero quantity"
        ),
        pytest.param(
            [LineQuantity(TUNIC_LINE, -1)], "lines[0].quantity", "positive", id="negative quantity"
        ),
    ],
)
def test_a_cancellation_with_bad_lines_is_refused_naming_the_line(
    lines: list[LineQuantity], field: str, rule: str
) -> None:
    """The error points at the faulty entry, and nothing is cancelled."""
    order = order_in(OrderStatus.TOSHIP)

    with pytest.raises(RuleViolation) as refused:
        _cancel(order, lines)

    assert (refused.value.field, refused.value.rule) == (field, rule)
    assert [line.canceled_quantity for line in order.lines] == [0, 0]
    assert order.collect_events() == []


def test_a_quantity_already_cancelled_cannot_be_cancelled_again() -> None:
    """After one tunic is cancelled only one is left to cancel."""
    order = order_in(OrderStatus.TOSHIP)
    _cancel(order, [LineQuantity(TUNIC_LINE, 1)])

    with pytest.raises(RuleViolation) as refused:
        _cancel(order, [LineQuantity(TUNIC_LINE, 2)])

    assert (refused.value.field, refused.value.rule) == ("lines[0].quantity", "at_most_cancelable")
    assert "1 left" in refused.value.message


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_cancellation_needs_a_reason(reason: str) -> None:
    """The customer is told why: a blank reason is refused."""
    order = order_in(OrderStatus.TOSHIP)

    with pytest.raises(RuleViolation) as refused:
        _cancel(order, None, reason=reason)

    assert (refused.value.field, refused.value.rule) == ("reason", "required")
    assert order.status == OrderStatus.TOSHIP


@pytest.mark.parametrize("status", [OrderStatus.ACCEPTED, OrderStatus.SHIPPED, OrderStatus.PAID])
def test_only_an_order_waiting_for_shipment_can_be_cancelled_as_out_of_stock(
    status: OrderStatus,
) -> None:
    """Line cancellations are refused outside TOSHIP too."""
    order = order_in(status)

    with pytest.raises(InvalidStatus, match=f"cannot cancel an order in status {status}"):
        _cancel(order, [LineQuantity(BELT_LINE, 1)])
