"""The outbox of marketplace actions: one row per merchant action event, never one for a
change that came from the marketplace, never two for one event."""

from __future__ import annotations

from app.adapters.db import PostgresDatabase, SQLiteDatabase
from app.adapters.sync_store import SyncStore
from app.application.orders import OrderService
from app.projections.marketplace_actions import MarketplaceActionsProjection
from app.projections.rebuild import rebuild
from app.projections.runner import ProjectionRunner
from tests.support import order_fields


def _runner(db: SQLiteDatabase | PostgresDatabase) -> ProjectionRunner:
    return ProjectionRunner(db, MarketplaceActionsProjection(db.dialect))


def test_each_merchant_action_becomes_one_pending_action_in_order(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    service.cancel(order.id, reason="Rupture", lines=[("L2", 1)])
    service.ship(order.id, tracking_number="6A1", carrier="Colissimo")
    service.mark_paid(order.id)
    service.request_refund(order.id, reason="Défaut", refund_shipping=True)
    _runner(db).catch_up()
    actions = SyncStore(db).actions_of(order.id)
    assert [(a.kind, a.event_version, a.state, a.attempts) for a in actions] == [
        ("accept", 2, "pending", 0),
        ("cancel", 4, "pending", 0),
        ("ship", 5, "pending", 0),
        ("refund", 7, "pending", 0),
    ]


def test_changes_mirrored_from_the_marketplace_are_not_sent_back(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    refused = service.import_order(**order_fields("LR-REFUSED")).order
    service.refuse(refused.id, reason="refused on the marketplace", origin="marketplace")
    order = service.import_order(**order_fields()).order
    service.accept(order.id, origin="marketplace")
    service.validate_payment(order.id)
    service.ship(order.id, tracking_number="6A1", carrier="Colissimo", origin="marketplace")
    _runner(db).catch_up()
    store = SyncStore(db)
    assert store.actions_of(order.id) == []
    assert store.actions_of(refused.id) == []


def test_a_rebuild_or_a_second_runner_adds_no_action_and_keeps_delivery_state(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    first = _runner(db)
    first.catch_up()
    store = SyncStore(db)
    (action,) = store.actions_of(order.id)
    assert store.move_action(action.id, from_states=["pending"], to_state="confirmed", at=1.0)
    rebuild(db, MarketplaceActionsProjection(db.dialect))
    _runner(db).catch_up()
    assert [(a.kind, a.state) for a in store.actions_of(order.id)] == [("accept", "confirmed")]


def test_each_action_carries_what_its_event_said(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    """Delivery sends the payload as it is: the order's ids, the lines, amounts, tracking."""
    partly = service.import_order(**order_fields("LR-PARTLY")).order
    partly_lines = [line.line_id for line in partly.lines]
    service.accept(partly.id, refused_lines=[partly_lines[0]])
    order = service.import_order(**order_fields()).order
    lines = [line.line_id for line in order.lines]
    service.accept(order.id)
    service.validate_payment(order.id)
    service.cancel(order.id, reason="Rupture", lines=[(lines[1], 1)])
    service.ship(order.id, tracking_number="6A1", carrier="Colissimo")
    service.mark_paid(order.id)
    refunded = service.request_refund(order.id, reason="Défaut", refund_shipping=True).refunds[-1]
    _runner(db).catch_up()
    (partly_accept,) = SyncStore(db).actions_of(partly.id)
    assert partly_accept.payload == {
        "channel": partly.channel, "marketplace_order_id": "LR-PARTLY",
        "decisions": {lid: lid != partly_lines[0] for lid in partly_lines},
    }
    accept, cancel, ship, refund = SyncStore(db).actions_of(order.id)
    ids = {"channel": order.channel, "marketplace_order_id": order.marketplace_order_id}
    assert accept.payload == {**ids, "decisions": {lid: True for lid in lines}}
    unit_price = order.line(lines[1]).unit_price
    no_taxes = {"taxes": {}, "shipping_taxes": {}, "fees": {}}
    assert cancel.payload == {
        **ids, "lines": {lines[1]: 1}, "amounts": {lines[1]: f"{unit_price:.2f}"},
        "charges": {lines[1]: {"price": f"{unit_price:.2f}", "shipping": "0.00", **no_taxes}},
        "currency": "EUR", "tax_mode": "TAX_INCLUDED",
        "reason": "Rupture", "whole_order": False,
        "canceled_after": {lid: line.canceled_quantity for lid, line in
                           ((ln.line_id, service.get_order(order.id).line(ln.line_id))
                            for ln in order.lines)},
    }
    shipment = service.get_order(order.id).shipment
    assert ship.payload == {**ids, "carrier": "Colissimo", "tracking_number": "6A1",
                            "tracking_url": shipment.tracking_url}
    assert refund.payload == {
        **ids, "refund_id": refunded.refund_id,
        "lines": dict(refunded.lines),
        "line_amounts": {lid: str(amount) for lid, amount in refunded.line_amounts.items()},
        "shipping_amount": str(refunded.shipping_amount), "reason": "Défaut", "supersedes": None,
        "charges": {lid: {"price": str(part.price), "shipping": str(part.shipping), **no_taxes}
                    for lid, part in refunded.charges.items()},
        "currency": "EUR", "tax_mode": "TAX_INCLUDED",
    }
    assert refunded.shipping_amount == order.shipping_price > 0


def test_cancelling_what_is_left_is_sent_as_the_whole_order(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    first = order.lines[0]
    service.cancel(order.id, reason="Rupture", lines=[(first.line_id, first.quantity)])
    service.cancel(order.id, reason="Rupture")
    _runner(db).catch_up()
    _, partly, wholly = SyncStore(db).actions_of(order.id)
    assert (partly.payload["whole_order"], wholly.payload["whole_order"]) == (
        len(order.lines) == 1, True)


def test_a_superseded_refund_request_is_known_from_the_outbox_alone(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    service.ship(order.id, tracking_number="6A1", carrier="Colissimo")
    service.request_refund(order.id, reason="Défaut", refund_shipping=False)
    service.request_refund(order.id, reason="Défaut", refund_shipping=True)
    _runner(db).catch_up()
    store = SyncStore(db)
    _, _, first, second = store.actions_of(order.id)
    assert second.payload["supersedes"] == first.payload["refund_id"]
    assert store.refund_superseded(first) and not store.refund_superseded(second)


def test_actions_written_before_payloads_get_theirs_from_a_second_reading(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    """What the upgrade does (migration 0009): the outbox reads the log again from the start;
    rows written without a payload get it, and keep their delivery state."""
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    service.ship(order.id, tracking_number="6A1", carrier="Colissimo")
    _runner(db).catch_up()
    store = SyncStore(db)
    before = store.actions_of(order.id)
    accept = before[0]
    assert store.move_action(accept.id, from_states=["pending"], to_state="confirmed", at=1.0)
    with db.transaction() as tx:
        tx.execute("UPDATE marketplace_actions SET payload = NULL")
        tx.execute("DELETE FROM outbox_orders")
        tx.execute("UPDATE projection_positions SET position = 0 WHERE name = %s",
                   ("marketplace_actions",))
    assert all(a.payload is None for a in store.actions_of(order.id))
    _runner(db).catch_up()
    after = store.actions_of(order.id)
    assert [(a.id, a.kind, a.state, a.payload) for a in after] == [
        (a.id, a.kind, "confirmed" if a.id == accept.id else a.state, a.payload) for a in before
    ]


def test_orders_kept_in_memory_are_dropped_when_another_writer_moved_the_outbox(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService
) -> None:
    """A runner trusts the orders it keeps in memory only while nothing else has written:
    here another runner applies a cancellation in between, then the first one the next."""
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    first = _runner(db)
    first.catch_up()
    one, other = order.lines[0], order.lines[1]
    service.cancel(order.id, reason="Rupture", lines=[(one.line_id, 1)])
    _runner(db).catch_up()
    service.cancel(order.id, reason="Rupture", lines=[(other.line_id, 1)])
    first.catch_up()
    actions = SyncStore(db).actions_of(order.id)
    assert [a.kind for a in actions] == ["accept", "cancel", "cancel"]
    assert actions[-1].payload["canceled_after"] == {one.line_id: 1, other.line_id: 1}


def test_a_rolled_back_batch_leaves_no_trace_in_the_orders_kept_in_memory(
    db: SQLiteDatabase | PostgresDatabase, service: OrderService, monkeypatch
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id)
    service.validate_payment(order.id)
    runner = _runner(db)
    runner.catch_up()
    line = order.lines[0]
    service.cancel(order.id, reason="Rupture", lines=[(line.line_id, 1)])
    # The batch is applied, then its position cannot be written: the transaction rolls back.
    real_advance = runner.positions.advance

    def failing_advance(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(runner.positions, "advance", failing_advance)
    try:
        runner.process_batch()
    except Exception:  # noqa: BLE001 - the failure is recorded; what matters is after
        pass
    monkeypatch.setattr(runner.positions, "advance", real_advance)
    with db.transaction() as tx:
        tx.execute("UPDATE projection_positions SET failed_position = NULL, error = NULL"
                   " WHERE name = %s", ("marketplace_actions",))
    runner.catch_up()
    cancel = SyncStore(db).actions_of(order.id)[-1]
    assert cancel.kind == "cancel"
    assert cancel.payload["canceled_after"][line.line_id] == 1
