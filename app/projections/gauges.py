"""What the metrics' gauges show, read from the store at each scrape: each projection's
position against the head of the log, the outbox's actions by state, each channel's last
import round, and the orders near their acceptance deadline. A handful of small aggregate
queries, so that every process (API or worker) shows the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.adapters.db import Database
from app.domain.order import OrderStatus
from app.metrics import ProjectionReading, StoreReading
from app.projections.log import EventLog
from app.projections.order_tabs import NAME as ORDER_TABS
from app.projections.order_tabs import Codec

# The states an action waits in; the age of the oldest one says whether delivery keeps up.
_OPEN_STATES = ("pending", "sent")


class StoreGaugeReader:
    """Reads a `StoreReading`; `clock` gives epoch seconds (the outbox's and the sync's times
    are epoch seconds of the service's clock)."""

    def __init__(self, db: Database, *, deadline_warning_hours: float,
                 clock: Callable[[], float]) -> None:
        self.db = db
        self.log = EventLog(db)
        self.codec = Codec(db.dialect)
        self.warning = timedelta(hours=deadline_warning_hours)
        self.clock = clock

    def __call__(self) -> StoreReading:
        now = self.clock()
        head = self.log.head()
        projections = [
            ProjectionReading(str(name), int(position), head, failed is not None)
            for name, position, failed in self.db.execute(
                "SELECT name, position, failed_position FROM projection_positions ORDER BY name"
            )
        ]
        actions: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for state, count, first in self.db.execute(
            "SELECT state, COUNT(*), MIN(created_at) FROM marketplace_actions GROUP BY state"
        ):
            actions[str(state)] = int(count)
            if state in _OPEN_STATES and first is not None:
                oldest[str(state)] = max(0.0, now - float(first))
        last_round: dict[str, float] = {}
        last_failed: dict[str, bool] = {}
        for channel, at, error in self.db.execute(
            "SELECT channel, last_run_at, last_error FROM sync_cursors"
            " WHERE last_run_at IS NOT NULL"
        ):
            last_round[str(channel)] = float(at)
            last_failed[str(channel)] = error is not None
        until = datetime.fromtimestamp(now, UTC) + self.warning
        near = dict.fromkeys(last_round, 0)
        near.update(
            (str(channel), int(count))
            for channel, count in self.db.execute(
                "SELECT channel, COUNT(*) FROM order_tabs WHERE generation ="
                " (SELECT generation FROM projection_positions WHERE name = %s)"
                " AND status = %s AND acceptance_deadline <= %s GROUP BY channel",
                (ORDER_TABS, OrderStatus.CREATED.value, self.codec.time(until)),
            )
        )
        return StoreReading(projections=projections, actions=actions, oldest_action_age=oldest,
                            last_import_round=last_round, last_import_failed=last_failed,
                            orders_near_deadline=near)


__all__ = ["StoreGaugeReader"]
