"""Refunds: what can be refunded, their lifecycle, refusals and superseded requests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from app.domain.errors import InvalidStatus, RuleViolation
from app.domain.order import LineQuantity, Order, OrderStatus, RefundStatus
from app.projections.order_tabs import TAB_OF_STATUS
from tests.unit.order_builders import (
    BELT_LINE,
    PAYABLE,
    SHIPPING,
    TRACKING_NUMBER,
    TUNIC_LINE,
    hours_after_creation,
    latest_refund_id,
    order_in,
    paid,
    refund_requested,
    refund_to_approve,
    refunded,
    refunding,
    shipped,
    to_ship,
)

AT = hours_after_creation(24 * 15)
R = RefundStatus


def _request(
    order: Order,
    lines: list[LineQuantity] | None = None,
    *,
    refund_shipping: bool = False,
    reason: str = "Customer returned the parcel",
) -> str:
    refund = order.request_refund(
        lines=lines, refund_shipping=refund_shipping, reason=reason, at=AT
    )
    return refund.refund_id


def _complete(order: Order, refund_id: str) -> None:
    order.submit_refund(refund_id, at=AT)
    order.approve_refund(refund_id, at=AT)
    order.complete_refund(refund_id, at=AT)


def _statuses(order: Order) -> dict[str, str]:
    return {line.line_id: order.line_status(line) for line in order.lines}


# ---------------------------------------------------------------- what is refunded


def test_a_full_refund_with_shipping_gives_back_everything_paid() -> None:
    """No lines and the shipping: the whole order is refunded, 99.70 EUR."""
    order = order_in(OrderStatus.PAID)

    refund_id = _request(order, refund_shipping=True)
    _complete(order, refund_id)

    refund = order.refunds[0]
    assert refund.lines == {TUNIC_LINE: 2, BELT_LINE: 1}
    assert refund.shipping_amount == SHIPPING
    assert refund.amount == PAYABLE
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == PAYABLE
    assert order.refundable_amount == Decimal("0.00")
    assert _statuses(order) == {TUNIC_LINE: "REFUNDED", BELT_LINE: "REFUNDED"}
    assert order.shipping_refunded


def test_a_full_refund_without_shipping_keeps_the_shipping_cost() -> None:
    """The goods come back but the delivery was made: 94.80 EUR."""
    order = order_in(OrderStatus.PAID)

    _complete(order, _request(order, refund_shipping=False))

    assert order.refunded_amount == PAYABLE - SHIPPING == Decimal("94.80")
    assert order.refundable_amount == SHIPPING
    assert not order.shipping_refunded


def test_a_partial_refund_gives_back_the_quantities_asked() -> None:
    """One tunic of two: 39.90 EUR, the other tunic and the belt stay sold."""
    order = order_in(OrderStatus.SHIPPED)

    refund_id = _request(order, [LineQuantity(TUNIC_LINE, 1)])

    refund = order.refunds[0]
    assert refund.lines == {TUNIC_LINE: 1}
    assert refund.line_amounts == {TUNIC_LINE: Decimal("39.90")}
    assert refund.amount == Decimal("39.90")
    assert refund.shipping_amount == Decimal("0.00")
    assert _statuses(order) == {TUNIC_LINE: "TO_REFUND", BELT_LINE: "SHIPPED"}

    _complete(order, refund_id)

    tunic = order.line(TUNIC_LINE)
    assert tunic is not None and tunic.refunded_quantity == 1
    assert order.refunded_amount == Decimal("39.90")
    # A line shows the status of the latest refund that holds it.
    assert _statuses(order) == {TUNIC_LINE: "REFUNDED", BELT_LINE: "SHIPPED"}
    assert order.refundable_amount == PAYABLE - Decimal("39.90")


def test_a_partial_refund_with_shipping_adds_the_shipping_cost() -> None:
    """The belt and the delivery: 15.00 + 4.90 EUR."""
    order = order_in(OrderStatus.SHIPPED)

    _request(order, [LineQuantity(BELT_LINE, 1)], refund_shipping=True)

    assert order.refunds[0].amount == Decimal("19.90")
    assert order.refunds[0].shipping_amount == SHIPPING


def test_the_shipping_cost_left_after_the_goods_can_be_refunded_alone() -> None:
    """The goods went back first; the 4.90 EUR shipping follows in a second refund."""
    order = order_in(OrderStatus.PAID)
    _complete(order, _request(order))

    _complete(order, _request(order, refund_shipping=True))

    assert order.refunds[-1].lines == {}
    assert order.refunds[-1].amount == SHIPPING
    assert order.refunded_amount == PAYABLE
    assert order.refundable_amount == Decimal("0.00")


# ---------------------------------------------------------------- lifecycle


def test_a_refund_goes_to_refund_to_approve_refunding_refunded() -> None:
    """Each marketplace step shows on the order and on the refund."""
    order = order_in(OrderStatus.SHIPPED)
    refund_id = _request(order, [LineQuantity(BELT_LINE, 1)])
    seen = [(order.status, order.refunds[0].status)]

    order.submit_refund(refund_id, at=AT)
    seen.append((order.status, order.refunds[0].status))
    order.approve_refund(refund_id, at=AT)
    seen.append((order.status, order.refunds[0].status))
    order.complete_refund(refund_id, at=AT)
    seen.append((order.status, order.refunds[0].status))

    assert seen == [
        ("TO_REFUND", "TO_REFUND"),
        ("TO_APPROVE", "TO_APPROVE"),
        ("REFUNDING", "REFUNDING"),
        ("REFUNDED", "REFUNDED"),
    ]
    assert TAB_OF_STATUS[order.status] == "sent"
    assert _statuses(order) == {TUNIC_LINE: "SHIPPED", BELT_LINE: "REFUNDED"}
    assert order.refunds[0].updated_at == AT


@pytest.mark.parametrize(
    "reason",
    ["EXPIRED_CARD", "STOLEN_CARD", "CARD_OPPOSITION", "AMOUNT_ABOVE_ORDER_AMOUNT", "FRAUD"],
)
@pytest.mark.parametrize("build", [refund_requested, refund_to_approve, refunding])
def test_the_marketplace_refuses_a_refund_with_one_of_the_five_reasons(
    reason: str, build: Callable[[], Order]
) -> None:
    """REFUND_REFUSED keeps the reason and nothing is refunded."""
    order = build()

    order.refuse_refund(latest_refund_id(order), reason=reason, at=AT)

    assert order.status == OrderStatus.REFUND_REFUSED
    assert order.refunds[0].refusal_reason == reason
    assert order.refunded_amount == Decimal("0.00")
    assert order.refundable_amount == PAYABLE
    assert order.open_refund is None


@pytest.mark.parametrize("reason", ["CUSTOMER_CHANGED_MIND", "expired card", ""])
def test_a_refund_refusal_with_another_reason_is_refused(reason: str) -> None:
    """Only the guide's five reasons exist."""
    order = refund_to_approve()

    with pytest.raises(RuleViolation) as refused:
        order.refuse_refund(latest_refund_id(order), reason=reason, at=AT)

    assert (refused.value.field, refused.value.rule) == ("reason", "refund_refusal_reason")
    assert order.status == OrderStatus.TO_APPROVE


