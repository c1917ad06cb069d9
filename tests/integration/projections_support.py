"""Helpers for the projection and order list suites: a varied order history, read model dumps,
projection wrappers that crash, stall, fail or count, and the worker that a test kills.

Run as a script (`python -m tests.integration.projections_support DATABASE_URL STALL_BATCH`), it
catches the order tabs up with a projection that stalls inside its STALL_BATCH-th batch after
writing half of it, printing "stalled" so that the test can SIGKILL it there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from app.adapters.db import PostgresDatabase, SQLiteDatabase, Transaction, open_database
from app.application.orders import OrderService
from app.projections.order_tabs import OrderTabsProjection
from app.projections.log import ProjectedEvent
from app.projections.rebuild import rebuild
from app.projections.runner import ProjectionRunner
from tests.support import at, order_fields

Database = SQLiteDatabase | PostgresDatabase

ORDER_TABS_COLUMNS = (
    "order_id, channel, marketplace_order_id, status, tab, customer_name, search,"
    " goods_total_cents, shipping_price_cents, order_total_cents, refunded_cents, line_count,"
    " created_at, acceptance_deadline, shipped_at, carrier, tracking_number, tracking_url,"
    " last_event_at, version, position"
)


def order_tabs_rows(db: Database) -> list[tuple[Any, ...]]:
    """Every row of the active order tabs generation, all columns but the generation."""
    return db.execute(
        f"SELECT {ORDER_TABS_COLUMNS} FROM order_tabs WHERE generation ="
        " (SELECT generation FROM projection_positions WHERE name = 'order_tabs')"
        " ORDER BY order_id"
    )


def generation_rows(db: Database, generation: int) -> list[tuple[Any, ...]]:
    return db.execute(
        f"SELECT {ORDER_TABS_COLUMNS} FROM order_tabs WHERE generation = %s ORDER BY order_id",
        (generation,),
    )


def generations(db: Database) -> list[int]:
    return [int(g) for (g,) in db.execute("SELECT DISTINCT generation FROM order_tabs ORDER BY 1")]


def position_row(db: Database, name: str = "order_tabs") -> dict[str, Any]:
    (row,) = db.execute(
        "SELECT generation, position, failed_position, error, rebuild_generation,"
        " rebuild_position FROM projection_positions WHERE name = %s",
        (name,),
    )
    keys = ("generation", "position", "failed_position", "error", "rebuild_generation",
            "rebuild_position")
    return dict(zip(keys, row, strict=True))


def head(service: OrderService) -> int:
    return service.store.recorder.max_notification_id() or 0


def rebuilt_rows(db: Database, *, batch_size: int = 5000) -> list[tuple[Any, ...]]:
    """Rebuild the order tabs from zero in the next generation and dump it."""
    rebuild(db, OrderTabsProjection(db.dialect), batch_size=batch_size)
    return order_tabs_rows(db)


# ---------------------------------------------------------------- a varied history


@dataclass
class History:
    """Orders brought to every status of the seller guide, with the status each one ends in."""

    expected: dict[UUID, str] = field(default_factory=dict)

    def add(self, order_id: UUID, status: str) -> None:
        self.expected[order_id] = status


OLD = at(days=-6, hours=-2)  # its 72 hours are over on the test clock


def _fields(marketplace_order_id: str, index: int, **overrides: Any) -> dict[str, Any]:
    created = at(minutes=-30 - 7 * index)
    when = overrides.pop("created_at", created)
    return order_fields(marketplace_order_id, created_at=when.isoformat(), **overrides)


def write_varied_history(
    service: OrderService,
    rounds: int = 1,
    *,
    after_each_write: Callable[[], None] | None = None,
) -> History:
    """Write `rounds` sets of orders covering every status, partial cancellations and refunds.

    `after_each_write` runs after every command (an incremental projection keeps up with it).
    """
    history = History()
    tick = after_each_write or (lambda: None)

    def imported(mid: str, index: int, **overrides: Any) -> UUID:
        order = service.import_order(**_fields(mid, index, **overrides)).order
        tick()
        return order.id

    def run(command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        command(*args, **kwargs)
        tick()

    def to_ship(mid: str, index: int, **overrides: Any) -> UUID:
        order_id = imported(mid, index, **overrides)
        run(service.accept, order_id)
        run(service.validate_payment, order_id)
        return order_id

    def shipped(mid: str, index: int) -> UUID:
        order_id = to_ship(mid, index)
        run(service.ship, order_id, tracking_number=f"6A{index:011d}", carrier="Colissimo")
        return order_id

    def paid(mid: str, index: int) -> UUID:
        order_id = shipped(mid, index)
        run(service.mark_paid, order_id)
        return order_id

    for r in range(rounds):
        n = r * 20
        history.add(imported(f"LR-TUNIC-{n + 1:03d}", n + 1), "CREATED")
        history.add(
            imported(f"LBB-ROBE-{n + 2:03d}", n + 2, channel="labrandboutique",
                     customer={"firstname": "Zoé", "lastname": "Martin",
                               "email": "zoe.martin@example.fr"}),
            "CREATED",
        )
        order_id = imported(f"LR-TUNIC-{n + 3:03d}", n + 3)
        run(service.accept, order_id)
        history.add(order_id, "ACCEPTED")
        order_id = imported(f"LR-TUNIC-{n + 4:03d}", n + 4)
        run(service.refuse, order_id, reason="Out of linen")
        history.add(order_id, "REFUSED")
        order_id = imported(f"LR-TUNIC-{n + 5:03d}", n + 5)
        run(service.accept, order_id)
        run(service.refuse_payment, order_id)
        history.add(order_id, "CANCELED")
        order_id = imported(f"LR-TUNIC-{n + 6:03d}", n + 6, created_at=OLD - timedelta(minutes=n))
        run(service.expire, order_id)
        history.add(order_id, "CANCELED")
        history.add(to_ship(f"LR-TUNIC-{n + 7:03d}", n + 7), "TOSHIP")
        order_id = to_ship(f"LR-TUNIC-{n + 8:03d}", n + 8)
        run(service.cancel, order_id, reason="Scarf out of stock", lines=[("L2", 1)])
        history.add(order_id, "TOSHIP")
        order_id = to_ship(f"LR-TUNIC-{n + 9:03d}", n + 9)
        run(service.cancel, order_id, reason="Warehouse flooded")
        history.add(order_id, "OUT_OF_STOCK")
        history.add(shipped(f"LR-TUNIC-{n + 10:03d}", n + 10), "SHIPPED")
        history.add(paid(f"LR-TUNIC-{n + 11:03d}", n + 11), "PAID")
        order_id = paid(f"LR-TUNIC-{n + 12:03d}", n + 12)
        run(service.request_refund, order_id, lines=[("L1", 1)], refund_shipping=False,
            reason="Damaged")
        history.add(order_id, "TO_REFUND")
        order_id = paid(f"LR-TUNIC-{n + 13:03d}", n + 13)
        run(service.request_refund, order_id, lines=None, refund_shipping=True, reason="Returned")
        run(service.submit_refund, order_id, "R1")
        history.add(order_id, "TO_APPROVE")
        order_id = paid(f"LR-TUNIC-{n + 14:03d}", n + 14)
        run(service.request_refund, order_id, lines=[("L2", 1)], refund_shipping=False,
            reason="Wrong colour")
        run(service.approve_refund, order_id, "R1")
        history.add(order_id, "REFUNDING")
        # Two completed refunds on one order: the refunded amounts add up.
        order_id = paid(f"LR-TUNIC-{n + 15:03d}", n + 15)
        for refund_id, line in (("R1", "L1"), ("R2", "L2")):
            run(service.request_refund, order_id, lines=[(line, 1)], refund_shipping=False,
                reason="Damaged")
            run(service.approve_refund, order_id, refund_id)
            run(service.complete_refund, order_id, refund_id)
        history.add(order_id, "REFUNDED")
        order_id = paid(f"LR-TUNIC-{n + 16:03d}", n + 16)
        run(service.request_refund, order_id, lines=None, refund_shipping=False, reason="Fraud?")
        run(service.refuse_refund, order_id, "R1", reason="FRAUD")
        history.add(order_id, "REFUND_REFUSED")
        # A refund requested while shipped, then paid: the order stays in the refund's status.
        order_id = shipped(f"LR-TUNIC-{n + 17:03d}", n + 17)
        run(service.request_refund, order_id, lines=[("L1", 2)], refund_shipping=False,
            reason="Too small")
        run(service.mark_paid, order_id)
        history.add(order_id, "TO_REFUND")
    return history


def import_many(
    service: OrderService, count: int, *, prefix: str = "LR-BULK", chunk: int = 500
) -> None:
    """Import `count` simple orders, `chunk` per write (one event each)."""
    base = at(hours=-33)
    for start in range(0, count, chunk):
        service.import_orders(
            [
                order_fields(f"{prefix}-{i:05d}",
                             created_at=(base + timedelta(seconds=i)).isoformat())
                for i in range(start, min(count, start + chunk))
            ]
        )


# ---------------------------------------------------------------- projection wrappers


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so no handler treats it as the projection's fault."""


