"""The Order aggregate: import, acceptance, marketplace transitions, tabs, amounts and replay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.application.event_store import EventStore
from app.application.orders import OrderService
from app.domain.errors import DeadlinePassed, InvalidStatus, RuleViolation
from app.domain.order import Delivery, LineQuantity, NewLine, Order, OrderStatus, order_id_for
from app.projections.order_tabs import TAB_OF_STATUS
from tests.unit.order_builders import (
    BELT_LINE,
    CREATED_AT,
    DEADLINE,
    PAYABLE,
    SHIPPING,
    TRACKING_NUMBER,
    TUNIC_LINE,
    created,
    hours_after_creation,
    import_fields,
    order_in,
    paid,
    refund_requested,
    refunded,
    shipped,
    to_ship,
)

S = OrderStatus
LATER = hours_after_creation(24 * 20)

# Each order-level command, the statuses it is allowed in, and the verb its refusal uses.
# Refunds here come from SHIPPED (see order_builders), so paying them is allowed.
COMMANDS: dict[str, tuple[str, Callable[[Order], Any], set[OrderStatus]]] = {
    "accept": ("accept", lambda o: o.accept(at=hours_after_creation(2)), {S.CREATED}),
    "refuse": ("refuse", lambda o: o.refuse(reason="Tunic discontinued"), {S.CREATED}),
    "expire": ("expire", lambda o: o.expire(at=DEADLINE), {S.CREATED}),
    "validate_payment": (
        "validate the payment of",
        lambda o: o.validate_payment(at=LATER),
        {S.ACCEPTED},
    ),
    "refuse_payment": (
        "refuse the payment of",
        lambda o: o.refuse_payment(at=LATER),
        {S.ACCEPTED},
    ),
    "ship": (
        "ship",
        lambda o: o.ship(
            tracking_number="6A99999999999", carrier="Colissimo", tracking_url=None, at=LATER
        ),
        {S.TOSHIP},
    ),
    "cancel": (
        "cancel",
        lambda o: o.cancel(lines=None, reason="Out of stock", at=LATER),
        {S.TOSHIP},
    ),
    "mark_paid": (
        "pay",
        lambda o: o.mark_paid(at=LATER),
        {S.SHIPPED, S.TO_REFUND, S.TO_APPROVE, S.REFUNDING, S.REFUNDED, S.REFUND_REFUSED},
    ),
    "request_refund": (
        "refund",
        lambda o: o.request_refund(
            lines=None, refund_shipping=False, reason="Customer returned the parcel", at=LATER
        ),
        {S.SHIPPED, S.PAID, S.TO_REFUND, S.REFUNDED, S.REFUND_REFUSED},
    ),
}

# The status each command leads to from each status it is allowed in.
TRANSITIONS: list[tuple[str, OrderStatus, OrderStatus]] = [
    ("accept", S.CREATED, S.ACCEPTED),
    ("refuse", S.CREATED, S.REFUSED),
    ("expire", S.CREATED, S.CANCELED),
    ("validate_payment", S.ACCEPTED, S.TOSHIP),
    ("refuse_payment", S.ACCEPTED, S.CANCELED),
    ("ship", S.TOSHIP, S.SHIPPED),
    ("cancel", S.TOSHIP, S.OUT_OF_STOCK),
    ("mark_paid", S.SHIPPED, S.PAID),
    # Paying does not hide a refund in progress: the refund's status stays the order's.
    ("mark_paid", S.TO_REFUND, S.TO_REFUND),
    ("mark_paid", S.TO_APPROVE, S.TO_APPROVE),
    ("mark_paid", S.REFUNDING, S.REFUNDING),
    ("mark_paid", S.REFUNDED, S.REFUNDED),
    ("mark_paid", S.REFUND_REFUSED, S.REFUND_REFUSED),
    ("request_refund", S.SHIPPED, S.TO_REFUND),
    ("request_refund", S.PAID, S.TO_REFUND),
    ("request_refund", S.TO_REFUND, S.TO_REFUND),
    ("request_refund", S.REFUNDED, S.TO_REFUND),
    ("request_refund", S.REFUND_REFUSED, S.TO_REFUND),
]

REFUSALS = [
    pytest.param(name, status, id=f"{name}-in-{status}")
    for name, (_, _, allowed) in COMMANDS.items()
    for status in OrderStatus
    if status not in allowed
]


# ---------------------------------------------------------------- import


def test_an_imported_order_is_created_and_waits_in_the_new_tab() -> None:
    """An order from the marketplace starts in CREATED with 72 hours to accept it."""
    order = created()

    assert order.status == S.CREATED
    assert TAB_OF_STATUS[order.status] == "new"
    assert order.version == 1
    assert order.channel == "laredoute"
    assert order.marketplace_order_id == "LR-TUNIC-001"
    assert order.acceptance_deadline == CREATED_AT + timedelta(hours=72)
    assert [(line.line_id, line.quantity) for line in order.lines] == [
        (TUNIC_LINE, 2),
        (BELT_LINE, 1),
    ]
    assert [order.line_status(line) for line in order.lines] == [S.CREATED, S.CREATED]
    assert order.delivery == {
        "mode": "home",
        "relay_id": None,
        "relay_name": None,
        "relay_address": None,
    }


def test_a_relay_order_keeps_the_relay_name_address_and_id() -> None:
    """A Relais/Regular delivery carries the relay it goes to."""
    relay = {
        "mode": "relay",
        "relay_id": "MR-059123",
        "relay_name": "Tabac de la Grand-Place",
        "relay_address": "12 Grand-Place, 59100 Roubaix",
    }

    order = created(delivery=Delivery(**relay))

    assert order.delivery == relay


def test_an_order_of_la_brand_boutique_is_imported_on_its_own_channel() -> None:
    """La Brand Boutique is the second channel."""
    order = created(channel="labrandboutique", marketplace_order_id="LBB-BLAZER-042")

    assert order.channel == "labrandboutique"


def _without_relay(key: str) -> dict[str, Any]:
    relay = {
        "mode": "relay",
        "relay_id": "MR-059123",
        "relay_name": "Tabac de la Grand-Place",
        "relay_address": "12 Grand-Place, 59100 Roubaix",
    }
    del relay[key]
    return relay


def _lines(*changes: dict[str, Any]) -> list[NewLine]:
    lines = import_fields()["lines"]
    return [replace(line, **change) for line, change in zip(lines, changes, strict=False)] + lines[
        len(changes) :
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        pytest.param({"channel": "amazon"}, "channel", "channel", id="unknown channel"),
        pytest.param(
            {"marketplace_order_id": "  "}, "marketplace_order_id", "required", id="blank order id"
        ),
        pytest.param(
            {"created_at": datetime(2024, 3, 4, 9, 30)},
            "created_at",
            "timezone_required",
            id="naive created_at",
        ),
        pytest.param(
            {"delivery": {"mode": "drone"}}, "delivery.mode", "delivery_mode", id="unknown mode"
        ),
        pytest.param(
            {"delivery": _without_relay("relay_id")},
            "delivery.relay_id",
            "required_for_relay",
            id="relay without id",
        ),
        pytest.param(
            {"delivery": _without_relay("relay_name")},
            "delivery.relay_name",
            "required_for_relay",
            id="relay without name",
        ),
        pytest.param(
            {"delivery": _without_relay("relay_address")},
            "delivery.relay_address",
            "required_for_relay",
            id="relay without address",
        ),
        pytest.param({"lines": []}, "lines", "min_items", id="no lines"),
        pytest.param(
            {"lines": _lines({}, {"line_id": TUNIC_LINE})},
            "lines[1].line_id",
            "duplicate_line",
            id="duplicate line ids",
        ),
        pytest.param(
            {"lines": _lines({}, {"quantity": 0})},
            "lines[1].quantity",
            "positive",
            id="no quantity",
        ),
        pytest.param(
            {"lines": _lines({"unit_price": Decimal("-39.90")})},
            "lines[0].unit_price",
            "non_negative_amount",
            id="negative price",
        ),
        pytest.param(
            {"lines": _lines({"unit_price": Decimal("39.905")})},
            "lines[0].unit_price",
            "cents",
            id="price with 3 decimals",
        ),
        pytest.param(
            {"shipping_price": Decimal("-4.90")},
            "shipping_price",
            "non_negative_amount",
            id="negative shipping",
        ),
        pytest.param(
            {"shipping_price": Decimal("4.999")},
            "shipping_price",
            "cents",
            id="shipping 3 decimals",
        ),
    ],
)
def test_an_order_that_breaks_an_import_rule_is_refused_naming_the_field(
    overrides: dict[str, Any], field: str, rule: str
) -> None:
    """Bad marketplace data is refused with the field path and the rule it breaks."""
    with pytest.raises(RuleViolation) as refused:
        if "delivery" in overrides:
            # A delivery checks itself as it is built.
            overrides = {**overrides, "delivery": Delivery(**overrides["delivery"])}
        Order.import_(**import_fields(**overrides))

    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_the_same_marketplace_order_always_gets_the_same_id() -> None:
    """Importing LR-TUNIC-001 twice finds the same order: the id comes from channel and number."""
    first = created()
    second = created()

    assert first.id == second.id == order_id_for("laredoute", "LR-TUNIC-001")


def test_the_same_number_on_another_channel_is_another_order() -> None:
    """La Redoute and La Brand Boutique number their orders independently."""
    la_redoute = created()
    brand_boutique = created(channel="labrandboutique")
    other_number = created(marketplace_order_id="LR-TUNIC-002")

    assert len({la_redoute.id, brand_boutique.id, other_number.id}) == 3


def test_the_order_service_imports_a_marketplace_order_exactly_once() -> None:
    """A second import of the same order returns the first one unchanged."""
    service = OrderService(
        EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), clock=lambda: CREATED_AT
    )

    first = service.import_order(**import_fields())
    service.accept(first.order.id)
    again = service.import_order(**import_fields())

    assert first.created is True
    assert again.created is False
    assert again.order.id == first.order.id
    assert again.order.status == S.ACCEPTED


# ---------------------------------------------------------------- acceptance and the deadline


def test_an_order_accepted_within_72_hours_is_accepted() -> None:
    """The merchant accepts a new order: it stays in the New tab until the payment is validated."""
    order = created()

    order.accept(at=hours_after_creation(2))

    assert order.status == S.ACCEPTED
    assert TAB_OF_STATUS[order.status] == "new"
    assert order.accepted_at == hours_after_creation(2)


def test_an_order_can_be_accepted_exactly_at_the_deadline() -> None:
    """The 72nd hour itself is still on time."""
    order = created()

    order.accept(at=DEADLINE)

    assert order.status == S.ACCEPTED


def test_an_order_cannot_be_accepted_after_the_deadline() -> None:
    """One second after 72 hours the acceptance is refused and the order is unchanged."""
    order = created()

    with pytest.raises(DeadlinePassed) as refused:
        order.accept(at=DEADLINE + timedelta(seconds=1))

    assert isinstance(refused.value, RuleViolation)
    assert refused.value.field == "accepted_at"
    assert refused.value.rule == "acceptance_deadline"
    assert order.status == S.CREATED
    assert order.version == 1


def test_the_deadline_is_compared_across_time_zones() -> None:
    """An order created in Paris time and accepted in UTC uses the real elapsed time."""
    paris = timezone(timedelta(hours=1))
    order = created(created_at=datetime(2024, 3, 4, 10, 30, tzinfo=paris))  # 09:30 UTC

    with pytest.raises(DeadlinePassed):
        order.accept(at=DEADLINE + timedelta(minutes=1))
    order.accept(at=DEADLINE)

    assert order.status == S.ACCEPTED


def test_the_marketplace_cannot_expire_an_order_before_the_deadline() -> None:
    """Before 72 hours the merchant still has time: the expiry is refused."""
    order = created()

    with pytest.raises(RuleViolation) as refused:
        order.expire(at=DEADLINE - timedelta(seconds=1))

    assert (refused.value.field, refused.value.rule) == ("at", "deadline_not_reached")
    assert order.status == S.CREATED


@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=1)], ids=["at", "after"])
def test_an_order_not_accepted_in_time_is_canceled_by_the_marketplace(late: timedelta) -> None:
    """At or after the deadline the marketplace cancels it."""
    order = created()

    order.expire(at=DEADLINE + late)

    assert order.status == S.CANCELED
    assert TAB_OF_STATUS[order.status] == "canceled"
    assert order.closed_at == DEADLINE + late
    assert order.is_terminal


def test_a_refused_order_is_canceled_for_the_customer() -> None:
    """The merchant refuses a new order with a reason."""
    order = created()

    order.refuse(reason="Tunic discontinued")

    assert order.status == S.REFUSED
    assert TAB_OF_STATUS[order.status] == "canceled"
    assert order.refusal_reason == "Tunic discontinued"


@pytest.mark.parametrize("reason", ["", "   "])
def test_refusing_an_order_needs_a_reason(reason: str) -> None:
    """A blank reason is refused and the order stays new."""
    order = created()

    with pytest.raises(RuleViolation) as refused:
        order.refuse(reason=reason)

    assert (refused.value.field, refused.value.rule) == ("reason", "required")
    assert order.status == S.CREATED


def test_a_validated_payment_sends_the_order_to_the_waiting_for_shipment_tab() -> None:
    """ACCEPTED -> TOSHIP when the marketplace validates the customer's payment."""
    order = order_in(S.ACCEPTED)

    order.validate_payment(at=hours_after_creation(3))

    assert order.status == S.TOSHIP
    assert TAB_OF_STATUS[order.status] == "waiting_shipment"
    assert [order.line_status(line) for line in order.lines] == [S.TOSHIP, S.TOSHIP]


