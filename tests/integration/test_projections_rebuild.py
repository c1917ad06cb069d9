"""Rebuilding the order tabs on each store: beside the live model (the next generation, then a
switch) or in place, and the `oms projections` commands that do it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.application.orders import OrderService
from app.config import Settings
from app.domain.order import order_id_for
from app.projections.order_tabs import OrderTabsProjection, OrderTabsQueries
from app.projections.log import EventLog
from app.projections.rebuild import rebuild
from app.projections.runner import ProjectionFailed, ProjectionRunner
from tests.integration.projections_support import (
    Database,
    SimulatedCrash,
    generation_rows,
    generations,
    head,
    import_many,
    order_tabs_rows,
    position_row,
    rebuilt_rows,
    write_varied_history,
)
from tests.support import order_fields

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(db: Database, service: OrderService) -> ProjectionRunner:
    """The order tabs, caught up with a varied history."""
    write_varied_history(service)
    runner = ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=50)
    runner.catch_up()
    return runner


class BrokenOrderTabs(OrderTabsProjection):
    """The order tabs with a handler bug: the event at `fail_at` cannot be applied."""

    def __init__(self, dialect: str, fail_at: int) -> None:
        super().__init__(dialect)
        self.fail_at = fail_at

    def apply(self, tx: Any, generation: int, events: Any) -> None:
        if any(event.position == self.fail_at for event in events):
            raise KeyError("carrier")
        super().apply(tx, generation, events)


def fail_order_tabs_at(db: Database, position: int) -> None:
    """Run a broken order tabs runner until it records its failure."""
    runner = ProjectionRunner(db, BrokenOrderTabs(db.dialect, position), batch_size=10)
    with pytest.raises(ProjectionFailed):
        runner.catch_up()
    assert position_row(db)["failed_position"] == position


# ---------------------------------------------------------------- beside the live model


def test_rebuilding_beside_the_live_model_serves_the_old_generation_until_the_switch(
    db: Database, service: OrderService, live: ProjectionRunner
) -> None:
    """While the next generation fills up readers see the whole old one, then the new one
    with the same rows, and the old one is gone."""
    before = order_tabs_rows(db)
    counts_before = OrderTabsQueries(db).counts()
    seen: list[tuple[int, int]] = []

    def progress(position: int, _head: int) -> None:
        state = position_row(db)
        assert (state["generation"], state["rebuild_generation"]) == (1, 2)
        assert state["rebuild_position"] == position
        assert order_tabs_rows(db) == before
        assert OrderTabsQueries(db).counts() == counts_before
        seen.append((position, len(generation_rows(db, 2))))

    status = rebuild(db, OrderTabsProjection(db.dialect), batch_size=10,
                     progress=progress)

    assert len(seen) > 3 and seen[0][1] < len(before)
    assert (status.generation, status.rebuild_generation) == (2, None)
    assert status.position == head(service)
    assert order_tabs_rows(db) == before
    assert generations(db) == [2]
    assert OrderTabsQueries(db).counts() == counts_before
    assert live.catch_up() == 0


def test_writes_during_a_rebuild_are_in_the_new_generation_after_the_switch(
    db: Database, service: OrderService, live: ProjectionRunner
) -> None:
    """The live runner keeps the old generation current while the rebuild runs, the switch
    takes the last events along, and the live runner goes on in the new generation."""
    late = order_id_for("laredoute", "LR-TUNIC-LATE")
    accepted = order_id_for("laredoute", "LR-TUNIC-001")

    def progress(position: int, _head: int) -> None:
        if service.find_order("laredoute", "LR-TUNIC-LATE") is None:
            service.import_order(**order_fields("LR-TUNIC-LATE"))
            service.accept(accepted)
            live.catch_up()
            assert position_row(db)["generation"] == 1

    rebuild(db, OrderTabsProjection(db.dialect), batch_size=10, progress=progress)
    state = position_row(db)
    assert (state["generation"], state["position"]) == (2, head(service))
    statuses = {row[2]: row[3] for row in order_tabs_rows(db)}
    assert statuses["LR-TUNIC-LATE"] == "CREATED"
    assert statuses["LR-TUNIC-001"] == "ACCEPTED"

    service.refuse(late, reason="Customer changed their mind")
    assert live.catch_up() == 1
    assert {row[2]: row[3] for row in order_tabs_rows(db)}["LR-TUNIC-LATE"] == "REFUSED"
    assert generations(db) == [2]
    switched = order_tabs_rows(db)
    assert rebuilt_rows(db, batch_size=7) == switched


def test_writes_landing_just_before_the_switch_are_in_the_new_generation(
    db: Database, service: OrderService, live: ProjectionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events that arrive after the rebuild read the log to its end, but before the switch,
    are applied by the switch itself, several batches of them in its one transaction."""
    original = EventLog.after
    arrived: list[int] = []

    def write_late_events() -> None:
        paid = order_id_for("laredoute", "LR-TUNIC-011")
        import_many(service, 8, prefix="LR-LATE", chunk=4)
        for k, (refund_id, line) in enumerate((("R1", "L1"), ("R2", "L2"))):
            service.request_refund(paid, lines=[(line, 1)], refund_shipping=False,
                                   reason="Damaged")
            service.approve_refund(paid, refund_id)
            for n in range(4 * k, 4 * k + 4):
                service.accept(order_id_for("laredoute", f"LR-LATE-{n:05d}"))
            service.complete_refund(paid, refund_id)

    def after(self: EventLog, position: int, limit: int) -> list[Any]:
        events = original(self, position, limit)
        if not events and not arrived:
            arrived.append(head(service))
            write_late_events()
            arrived.append(head(service))
        return events

    monkeypatch.setattr(EventLog, "after", after)
    status = rebuild(db, OrderTabsProjection(db.dialect), batch_size=5)
    monkeypatch.undo()

    assert arrived[1] - arrived[0] == 8 + 2 * (3 + 4)
    assert status.position == arrived[1] == head(service)
    rows = {row[2]: row for row in order_tabs_rows(db)}
    assert rows["LR-TUNIC-011"][3] == "REFUNDED"
    assert rows["LR-TUNIC-011"][10] == 2999 + 1500
    assert {rows[f"LR-LATE-{n:05d}"][3] for n in range(8)} == {"ACCEPTED"}
    assert live.catch_up() == 0
    assert rebuilt_rows(db) == order_tabs_rows(db)


