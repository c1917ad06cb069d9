"""The projection runner on each store: catch-up equals incremental processing, crashes and
kills mid-batch leave nothing half applied, two runners never apply an event twice, and a
failing handler stops its own projection only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from app.adapters.db import open_database
from app.application.orders import OrderService
from app.bootstrap import open_service
from app.config import Settings
from app.projections.order_tabs import (
    TAB_OF_STATUS,
    OrderFilters,
    OrderTabsProjection,
    OrderTabsQueries,
    cents,
)
from app.projections.rebuild import rebuild
from app.projections.runner import ProjectionFailed, ProjectionRunner
from tests.integration.projections_support import (
    CrashingOrderTabs,
    Database,
    RecordingProjection,
    SimulatedCrash,
    applied_positions,
    create_applied_table,
    head,
    import_many,
    order_tabs_rows,
    position_row,
    rebuilt_rows,
    write_varied_history,
)
from tests.support import FakeClock, order_fields

REPO_ROOT = Path(__file__).resolve().parents[2]


def order_tabs_runner(db: Database, batch_size: int) -> ProjectionRunner:
    return ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=batch_size)


def log_positions(service: OrderService) -> list[int]:
    """The log's positions as the event store library reads them."""
    notifications = service.store.recorder.select_notifications(
        start=0, limit=1_000_000, inclusive_of_start=False
    )
    return [notification.id for notification in notifications]


# ---------------------------------------------------------------- catch-up and incremental


def test_catching_up_from_zero_gives_the_rows_that_processing_each_write_at_once_gave(
    db: Database, service: OrderService
) -> None:
    """The same log gives the same order tabs, row for row, whether applied event by event as
    written or from zero in batches of any size."""
    live = order_tabs_runner(db, batch_size=2)
    write_varied_history(service, after_each_write=live.catch_up)
    incremental = order_tabs_rows(db)
    assert position_row(db)["position"] == head(service)
    assert len(incremental) == 17

    for batch_size in (1, 7, 1000):
        status = rebuild(db, OrderTabsProjection(db.dialect), in_place=True,
                         batch_size=batch_size)
        assert status.generation == 1 and status.position == head(service)
        assert order_tabs_rows(db) == incremental, f"in place, batches of {batch_size}"
    assert rebuilt_rows(db, batch_size=5) == incremental
    # The set-based fill of a long log (PostgreSQL; SQLite falls back to batches) agrees too.
    rebuild(db, OrderTabsProjection(db.dialect), bulk=True)
    assert order_tabs_rows(db) == incremental, "bulk fill"


def test_the_order_tabs_agree_with_the_orders_themselves(
    db: Database, service: OrderService
) -> None:
    """Each row has its order's status, tab, totals, refunds, tracking and version."""
    history = write_varied_history(service)
    order_tabs_runner(db, batch_size=10).catch_up()
    queries = OrderTabsQueries(db)
    rows = {}
    cursor = None
    while True:
        page = queries.list(OrderFilters(), "newest", 100, cursor)
        rows.update({row.order_id: row for row in page.rows})
        cursor = page.next_cursor
        if cursor is None:
            break
    assert {order_id: row.status for order_id, row in rows.items()} == history.expected
    for order_id, row in rows.items():
        order = service.get_order(order_id)
        assert row.status == order.status
        assert row.tab == TAB_OF_STATUS[order.status]
        assert row.version == order.version
        assert cents(row.order_total) == cents(order.order_total)
        assert cents(row.refunded_amount) == cents(order.refunded_amount)
        assert row.line_count == len(order.lines)
        assert row.created_at == order.created_at
        assert row.acceptance_deadline == order.acceptance_deadline
        if order.shipment is not None:
            assert (row.carrier, row.tracking_number, row.tracking_url, row.shipped_at) == (
                "Colissimo",
                order.shipment.tracking_number,
                order.shipment.tracking_url,
                order.shipment.shipped_at,
            )
        else:
            assert row.carrier is row.tracking_number is row.shipped_at is None
    # One tunic (29.99), then the scarf (15.00): two completed refunds add up.
    twice_refunded = next(r for r in rows.values() if r.marketplace_order_id == "LR-TUNIC-015")
    assert twice_refunded.refunded_amount == Decimal("44.99")