def test_a_refused_payment_cancels_the_order() -> None:
    """ACCEPTED -> CANCELED when the customer's payment is refused."""
    order = order_in(S.ACCEPTED)

    order.refuse_payment(at=hours_after_creation(3))

    assert order.status == S.CANCELED
    assert order.closed_at == hours_after_creation(3)


def test_the_marketplace_pays_a_shipped_order() -> None:
    """SHIPPED -> PAID, and the order stays in the Sent tab."""
    order = order_in(S.SHIPPED)

    order.mark_paid(at=LATER)

    assert order.status == S.PAID
    assert TAB_OF_STATUS[order.status] == "sent"
    assert order.paid_at == LATER


# ---------------------------------------------------------------- every transition, every refusal


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [pytest.param(*t, id=f"{t[0]}-in-{t[1]}") for t in TRANSITIONS],
)
def test_each_command_moves_the_order_along_the_seller_guide(
    name: str, before: OrderStatus, after: OrderStatus
) -> None:
    """Every allowed command succeeds, adds one event and leads to the guide's next status."""
    order = order_in(before)
    _, command, allowed = COMMANDS[name]
    assert before in allowed

    command(order)

    assert order.status == after
    assert order.version == _version(before) + 1
    assert len(order.collect_events()) == 1


def test_every_allowed_status_of_every_command_has_a_transition() -> None:
    """The transition table above covers each command in each status it is allowed in."""
    covered = {(name, before) for name, before, _ in TRANSITIONS}

    assert covered == {
        (name, status) for name, (_, _, allowed) in COMMANDS.items() for status in allowed
    }