class CrashingOrderTabs(OrderTabsProjection):
    """Writes the first half of its `crash_on`-th batch, then crashes."""

    def __init__(self, dialect: str, crash_on: int) -> None:
        super().__init__(dialect)
        self.crash_on = crash_on
        self.batches = 0

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        self.batches += 1
        if self.batches == self.crash_on:
            super().apply(tx, generation, events[: len(events) // 2])
            raise SimulatedCrash(f"killed in batch {self.batches}")
        super().apply(tx, generation, events)


class StallingOrderTabs(OrderTabsProjection):
    """Slow: writes half of its `stall_on`-th batch, says so on stdout, then waits to be killed."""

    def __init__(self, dialect: str, stall_on: int) -> None:
        super().__init__(dialect)
        self.stall_on = stall_on
        self.batches = 0

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        self.batches += 1
        if self.batches == self.stall_on:
            super().apply(tx, generation, events[: len(events) // 2])
            print("stalled", flush=True)
            time.sleep(60)
        super().apply(tx, generation, events)


APPLIED_TABLE = "test_applied_events"


def create_applied_table(db: Database) -> None:
    """One row per applied event position: a second application breaks the primary key."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} ("
        " projection text NOT NULL, position bigint NOT NULL, runner text NOT NULL,"
        " PRIMARY KEY (projection, position))"
    )


class RecordingProjection:
    """Records each event it applies, with a plain INSERT; can fail on one position."""

    def __init__(self, name: str, runner: str = "main", fail_at: int | None = None) -> None:
        self.name = name
        self.runner = runner
        self.fail_at = fail_at
        self.seen: list[int] = []

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        rows = []
        for event in events:
            if event.position == self.fail_at:
                raise ValueError(f"cannot read the event of {event.type} at {event.position}")
            rows.append((self.name, event.position, self.runner))
        tx.executemany(
            f"INSERT INTO {APPLIED_TABLE} (projection, position, runner) VALUES (%s, %s, %s)", rows
        )
        self.seen += [event.position for event in events]

    def clear(self, tx: Transaction, generation: int) -> None:
        tx.execute(f"DELETE FROM {APPLIED_TABLE} WHERE projection = %s", (self.name,))


def applied_positions(db: Database, name: str) -> list[tuple[int, str]]:
    return [
        (int(position), runner)
        for position, runner in db.execute(
            f"SELECT position, runner FROM {APPLIED_TABLE} WHERE projection = %s ORDER BY position",
            (name,),
        )
    ]


# ---------------------------------------------------------------- the worker a test kills


def _stalling_worker(database_url: str, stall_on: int, batch_size: int) -> None:
    from app.bootstrap import open_service
    from app.config import Settings
    from app.logs import configure_logging

    configure_logging("WARNING", "console")
    settings = Settings(DATABASE_URL=database_url, environment="test")
    db = open_database(settings)
    service = open_service(settings)
    runner = ProjectionRunner(db, StallingOrderTabs(db.dialect, stall_on),
                              batch_size=batch_size)
    runner.catch_up()
    print("caught up", flush=True)


if __name__ == "__main__":
    _stalling_worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