def test_after_a_refused_refund_a_new_request_can_be_made() -> None:
    """A refused refund frees everything it asked for."""
    order = refund_to_approve()
    order.refuse_refund(latest_refund_id(order), reason="STOLEN_CARD", at=AT)

    refund_id = _request(order, refund_shipping=True)

    assert order.status == OrderStatus.TO_REFUND
    assert order.refunds[-1].amount == PAYABLE
    assert [r.status for r in order.refunds] == ["REFUND_REFUSED", "TO_REFUND"]
    assert refund_id == "R2"


# ---------------------------------------------------------------- superseding


def test_a_new_request_supersedes_one_the_marketplace_does_not_have_yet() -> None:
    """The merchant changes their mind before the request has left."""
    order = refund_requested()

    refund_id = _request(order, [LineQuantity(TUNIC_LINE, 2), LineQuantity(BELT_LINE, 1)])

    assert [r.status for r in order.refunds] == [R.SUPERSEDED, R.TO_REFUND]
    assert order.latest_refund is not None and order.latest_refund.refund_id == refund_id
    assert order.status == OrderStatus.TO_REFUND
    assert order.refunds[-1].amount == Decimal("94.80")


def test_a_request_the_marketplace_has_is_followed_to_its_end_not_superseded() -> None:
    """On Mirakl a refund cannot be withdrawn: once the marketplace has it (TO_APPROVE on), a
    new request waits until it ends."""
    order = refund_to_approve()
    with pytest.raises(InvalidStatus) as raised:
        _request(order, [LineQuantity(BELT_LINE, 1)])
    assert raised.value.status == OrderStatus.TO_APPROVE
    assert [r.status for r in order.refunds] == [R.TO_APPROVE]