@pytest.mark.parametrize(("name", "status"), REFUSALS)
def test_a_command_not_allowed_in_the_status_is_refused_naming_status_and_allowed_ones(
    name: str, status: OrderStatus
) -> None:
    """The error names the order's status and the statuses that would allow the command."""
    order = order_in(status)
    verb, command, allowed = COMMANDS[name]

    with pytest.raises(InvalidStatus) as refused:
        command(order)

    error = refused.value
    assert error.status == status
    assert set(error.allowed) == allowed
    assert error.status not in error.allowed
    assert str(error) == (
        f"cannot {verb} an order in status {status}; "
        f"allowed statuses: {', '.join(sorted(allowed))}"
    )
    assert order.status == status
    assert order.version == _version(status)
    assert order.collect_events() == []


@pytest.mark.parametrize("status", [S.REFUSED, S.CANCELED, S.OUT_OF_STOCK])
def test_no_command_changes_a_closed_order(status: OrderStatus) -> None:
    """REFUSED, CANCELED and OUT_OF_STOCK are final."""
    order = order_in(status)

    for name, (_, command, _) in COMMANDS.items():
        with pytest.raises(InvalidStatus):
            command(order)
        assert order.status == status, name

    assert order.is_terminal
    assert order.version == _version(status)


def test_paying_again_an_order_paid_before_its_refund_was_requested_is_refused() -> None:
    """Once paid, an order with a refund in progress cannot be paid a second time."""
    order = refund_requested(paid())
    version = order.version

    with pytest.raises(InvalidStatus) as refused:
        order.mark_paid(at=LATER)

    assert refused.value.status == S.TO_REFUND
    assert order.version == version


