"""The order service on each store: import once, commands, conflicts, history."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from app.application.orders import OrderService
from app.bootstrap import open_service
from app.domain.errors import InvalidStatus, OrderNotFound, VersionConflict
from app.domain.order import OrderStatus, order_id_for
from tests.support import FakeClock, order_fields


def test_importing_the_same_order_twice_yields_one_order(service: OrderService) -> None:
    """The second import returns the first order, untouched."""
    first = service.import_order(**order_fields())
    second = service.import_order(**order_fields(shipping_price=Decimal("99.00")))
    assert first.created and not second.created
    assert second.order.id == first.order.id == order_id_for("laredoute", "LR-TUNIC-001")
    assert second.order.shipping_price == Decimal("4.90")
    assert len(service.history(first.order.id)) == 1


def test_two_racing_imports_of_one_order_store_it_once(settings, clock: FakeClock) -> None:
    """Eight threads with their own service import the same order: one event is stored."""
    services = [open_service(settings, clock=clock) for _ in range(8)]
    barrier = threading.Barrier(len(services))
    results = []

    def run(svc: OrderService) -> None:
        barrier.wait()
        results.append(svc.import_order(**order_fields("LR-RACE-001")))

    threads = [threading.Thread(target=run, args=(svc,)) for svc in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for svc in services:
        svc.close()
    assert len(results) == 8
    assert sum(result.created for result in results) == 1
    assert len({result.order.id for result in results}) == 1
    check = open_service(settings, clock=clock)
    assert [entry.type for entry in check.history(results[0].order.id)] == ["Imported"]
    check.close()


def test_the_same_marketplace_id_on_two_channels_is_two_orders(service: OrderService) -> None:
    a = service.import_order(**order_fields("LR-SHARED-7")).order
    b = service.import_order(**order_fields("LR-SHARED-7", channel="labrandboutique")).order
    assert a.id != b.id


def test_an_order_goes_through_its_life_and_is_rebuilt_from_its_events(
    service: OrderService, clock: FakeClock
) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id, expected_version=1)
    service.validate_payment(order.id)
    service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
    clock.advance(days=10)
    service.mark_paid(order.id)
    service.request_refund(order.id, lines=[("L1", 1)], refund_shipping=False, reason="damaged")
    service.submit_refund(order.id, "R1")
    service.approve_refund(order.id, "R1")
    reloaded = service.complete_refund(order.id, "R1")
    assert reloaded.status == OrderStatus.REFUNDED
    assert reloaded.refunded_amount == Decimal("29.99")
    again = service.get_order(order.id)
    assert again.version == reloaded.version == 9
    assert [e.type for e in service.history(order.id)] == [
        "Imported", "Accepted", "PaymentValidated", "Shipped", "Paid",
        "RefundRequested", "RefundSubmitted", "RefundApproved", "RefundCompleted",
    ]


def test_a_stale_expected_version_is_a_conflict(service: OrderService) -> None:
    order = service.import_order(**order_fields()).order
    service.accept(order.id, expected_version=1)
    with pytest.raises(VersionConflict):
        service.refuse(order.id, reason="too late", expected_version=1)


def test_a_command_in_the_wrong_status_names_the_status(service: OrderService) -> None:
    order = service.import_order(**order_fields()).order
    with pytest.raises(InvalidStatus, match="status CREATED.*TOSHIP"):
        service.ship(order.id, tracking_number="X1", carrier="DHL")


def test_an_unknown_order_is_not_found(service: OrderService) -> None:
    with pytest.raises(OrderNotFound):
        service.get_order(order_id_for("laredoute", "NOPE"))
    with pytest.raises(OrderNotFound):
        service.history(order_id_for("laredoute", "NOPE"))


def test_concurrent_accepts_of_one_order_let_exactly_one_win(settings, clock: FakeClock) -> None:
    """Eight writers hold version 1; one accept is stored, the others conflict."""
    setup = open_service(settings, clock=clock)
    order_id = setup.import_order(**order_fields()).order.id
    setup.close()
    services = [open_service(settings, clock=clock) for _ in range(8)]
    barrier = threading.Barrier(len(services))
    outcomes: list[str] = []

    def run(svc: OrderService) -> None:
        barrier.wait()
        try:
            svc.accept(order_id, expected_version=1)
            outcomes.append("won")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=run, args=(svc,)) for svc in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for svc in services:
        svc.close()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]


def test_batch_import_stores_new_orders_and_skips_known_ones(service: OrderService) -> None:
    service.import_order(**order_fields("LR-BATCH-2"))
    stored = service.import_orders([order_fields(f"LR-BATCH-{i}") for i in range(1, 6)])
    assert stored == 4
    assert service.get_order(order_id_for("laredoute", "LR-BATCH-5")).status == OrderStatus.CREATED