# ---------------------------------------------------------------- crashes


def test_a_runner_that_crashes_mid_batch_leaves_nothing_of_that_batch_and_a_new_one_finishes(
    db: Database, service: OrderService
) -> None:
    """The crashed batch is rolled back whole; a fresh runner ends with a fresh rebuild's rows."""
    write_varied_history(service)
    import_many(service, 60)
    crashing = ProjectionRunner(db, CrashingOrderTabs(db.dialect, crash_on=3),
                                batch_size=20)
    with pytest.raises(SimulatedCrash):
        crashing.catch_up()
    assert position_row(db)["position"] == 40
    assert max(row[-1] for row in order_tabs_rows(db)) <= 40

    applied = order_tabs_runner(db, batch_size=20).catch_up()
    assert applied == head(service) - 40
    after_restart = order_tabs_rows(db)
    assert position_row(db)["position"] == head(service)
    assert rebuilt_rows(db) == after_restart


def test_a_runner_process_killed_mid_batch_is_taken_over_without_loss_or_repeat(
    db: Database, service: OrderService, settings: Settings
) -> None:
    """After a SIGKILL inside a half-written batch the store keeps the batches before it, and
    the next runner ends with a fresh rebuild's rows."""
    write_varied_history(service)
    import_many(service, 120)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.projections_support",
         settings.database_url.get_secret_value(), "3", "25"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = worker.stdout.readline()
        assert line == "stalled\n", worker.stderr.read() if not line else line
        assert position_row(db)["position"] == 50
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()
        worker.stderr.close()
    assert position_row(db)["position"] == 50
    assert max(row[-1] for row in order_tabs_rows(db)) <= 50

    assert order_tabs_runner(db, batch_size=25).catch_up() == head(service) - 50
    assert rebuilt_rows(db) == order_tabs_rows(db)


# ---------------------------------------------------------------- two runners


def test_two_runners_at_once_apply_every_event_exactly_once(
    db: Database, service: OrderService, settings: Settings, clock: FakeClock
) -> None:
    """Two runners with their own connections race over 2,000 events while more are written,
    and each position is applied once (a second INSERT would break the primary key)."""
    create_applied_table(db)
    import_many(service, 2000)
    stores = [(open_database(settings), open_service(settings, clock=clock)) for _ in "AB"]
    runners = [
        ProjectionRunner(store_db, RecordingProjection("once", runner=label),
                         batch_size=50)
        for (store_db, store_service), label in zip(stores, "AB", strict=True)
    ]
    barrier = threading.Barrier(3)
    writing_done = threading.Event()
    errors: list[BaseException] = []

    def race(runner: ProjectionRunner) -> None:
        try:
            barrier.wait()
            while True:
                # One batch at a time with a pause between, so that both runners take turns.
                if runner.process_batch() == 0 and writing_done.is_set() and runner.catch_up() == 0:
                    return
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
        import_many(service, 200, prefix="LR-LATE", chunk=20)
    finally:
        writing_done.set()
        for thread in threads:
            thread.join(60)
        for store_db, store_service in stores:
            store_service.close()
            store_db.close()
    assert errors == []
    applied = applied_positions(db, "once")
    assert [position for position, _ in applied] == log_positions(service)
    assert len(applied) == 2200
    assert {runner for _, runner in applied} == {"A", "B"}
    assert position_row(db, "once")["position"] == head(service)