def test_the_refusal_to_pay_twice_does_not_list_the_current_status_as_allowed() -> None:
    """An error saying TO_REFUND is allowed while refusing an order in TO_REFUND misleads."""
    order = refund_requested(paid())

    with pytest.raises(InvalidStatus) as refused:
        order.mark_paid(at=LATER)

    assert refused.value.status not in refused.value.allowed


# ---------------------------------------------------------------- tabs


@pytest.mark.parametrize(
    ("status", "tab"),
    [
        (S.CREATED, "new"),
        (S.ACCEPTED, "new"),
        (S.TOSHIP, "waiting_shipment"),
        (S.SHIPPED, "sent"),
        (S.PAID, "sent"),
        (S.TO_REFUND, "sent"),
        (S.TO_APPROVE, "sent"),
        (S.REFUNDING, "sent"),
        (S.REFUNDED, "sent"),
        (S.REFUND_REFUSED, "sent"),
        (S.REFUSED, "canceled"),
        (S.CANCELED, "canceled"),
        (S.OUT_OF_STOCK, "canceled"),
    ],
)
def test_each_status_shows_in_the_tab_of_the_seller_guide(status: OrderStatus, tab: str) -> None:
    """New, Waiting for shipment, Sent and Canceled hold the statuses the guide lists."""
    assert TAB_OF_STATUS[order_in(status).status] == tab