def test_a_request_already_sent_is_not_superseded_either() -> None:
    """Sent but not acknowledged yet (the delivery is under way): followed to its end too."""
    order = refund_requested()
    with pytest.raises(RuleViolation) as raised:
        order.request_refund(lines=[LineQuantity(BELT_LINE, 1)], refund_shipping=False,
                             reason="Changed my mind", at=AT, open_refund_sent=True)
    assert (raised.value.field, raised.value.rule) == ("refund", "sent_refund_in_progress")
    assert [r.status for r in order.refunds] == [R.TO_REFUND]


def test_a_superseded_refund_can_no_longer_move() -> None:
    """The marketplace cannot approve a request that was replaced."""
    order = refund_requested()
    old = latest_refund_id(order)
    _request(order, [LineQuantity(BELT_LINE, 1)])

    with pytest.raises(InvalidStatus) as refused:
        order.approve_refund(old, at=AT)

    assert refused.value.status == R.SUPERSEDED
    assert order.status == OrderStatus.TO_REFUND


def test_a_new_request_is_refused_while_a_refund_is_being_paid_out() -> None:
    """REFUNDING is under way at the marketplace: it cannot be replaced."""
    order = refunding()

    with pytest.raises(InvalidStatus) as refused:
        _request(order, [LineQuantity(BELT_LINE, 1)])

    assert refused.value.status == OrderStatus.REFUNDING
    assert "cannot refund an order in status REFUNDING" in str(refused.value)
    assert len(order.refunds) == 1


# ---------------------------------------------------------------- never more than paid


def test_after_a_partial_refund_only_the_rest_can_be_refunded() -> None:
    """One tunic refunded: two tunics cannot be, everything left is 54.90 EUR."""
    order = refunded()  # one tunic refunded

    with pytest.raises(RuleViolation) as refused:
        _request(order, [LineQuantity(TUNIC_LINE, 2)])
    assert (refused.value.field, refused.value.rule) == ("lines[0].quantity", "at_most_refundable")

    _request(order, refund_shipping=True)

    assert order.refunds[-1].lines == {TUNIC_LINE: 1, BELT_LINE: 1}
    assert order.refunds[-1].amount == Decimal("59.80")
    assert order.refunds[-1].amount == order.refundable_amount