def test_two_started_runners_keep_one_model_with_each_event_applied_once(
    db: Database, service: OrderService, settings: Settings, clock: FakeClock
) -> None:
    """Background runners of two processes (PostgreSQL elects one of them) follow the writes."""
    create_applied_table(db)
    stores = [(open_database(settings), open_service(settings, clock=clock)) for _ in "AB"]
    runners = [
        ProjectionRunner(store_db, RecordingProjection("followed", runner=label),
                         batch_size=30, poll_interval=0.02)
        for (store_db, store_service), label in zip(stores, "AB", strict=True)
    ]
    try:
        for runner in runners:
            runner.start()
        import_many(service, 300, chunk=15)
        assert runners[0].wait_for(head(service), timeout=20)
    finally:
        for runner in runners:
            runner.stop()
        for store_db, store_service in stores:
            store_service.close()
            store_db.close()
    assert [position for position, _ in applied_positions(db, "followed")] == log_positions(service)


# ---------------------------------------------------------------- failures


def test_a_failing_handler_stops_its_projection_only_and_resume_continues_it(
    db: Database, service: OrderService
) -> None:
    """The picky projection stops at the event it cannot read, with the events before it
    applied and the error recorded, while the order tabs reach the head; resume continues."""
    create_applied_table(db)
    write_varied_history(service)
    picky = RecordingProjection("picky", fail_at=37)
    picky_runner = ProjectionRunner(db, picky, batch_size=20)
    tabs_runner = order_tabs_runner(db, batch_size=20)

    with pytest.raises(ProjectionFailed) as failed:
        picky_runner.catch_up()
    assert failed.value.position == 37
    assert tabs_runner.catch_up() == head(service)

    status = picky_runner.status()
    assert (status.position, status.failed_position) == (36, 37)
    assert status.error.startswith("ValueError: cannot read the event of")
    assert "at 37" in status.error
    assert not status.healthy and status.lag == head(service) - 36
    assert [p for p, _ in applied_positions(db, "picky")] == log_positions(service)[:36]
    assert tabs_runner.status().healthy and tabs_runner.status().lag == 0

    # Stopped: later writes reach the order tabs, not the picky projection.
    import_many(service, 5, prefix="LR-AFTER")
    with pytest.raises(ProjectionFailed):
        picky_runner.catch_up()
    assert tabs_runner.catch_up() == 5
    assert picky_runner.status().position == 36

    picky.fail_at = None
    picky_runner.resume()
    assert picky_runner.status().healthy
    assert picky_runner.catch_up() == head(service) - 36
    assert [p for p, _ in applied_positions(db, "picky")] == log_positions(service)


def test_a_failing_first_event_of_a_batch_applies_nothing_and_names_that_event(
    db: Database, service: OrderService
) -> None:
    """When the very next event fails, the position stays and the failure names that event."""
    create_applied_table(db)
    import_many(service, 30)
    runner = ProjectionRunner(db, RecordingProjection("picky", fail_at=21),
                              batch_size=10)
    with pytest.raises(ProjectionFailed):
        runner.catch_up()
    status = runner.status()
    assert (status.position, status.failed_position) == (20, 21)
    assert len(applied_positions(db, "picky")) == 20


def test_the_bulk_rebuild_folds_search_text_as_the_runner_does(
    db: Database, service: OrderService
) -> None:
    """Accented capitals, Greek and Cyrillic names are searchable alike after either path."""
    names = [("ÉLODIE", "ØRSTED"), ("Zoé", "MARTIN-ÇELIK"), ("ΑΛΈΞΗΣ", "Παπαδόπουλος"), ("Иван", "ПЕТРОВ")]
    for index, (firstname, lastname) in enumerate(names):
        service.import_order(**order_fields(
            f"LR-CASE-{index}", customer={"firstname": firstname, "lastname": lastname,
                                          "email": "client@example.fr"},
        ))
    order_tabs_runner(db, batch_size=3).catch_up()
    incremental = order_tabs_rows(db)
    rebuild(db, OrderTabsProjection(db.dialect), bulk=True)
    assert order_tabs_rows(db) == incremental
    searches = [row[0] for row in db.execute("SELECT search FROM order_tabs ORDER BY search")]
    assert any("élodie ørsted" in text for text in searches)
    assert any("иван петров" in text for text in searches)