# ---------------------------------------------------------------- amounts


def test_amounts_are_decimal_euros_to_the_cent() -> None:
    """Prices given as text become Decimal with two places; no float anywhere."""
    order = created(
        shipping_price="4.9",
        lines=_lines({"unit_price": "39.9"}, {"unit_price": 15}),
    )
    order_amounts = [
        order.shipping_price,
        order.goods_total,
        order.order_total,
        order.payable_total,
        order.refunded_amount,
        order.refundable_amount,
        *(line.unit_price for line in order.lines),
        *(line.amount for line in order.lines),
    ]

    assert all(type(amount) is Decimal for amount in order_amounts)
    assert all(amount.as_tuple().exponent == -2 for amount in order_amounts)
    assert order.order_total == PAYABLE == Decimal("99.70")
    assert order.shipping_price == SHIPPING


def test_a_float_price_never_enters_the_domain() -> None:
    """39.9 as a float is not 39.90: it is refused rather than rounded silently."""
    with pytest.raises((RuleViolation, TypeError)):
        created(lines=_lines({"unit_price": 39.9}))


def test_refund_amounts_are_decimal() -> None:
    """A refund's amounts are Decimal too."""
    order = refunded()
    refund = order.refunds[0]

    assert type(refund.amount) is Decimal
    assert type(refund.shipping_amount) is Decimal
    assert all(type(amount) is Decimal for amount in refund.line_amounts.values())
    assert type(order.refunded_amount) is Decimal
    assert order.refunded_amount == Decimal("39.90")
    assert order.refundable_amount == PAYABLE - Decimal("39.90")


# ---------------------------------------------------------------- replay