def test_a_cancelled_quantity_cannot_be_refunded() -> None:
    """The cancelled tunic was never paid, so it is never refunded."""
    order = to_ship()
    order.cancel(lines=[LineQuantity(TUNIC_LINE, 1)], reason="One tunic torn", at=AT)
    order.ship(tracking_number=TRACKING_NUMBER, carrier="DPD", tracking_url=None, at=AT)

    with pytest.raises(RuleViolation) as refused:
        _request(order, [LineQuantity(TUNIC_LINE, 2)])
    assert (refused.value.field, refused.value.rule) == ("lines[0].quantity", "at_most_refundable")

    _complete(order, _request(order, refund_shipping=True))

    assert order.refunds[-1].lines == {TUNIC_LINE: 1, BELT_LINE: 1}
    assert order.refunded_amount == order.payable_total == Decimal("59.80")
    tunic = order.line(TUNIC_LINE)
    assert tunic is not None
    assert (tunic.canceled_quantity, tunic.refunded_quantity) == (1, 1)
    assert order.line_status(tunic) == "REFUNDED"


def test_the_shipping_cost_is_refunded_once_only() -> None:
    """A second refund of the shipping is refused on refund_shipping."""
    order = order_in(OrderStatus.SHIPPED)
    _complete(order, _request(order, [LineQuantity(BELT_LINE, 1)], refund_shipping=True))

    with pytest.raises(RuleViolation) as refused:
        _request(order, [LineQuantity(TUNIC_LINE, 1)], refund_shipping=True)

    assert (refused.value.field, refused.value.rule) == ("refund_shipping", "already_refunded")
    _request(order, [LineQuantity(TUNIC_LINE, 1)], refund_shipping=False)
    assert order.refunds[-1].amount == Decimal("39.90")


def test_the_shipping_of_a_refused_refund_can_be_asked_again() -> None:
    """A refused refund did not give the shipping back."""
    order = order_in(OrderStatus.SHIPPED)
    refund_id = _request(order, refund_shipping=True)
    order.refuse_refund(refund_id, reason="FRAUD", at=AT)

    _request(order, [LineQuantity(BELT_LINE, 1)], refund_shipping=True)

    assert order.refunds[-1].shipping_amount == SHIPPING


def test_nothing_left_to_refund_is_refused() -> None:
    """After a full refund with shipping, another request has nothing to give back."""
    order = order_in(OrderStatus.PAID)
    _complete(order, _request(order, refund_shipping=True))

    with pytest.raises(RuleViolation) as refused:
        _request(order)

    assert (refused.value.field, refused.value.rule) == ("lines", "nothing_to_refund")
    assert order.status == OrderStatus.REFUNDED


@pytest.mark.parametrize(
    ("lines", "field", "rule"),
    [
        pytest.param(
            [LineQuantity("LR-SCARF-404", 1)], "lines[0].line_id", "unknown_line", id="unknown line"
        ),
        pytest.param(
            [LineQuantity(BELT_LINE, 1), LineQuantity(BELT_LINE, 1)],
            "lines[1].line_id",
            "duplicate_line",
            id="duplicate line",
        ),
        pytest.param(
            [LineQuantity(BELT_LINE, 2)], "lines[0].quantity", "at_most_refundable", id="too many"
        ),
        pytest.param([LineQuantity(BELT_LINE, 0)], "lines[0].quantity", "positive", id="zero"),
    ],
)
def test_a_refund_with_bad_lines_is_refused_naming_the_line(
    lines: list[LineQuantity], field: str, rule: str
) -> None:
    """The error points at the faulty entry and no refund is recorded."""
    order = order_in(OrderStatus.SHIPPED)

    with pytest.raises(RuleViolation) as refused:
        _request(order, lines)

    assert (refused.value.field, refused.value.rule) == (field, rule)
    assert order.refunds == []
    assert order.collect_events() == []


def test_a_refund_request_needs_a_reason() -> None:
    """The customer and the marketplace are told why."""
    order = order_in(OrderStatus.SHIPPED)

    with pytest.raises(RuleViolation) as refused:
        _request(order, reason=" ")

    assert (refused.value.field, refused.value.rule) == ("reason", "required")


# ---------------------------------------------------------------- payment and refunds together