def test_a_rebuild_that_died_half_way_leaves_the_live_model_and_the_next_one_starts_over(
    db: Database, service: OrderService, live: ProjectionRunner
) -> None:
    """A crashed rebuild's partial generation never serves; the next rebuild clears it."""
    before = order_tabs_rows(db)

    def crash(position: int, _head: int) -> None:
        raise SimulatedCrash(f"killed at {position}")

    with pytest.raises(SimulatedCrash):
        rebuild(db, OrderTabsProjection(db.dialect), batch_size=10, progress=crash)
    state = position_row(db)
    assert (state["generation"], state["rebuild_generation"]) == (1, 2)
    assert state["rebuild_position"] == 10
    assert order_tabs_rows(db) == before
    assert live.catch_up() == 0

    status = rebuild(db, OrderTabsProjection(db.dialect), batch_size=10)
    assert (status.generation, status.rebuild_generation) == (2, None)
    assert order_tabs_rows(db) == before
    assert generations(db) == [2]


def test_a_rebuild_clears_a_recorded_failure(
    db: Database, service: OrderService, live: ProjectionRunner
) -> None:
    """The fixed projection, rebuilt, has no failure left and is at the head."""
    import_many(service, 30)
    fail_order_tabs_at(db, head(service) - 5)
    status = rebuild(db, OrderTabsProjection(db.dialect), batch_size=10)
    assert status.healthy and status.error is None and status.lag == 0
    assert live.catch_up() == 0
    assert len(order_tabs_rows(db)) == 17 + 30