def _order_with_history() -> Order:
    """An order that went through most transitions, its events not yet collected."""
    order = to_ship()
    order.cancel(lines=[LineQuantity(TUNIC_LINE, 1)], reason="One tunic torn", at=LATER)
    order.ship(
        tracking_number=TRACKING_NUMBER, carrier="Colis Privé", tracking_url=None, at=LATER
    )
    order.request_refund(lines=None, refund_shipping=True, reason="Parcel lost", at=LATER)
    order.request_refund(
        lines=[LineQuantity(BELT_LINE, 1)], refund_shipping=False, reason="Belt faulty", at=LATER
    )
    order.approve_refund("R2", at=LATER)
    order.mark_paid(at=LATER)
    order.complete_refund("R2", at=LATER)
    order.request_refund(lines=None, refund_shipping=True, reason="Tunic returned", at=LATER)
    order.refuse_refund("R3", reason="CARD_OPPOSITION", at=LATER)
    return order


def test_replaying_the_events_rebuilds_the_same_order() -> None:
    """Every state can be rebuilt from the events alone."""
    order = _order_with_history()
    events = order.collect_events()

    replayed: Order | None = None
    for domain_event in events:
        replayed = domain_event.mutate(replayed)

    assert replayed == order
    assert replayed is not None
    assert replayed.version == len(events) == 12
    assert replayed.status == S.REFUND_REFUSED
    assert [r.status for r in replayed.refunds] == ["SUPERSEDED", "REFUNDED", "REFUND_REFUSED"]


def test_an_order_stored_in_memory_reads_back_equal() -> None:
    """The order service stores the events and rebuilds an equal order from them."""
    service = OrderService(
        EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), clock=lambda: LATER)
    order = _order_with_history()
    service.store.save(order)

    stored = service.get_order(order.id)

    assert stored == order
    assert stored.refunded_amount == Decimal("15.00")
    assert [line.canceled_quantity for line in stored.lines] == [1, 0]


def test_the_order_service_round_trip_keeps_each_command() -> None:
    """Through the service each command is saved as one event, in the order given."""
    service = OrderService(
        EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), clock=lambda: hours_after_creation(1)
    )
    order_id = service.import_order(**import_fields()).order.id

    service.accept(order_id, expected_version=1)
    service.validate_payment(order_id)
    service.cancel(order_id, reason="One tunic torn", lines=[(TUNIC_LINE, 1)])
    service.ship(order_id, tracking_number=TRACKING_NUMBER, carrier="DHL")
    service.request_refund(
        order_id, reason="Belt faulty", refund_shipping=True, lines=[(BELT_LINE, 1)]
    )
    service.submit_refund(order_id, "R1")
    service.approve_refund(order_id, "R1")
    service.complete_refund(order_id, "R1")
    service.mark_paid(order_id)
    order = service.get_order(order_id)

    assert order.version == 10
    assert order.status == S.REFUNDED
    assert order.refunded_amount == Decimal("19.90")
    assert order.shipment is not None and order.shipment.carrier == "DHL"
    assert [h.type for h in service.history(order_id)] == [
        "Imported",
        "Accepted",
        "PaymentValidated",
        "LinesCanceled",
        "Shipped",
        "RefundRequested",
        "RefundSubmitted",
        "RefundApproved",
        "RefundCompleted",
        "Paid",
    ]


def _version(status: OrderStatus) -> int:
    """How many events the builder of this status records."""
    return {
        S.CREATED: 1,
        S.ACCEPTED: 2,
        S.TOSHIP: 3,
        S.SHIPPED: 4,
        S.PAID: 5,
        S.TO_REFUND: 5,
        S.TO_APPROVE: 6,
        S.REFUNDING: 7,
        S.REFUNDED: 8,
        S.REFUND_REFUSED: 7,
        S.REFUSED: 2,
        S.CANCELED: 3,
        S.OUT_OF_STOCK: 4,
    }[status]


def test_builders_bring_fresh_orders_to_each_status() -> None:
    """The helpers above reach every status of the seller guide."""
    assert {order_in(status).status for status in OrderStatus} == set(OrderStatus)
    assert shipped().shipment is not None