@pytest.mark.parametrize(
    "build",
    [refund_requested, refund_to_approve, refunding],
    ids=["TO_REFUND", "TO_APPROVE", "REFUNDING"],
)
def test_a_shipped_order_is_paid_even_while_a_refund_is_open(build: Callable[[], Order]) -> None:
    """The payout does not wait for the refund; the refund's status stays the order's."""
    order = build()
    status = order.status

    order.mark_paid(at=AT)

    assert order.paid_at == AT
    assert order.status == status
    assert order.open_refund is not None


def test_a_refund_requested_after_payment_follows_the_same_steps() -> None:
    """From PAID the whole refund lifecycle is available."""
    order = refunded(paid())

    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == Decimal("39.90")


# ---------------------------------------------------------------- marketplace steps on the refund


REFUND_IN: dict[RefundStatus, Callable[[], Order]] = {
    R.TO_REFUND: refund_requested,
    R.TO_APPROVE: refund_to_approve,
    R.REFUNDING: refunding,
    R.REFUNDED: refunded,
    R.REFUND_REFUSED: lambda: _refused_refund(),
    R.SUPERSEDED: lambda: _superseded_refund(),
}


def _refused_refund() -> Order:
    order = refund_requested()
    order.refuse_refund("R1", reason="FRAUD", at=AT)
    return order


def _superseded_refund() -> Order:
    order = refund_requested()
    _request(order, [LineQuantity(BELT_LINE, 1)])
    return order


STEPS: dict[str, tuple[Callable[[Order], None], set[RefundStatus], RefundStatus]] = {
    "submit": (lambda o: o.submit_refund("R1", at=AT), {R.TO_REFUND}, R.TO_APPROVE),
    # The marketplace may approve a request before we saw it submitted.
    "approve": (lambda o: o.approve_refund("R1", at=AT), {R.TO_REFUND, R.TO_APPROVE}, R.REFUNDING),
    "complete": (lambda o: o.complete_refund("R1", at=AT), {R.REFUNDING}, R.REFUNDED),
    "refuse": (
        lambda o: o.refuse_refund("R1", reason="STOLEN_CARD", at=AT),
        {R.TO_REFUND, R.TO_APPROVE, R.REFUNDING},
        R.REFUND_REFUSED,
    ),
}


@pytest.mark.parametrize(
    ("step", "status"),
    [
        pytest.param(step, status, id=f"{step}-{status}")
        for step, (_, allowed, _) in STEPS.items()
        for status in allowed
    ],
)
def test_each_marketplace_step_moves_the_refund(step: str, status: RefundStatus) -> None:
    """Allowed steps add one event and move the refund."""
    order = REFUND_IN[status]()
    order.collect_events()
    command, _, after = STEPS[step]

    command(order)

    assert order.refunds[0].status == after
    assert len(order.collect_events()) == 1


@pytest.mark.parametrize(
    ("step", "status"),
    [
        pytest.param(step, status, id=f"{step}-{status}")
        for step, (_, allowed, _) in STEPS.items()
        for status in RefundStatus
        if status not in allowed
    ],
)
def test_a_marketplace_step_on_a_refund_in_the_wrong_status_is_refused(
    step: str, status: RefundStatus
) -> None:
    """The error names the refund's status and the ones that allow the step."""
    order = REFUND_IN[status]()
    order.collect_events()
    command, allowed, _ = STEPS[step]

    with pytest.raises(InvalidStatus) as refused:
        command(order)

    assert refused.value.status == status
    assert set(refused.value.allowed) == allowed
    assert str(refused.value) == (
        f"cannot {step} refund R1 of an order in status {status}; "
        f"allowed statuses: {', '.join(sorted(allowed))}"
    )
    assert order.refunds[0].status == status
    assert order.collect_events() == []


@pytest.mark.parametrize("step", list(STEPS))
def test_a_marketplace_step_on_an_unknown_refund_is_refused(step: str) -> None:
    """A refund id the order never had is refused on refund_id."""
    order = shipped()

    with pytest.raises(RuleViolation) as refused:
        STEPS[step][0](order)

    assert (refused.value.field, refused.value.rule) == ("refund_id", "unknown_refund")
