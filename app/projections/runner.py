"""Runs projections: reads the event log in order and applies it to read models, exactly once.

Each batch is one transaction that locks the projection's row in projection_positions, reads
the events after its position, writes the read model rows and moves the position. A crash
rolls the whole batch back; two runners serialise on the row lock and the second sees the
position the first wrote, so nothing is applied twice. On PostgreSQL a session advisory lock
also keeps a single runner per projection active across processes (the others stand by).

A handler that fails stops its projection only: the good events before the failing one are
applied, the failing position and error are recorded (status, /readyz), and the other
projections go on.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError

from app.adapters.db import Database, PostgresDatabase, Transaction
from app.projections.log import EventLog, ProjectedEvent
from app.projections.positions import PositionStore

log = structlog.get_logger(__name__)

# The store being unreachable or busy is not the handler's fault: retry, don't stop.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    PersistenceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)


class Projection(Protocol):
    name: str

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        """Write the read model rows of `generation` for these events, in log order."""

    def clear(self, tx: Transaction, generation: int) -> None:
        """Delete the rows of one generation."""

    # A projection that keeps state in memory between batches may also define
    # `batch_started(position)`, called under the row lock with the committed position before
    # `apply`, and `batch_committed(position)`, called once the batch's transaction committed
    # with the position it reached. Other callers of `apply` (a rebuild) call neither.


class ProjectionFailed(Exception):
    def __init__(self, name: str, position: int, error: str) -> None:
        super().__init__(f"projection {name} failed at position {position}: {error}")
        self.name = name
        self.position = position
        self.error = error


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    generation: int
    position: int
    head: int
    failed_position: int | None
    error: str | None
    rebuild_generation: int | None
    rebuild_position: int | None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    @property
    def healthy(self) -> bool:
        return self.failed_position is None


def read_status(positions: PositionStore, events: EventLog, name: str) -> ProjectionStatus:
    generation, position, failed, error, rebuild_generation, rebuild_position = positions.read(name)
    return ProjectionStatus(
        name=name,
        generation=int(generation),
        position=int(position),
        head=events.head(),
        failed_position=failed,
        error=error,
        rebuild_generation=rebuild_generation,
        rebuild_position=rebuild_position,
    )


class ProjectionRunner:
    """Keeps one projection up to date with the event log."""

    def __init__(
        self,
        db: Database,
        projection: Projection,
        *,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.log = EventLog(db)
        self.projection = projection
        self.name = projection.name
        self.positions = PositionStore(db)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Optional hooks of a projection that keeps state between batches (see Projection).
        self._started = getattr(projection, "batch_started", None)
        self._committed = getattr(projection, "batch_committed", None)
        self.positions.ensure(self.name)

    # ---------------------------------------------------------------- processing

    def process_batch(self, limit: int | None = None) -> int:
        """Apply the next batch; returns how many events were applied (0 when caught up).

        The events are read before the write transaction opens (so that no store lock is
        held while reading the log), then the position is checked again under the row lock:
        if another runner moved it meanwhile, the batch is read again.
        """
        limit = limit or self.batch_size
        try:
            while True:
                _, position, failed = self.positions.read(self.name)[:3]
                if failed is not None:
                    raise ProjectionFailed(self.name, int(failed), "stopped after a failure")
                events = self.log.after(int(position), limit)
                if not events:
                    return 0
                with self.db.transaction() as tx:
                    generation, current, failed = self.positions.lock(tx, self.name)
                    if current != int(position) or failed is not None:
                        continue
                    if self._started is not None:
                        self._started(int(current))
                    self.projection.apply(tx, generation, events)
                    self.positions.advance(tx, self.name, events[-1].position)
                if self._committed is not None:
                    self._committed(events[-1].position)
                return len(events)
        except (ProjectionFailed, *TRANSIENT_ERRORS):
            raise
        except Exception:  # noqa: BLE001 - a handler error: find the event, stop this projection
            if limit == 1:
                raise
            return self._apply_one_by_one(limit)

    def _apply_one_by_one(self, limit: int) -> int:
        applied = 0
        for _ in range(limit):
            try:
                count = self.process_batch(1)
            except (ProjectionFailed, *TRANSIENT_ERRORS):
                raise
            except Exception as exc:  # noqa: BLE001
                self._record_failure(exc)
            if count == 0:
                break
            applied += count
        return applied

    def _record_failure(self, exc: Exception) -> None:
        _, position, _ = self.positions.read(self.name)[:3]
        failed_position = self.log.next_position(int(position))
        error = f"{type(exc).__name__}: {exc}"[:2000]
        self.positions.record_failure(self.name, failed_position, error)
        log.error("projection_failed", projection=self.name, position=failed_position, error=error)
        raise ProjectionFailed(self.name, failed_position, error)

    def catch_up(self) -> int:
        """Apply everything there is now; returns the number of events applied."""
        total = 0
        while True:
            count = self.process_batch()
            total += count
            if count < self.batch_size:
                return total

    # ---------------------------------------------------------------- status and control

    def status(self) -> ProjectionStatus:
        return read_status(self.positions, self.log, self.name)

    def resume(self) -> None:
        """Clear a recorded failure so that the runner tries the failing event again."""
        self.positions.clear_failure(self.name)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the projection has applied `position`; False when the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            if int(self.positions.read(self.name)[1]) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.wake()
            time.sleep(min(0.01, remaining))

    # ---------------------------------------------------------------- background thread

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"projection-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        leader = _Leadership(self.db, self.name)
        try:
            while not self._stop.is_set():
                if not leader.acquire():
                    self._stop.wait(self.poll_interval)
                    continue
                try:
                    count = self.process_batch()
                except ProjectionFailed:
                    # Stopped: wait for an operator (resume or rebuild), checking now and then.
                    self._wake.wait(self.poll_interval)
                    self._wake.clear()
                    continue
                except Exception as exc:  # noqa: BLE001 - the store is down: retry later
                    log.warning("projection_batch_failed", projection=self.name, error=type(exc).__name__)
                    self._stop.wait(self.poll_interval)
                    continue
                if count < self.batch_size:
                    self._wake.wait(self.poll_interval)
                    self._wake.clear()
        finally:
            leader.release()


class _Leadership:
    """On PostgreSQL, a session advisory lock per projection: one active runner at a time."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.key = zlib.crc32(f"projection:{name}".encode())
        self.conn: Any = None

    def acquire(self) -> bool:
        if not isinstance(self.db, PostgresDatabase):
            return True
        if self.conn is not None:
            return True
        conn = psycopg.connect(self.db.pool.conninfo, autocommit=True)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        if got:
            self.conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
