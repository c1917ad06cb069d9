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
