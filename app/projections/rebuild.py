"""Rebuilding a read model from the first event.

By default the next generation is filled beside the active one, which keeps serving: first
in one set-based statement when the projection can (`bulk_fill`) and the log is long, then in
batches, each one transaction with the rebuild's position. The switch happens in one
transaction holding the projection's row lock, after applying the last events, so readers
go from the complete old model to the complete new one; the old generation is deleted after.
A crash leaves the active generation serving; the next rebuild starts the new one over.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from app.adapters.db import Database
from app.projections.log import EventLog
from app.projections.positions import PositionStore
from app.projections.runner import Projection, ProjectionRunner, ProjectionStatus, read_status

log = structlog.get_logger(__name__)

# From this many events on, a rebuild lets the database fill the model in one statement.
BULK_REBUILD_FROM = 20_000

Progress = Callable[[int, int], None]


def rebuild(
    db: Database,
    projection: Projection,
    *,
    in_place: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
    bulk: bool | None = None,
) -> ProjectionStatus:
    """Rebuild a read model from the first event.

    A projection that can fill a generation in one set-based statement (`bulk_fill`) does so
    for long logs (or when `bulk` is true); the events after that are applied in batches.
    `progress(position, head)` is called after each batch.

    With `in_place`, the active rows are deleted and the position reset in one transaction;
    the runner then refills them (readers see a partial model meanwhile).
    """
    positions = PositionStore(db)
    positions.ensure(projection.name)
    if in_place:
        _clear_active(db, positions, projection)
        ProjectionRunner(db, projection, batch_size=batch_size).catch_up()
    else:
        _NextGeneration(db, positions, projection, batch_size).fill(progress, bulk)
    return read_status(positions, EventLog(db), projection.name)


def _clear_active(
    db: Database, positions: PositionStore, projection: Projection
) -> None:
    """Delete the active generation's rows and go back to the first event, in one transaction."""
    with db.transaction() as tx:
        generation, _, _ = positions.lock(tx, projection.name)
        projection.clear(tx, generation)
        positions.restart(tx, projection.name)


class _NextGeneration:
    """One rebuild into the generation after the active one."""

    def __init__(
        self,
        db: Database,
        positions: PositionStore,
        projection: Projection,
        batch_size: int,
    ) -> None:
        self.db = db
        self.positions = positions
        self.projection = projection
        self.name = projection.name
        self.events = EventLog(db)
        self.batch_size = batch_size
        # The generation being filled, and the last event applied to it.
        self.target = 0
        self.position = 0

    def fill(self, progress: Progress | None, bulk: bool | None) -> None:
        self.target = self._begin()
        head = self.events.head()
        log.info("projection_rebuild_started", projection=self.name, generation=self.target,
                 head=head)
        if bulk is None:
            bulk = head >= BULK_REBUILD_FROM
        if bulk:
            self._bulk_fill(head)
        self._catch_up(head, progress)
        old_generation = self._switch()
        with self.db.transaction() as tx:
            self.projection.clear(tx, old_generation)
        log.info("projection_rebuilt", projection=self.name, generation=self.target,
                 position=self.position)

    def _begin(self) -> int:
        """Empty the next generation (left over by an interrupted rebuild) and mark it rebuilding."""
        with self.db.transaction() as tx:
            generation, _, _ = self.positions.lock(tx, self.name)
            target = generation + 1
            self.projection.clear(tx, target)
            self.positions.start_rebuild(tx, self.name, target)
        return target

    def _bulk_fill(self, head: int) -> None:
        """Up to `head` in one set-based statement, when the projection can on this database."""
        bulk_fill = getattr(self.projection, "bulk_fill", None)
        if bulk_fill is None:
            return
        with self.db.transaction() as tx:
            if bulk_fill(tx, self.target, head):
                self.position = head
                self.positions.rebuilt_up_to(tx, self.name, head)

    def _catch_up(self, head: int, progress: Progress | None) -> None:
        """The rest of the log in batches, beside the live model, without holding its lock."""
        for batch in self.events.batches(self.position, self.batch_size):
            with self.db.transaction() as tx:
                self.projection.apply(tx, self.target, batch)
                self.position = batch[-1].position
                self.positions.rebuilt_up_to(tx, self.name, self.position)
            if progress is not None:
                progress(self.position, head)

    def _switch(self) -> int:
        """Apply the events written meanwhile and make the new generation the active one.

        Under the row lock no live batch runs, so nothing is missed between the two. Returns
        the generation that was active.
        """
        with self.db.transaction() as tx:
            old_generation, _, _ = self.positions.lock(tx, self.name)
            while batch := self.events.after(self.position, self.batch_size):
                self.projection.apply(tx, self.target, batch)
                self.position = batch[-1].position
            self.positions.switch(tx, self.name, self.target, self.position)
        return old_generation