# ---------------------------------------------------------------- in place


def test_rebuilding_in_place_refills_the_active_generation_from_zero(
    db: Database, service: OrderService, live: ProjectionRunner
) -> None:
    """A damaged model is deleted and refilled in generation 1, failure cleared."""
    before = order_tabs_rows(db)
    db.execute(
        "UPDATE order_tabs SET status = 'PAID', tab = 'sent' WHERE marketplace_order_id = %s",
        ("LR-TUNIC-001",),
    )
    db.execute("DELETE FROM order_tabs WHERE marketplace_order_id = %s", ("LR-TUNIC-002",))
    import_many(service, 12)
    fail_order_tabs_at(db, head(service) - 3)

    status = rebuild(db, OrderTabsProjection(db.dialect), in_place=True, batch_size=10)

    assert (status.generation, status.position, status.failed_position) == (1, head(service), None)
    assert generations(db) == [1]
    rows = order_tabs_rows(db)
    assert len(rows) == 17 + 12
    assert [row for row in rows if not row[2].startswith("LR-BULK")] == before


# ---------------------------------------------------------------- the command line


def oms(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `oms` on the test's store, as an operator would."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "OMS_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def status_line(output: str, name: str = "order_tabs") -> list[str]:
    lines = [line for line in output.splitlines() if line.startswith(name + " ")]
    assert len(lines) == 1, output
    return lines[0].split()


def test_oms_projections_status_shows_a_failure_and_resume_clears_it(
    db: Database, service: OrderService, settings: Settings
) -> None:
    """status names the failed position and error, and resume clears them so the runner goes on."""
    write_varied_history(service)
    fail_order_tabs_at(db, 23)

    shown = oms(settings, "projections", "status")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].split() == [
        "projection", "generation", "position", "head", "lag", "state"
    ]
    total = head(service)
    assert status_line(shown.stdout)[:5] == ["order_tabs", "1", "22", str(total), str(total - 22)]
    assert "FAILED at 23: KeyError: 'carrier'" in shown.stdout

    resumed = oms(settings, "projections", "resume", "order_tabs")
    assert resumed.returncode == 0, resumed.stderr
    assert "order_tabs: failure cleared" in resumed.stdout
    assert position_row(db)["failed_position"] is None

    runner = ProjectionRunner(db, OrderTabsProjection(db.dialect), batch_size=10)
    assert runner.catch_up() == total - 22
    shown = oms(settings, "projections", "status")
    assert status_line(shown.stdout) == ["order_tabs", "1", str(total), str(total), "0", "ok"]


def test_oms_projections_rebuild_switches_generation_or_refills_in_place(
    db: Database, service: OrderService, settings: Settings, live: ProjectionRunner
) -> None:
    """rebuild fills generation 2 and switches to it, and --in-place refills generation 2 itself."""
    before = order_tabs_rows(db)
    total = head(service)

    rebuilt = oms(settings, "projections", "rebuild", "order_tabs")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"order_tabs: rebuilt, generation 2 at position {total}" in rebuilt.stdout
    assert f"order_tabs: {total}/{total}" in rebuilt.stderr
    assert order_tabs_rows(db) == before and generations(db) == [2]

    db.execute("DELETE FROM order_tabs WHERE marketplace_order_id = %s", ("LR-TUNIC-001",))
    in_place = oms(settings, "projections", "rebuild", "order_tabs", "--in-place")
    assert in_place.returncode == 0, in_place.stderr
    assert f"order_tabs: rebuilt, generation 2 at position {total}" in in_place.stdout
    assert order_tabs_rows(db) == before and generations(db) == [2]


def test_oms_refuses_a_projection_it_does_not_know(settings: Settings) -> None:
    """A typo gets exit code 2 and the list of known projections, and changes nothing."""
    refused = oms(settings, "projections", "rebuild", "order_tab")
    assert refused.returncode == 2
    assert "no projection named 'order_tab'; known: order_tabs" in refused.stderr
