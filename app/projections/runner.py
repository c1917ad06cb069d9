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

import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import orjson
import psycopg
import structlog
from eventsourcing.persistence import PersistenceError

from app.adapters.db import PostgresDatabase, SQLiteDatabase, Transaction
from app.adapters.recorders import EVENTS_TABLE
from app.application import OrderService

log = structlog.get_logger(__name__)

# The store being unreachable or busy is not the handler's fault: retry, don't stop.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    PersistenceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)


class ProjectedEvent:
    """One event of the log as a projection sees it.

    `field(name)` decodes one top-level value on demand; `data` decodes the whole event.
    Handlers that need a few fields of a frequent event stay cheap.
    """

    __slots__ = ("position", "originator_id", "version", "type", "aggregate", "_raw", "_state",
                 "_transcoder", "_data")

    def __init__(
        self,
        position: int,
        originator_id: UUID,
        version: int,
        type: str,  # noqa: A002 - the event's type name
        state: bytes,
        transcoder: Any,
        aggregate: str = "Order",
    ) -> None:
        self.position = position
        self.originator_id = originator_id
        self.version = version
        self.type = type
        # The aggregate class the event belongs to ("Order", "Offer").
        self.aggregate = aggregate
        self._state = state
        self._raw: dict[str, Any] = orjson.loads(state)
        self._transcoder = transcoder
        self._data: dict[str, Any] | None = None

    @property
    def raw(self) -> dict[str, Any]:
        """The event as stored: JSON, with the store's {"_type_", "_data_"} wrappers."""
        return self._raw

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._transcoder.decode(self._state)
        return self._data

    def field(self, name: str) -> Any:
        """One top-level value; nested values of lists and objects stay as stored (`unwrap`)."""
        value = self._raw.get(name)
        if isinstance(value, dict) and "_type_" in value:
            try:
                return unwrap(value)
            except KeyError:
                return self.data[name]
        return value

    @property
    def timestamp(self) -> datetime:
        return self.field("timestamp")


def _aggregate_of(topic: str) -> str:
    """'app.domain.order:Order.Imported' -> 'Order'."""
    return topic.rpartition(":")[2].partition(".")[0]


def unwrap(value: Any) -> Any:
    """A stored scalar (Decimal, datetime) from the event store's JSON form."""
    if isinstance(value, dict) and "_type_" in value:
        kind = value["_type_"]
        if kind == "datetime_iso":
            return datetime.fromisoformat(value["_data_"])
        if kind == "decimal_str":
            return Decimal(value["_data_"])
        raise KeyError(kind)
    return value


class Projection(Protocol):
    name: str

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        """Write the read model rows of `generation` for these events, in log order."""

    def clear(self, tx: Transaction, generation: int) -> None:
        """Delete the rows of one generation."""


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


class EventLog:
    """The store's notification log, decoded for projections.

    With the service's database it reads the events table in one plain statement per batch
    (tuples, no intermediate objects), which matters when a read model is rebuilt from
    millions of events; without it, through the event store library.
    """

    def __init__(
        self, service: OrderService, db: SQLiteDatabase | PostgresDatabase | None = None
    ) -> None:
        self.recorder = service.recorder
        self.transcoder = service.mapper.transcoder
        self.db = db
        if db is not None:
            key = "notification_id" if db.dialect == "postgres" else "rowid"
            self._select = (
                f"SELECT {key}, originator_id, originator_version, topic, state"
                f" FROM {EVENTS_TABLE} WHERE {key} > %s ORDER BY {key} LIMIT %s"
            )

    def after(self, position: int, limit: int) -> list[ProjectedEvent]:
        transcoder = self.transcoder
        if self.db is not None:
            return [
                ProjectedEvent(
                    row[0],
                    row[1] if isinstance(row[1], UUID) else UUID(row[1]),
                    row[2],
                    row[3].rsplit(".", 1)[-1],
                    bytes(row[4]),
                    transcoder,
                    _aggregate_of(row[3]),
                )
                for row in self.db.execute(self._select, (position, limit))
            ]
        notifications = self.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
        return [
            ProjectedEvent(
                n.id,
                n.originator_id if isinstance(n.originator_id, UUID) else UUID(str(n.originator_id)),
                n.originator_version,
                n.topic.rsplit(".", 1)[-1],
                n.state,
                transcoder,
                _aggregate_of(n.topic),
            )
            for n in notifications
        ]

    def batches(self, position: int, limit: int) -> Iterator[list[ProjectedEvent]]:
        """Successive batches after `position`, the next one read while the last is applied."""
        ahead: queue.Queue[list[ProjectedEvent] | BaseException | None] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def read() -> None:
            cursor = position
            try:
                while not stop.is_set():
                    batch = self.after(cursor, limit)
                    if not batch:
                        break
                    ahead.put(batch)
                    cursor = batch[-1].position
            except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
                ahead.put(exc)
                return
            ahead.put(None)

        reader = threading.Thread(target=read, name="event-log-reader", daemon=True)
        reader.start()
        try:
            while (item := ahead.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():
                try:
                    ahead.get_nowait()
                except queue.Empty:
                    reader.join(0.05)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def next_position(self, position: int) -> int:
        """The position of the event after `position`, without decoding it."""
        following = self.recorder.select_notifications(
            start=position, limit=1, inclusive_of_start=False
        )
        return following[0].id if following else position + 1


class PositionStore:
    """The projection_positions table."""

    def __init__(self, db: SQLiteDatabase | PostgresDatabase) -> None:
        self.db = db
        self._for_update = " FOR UPDATE" if db.dialect == "postgres" else ""

    def ensure(self, name: str) -> None:
        self.db.execute(
            "INSERT INTO projection_positions (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
            (name,),
        )

    def lock(self, tx: Transaction, name: str) -> tuple[int, int, int | None]:
        """(generation, position, failed_position), the row locked until the transaction ends."""
        rows = tx.execute(
            "SELECT generation, position, failed_position FROM projection_positions"
            " WHERE name = %s" + self._for_update,
            (name,),
        )
        if not rows:
            raise LookupError(f"no projection named {name!r}")
        generation, position, failed = rows[0]
        return int(generation), int(position), failed

    def read(self, name: str) -> tuple[Any, ...]:
        rows = self.db.execute(
            "SELECT generation, position, failed_position, error, rebuild_generation,"
            " rebuild_position FROM projection_positions WHERE name = %s",
            (name,),
        )
        if not rows:
            raise LookupError(f"no projection named {name!r}")
        return rows[0]

    def now(self) -> str:
        return "now()" if self.db.dialect == "postgres" else "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


class ProjectionRunner:
    """Keeps one projection up to date with the event log."""

    def __init__(
        self,
        db: SQLiteDatabase | PostgresDatabase,
        service: OrderService,
        projection: Projection,
        *,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.log = EventLog(service, db)
        self.projection = projection
        self.name = projection.name
        self.positions = PositionStore(db)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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
                    self.projection.apply(tx, generation, events)
                    self._advance(tx, events[-1].position)
                    return len(events)
        except (ProjectionFailed, *TRANSIENT_ERRORS):
            raise
        except Exception:  # noqa: BLE001 - a handler error: find the event, stop this projection
            if limit == 1:
                raise
            return self._apply_one_by_one(limit)

    def _advance(self, tx: Transaction, position: int) -> None:
        tx.execute(
            f"UPDATE projection_positions SET position = %s, updated_at = {self.positions.now()}"
            " WHERE name = %s",
            (position, self.name),
        )

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
        self.db.execute(
            "UPDATE projection_positions SET failed_position = %s, error = %s,"
            f" updated_at = {self.positions.now()} WHERE name = %s",
            (failed_position, error, self.name),
        )
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
        self.db.execute(
            "UPDATE projection_positions SET failed_position = NULL, error = NULL WHERE name = %s",
            (self.name,),
        )
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

    def __init__(self, db: SQLiteDatabase | PostgresDatabase, name: str) -> None:
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


class LogListener:
    """Wakes runners as soon as events are written: PostgreSQL LISTEN, or in-process saves."""

    def __init__(self, db: SQLiteDatabase | PostgresDatabase, channel: str, wake: Callable[[], None]) -> None:
        self.db = db
        self.channel = channel
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not isinstance(self.db, PostgresDatabase):
            return
        self._thread = threading.Thread(target=self._listen, name="log-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _listen(self) -> None:
        assert isinstance(self.db, PostgresDatabase)
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db.pool.conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.1, stop_after=1):
                            self.wake()
            except Exception as exc:  # noqa: BLE001 - reconnect; runners also poll on a timer
                log.warning("log_listener_reconnecting", error=type(exc).__name__)
                self._stop.wait(1)


# From this many events on, a rebuild lets the database fill the model in one statement.
BULK_REBUILD_FROM = 20_000


def rebuild(
    db: SQLiteDatabase | PostgresDatabase,
    service: OrderService,
    projection: Projection,
    *,
    in_place: bool = False,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    bulk: bool | None = None,
) -> ProjectionStatus:
    """Rebuild a read model from the first event.

    A projection that can fill a generation in one set-based statement (`bulk_fill`) does so
    for long logs (or when `bulk` is true); the events after that are applied in batches.

    By default the next generation is filled beside the active one, which keeps serving;
    the switch happens in one transaction holding the projection's row lock, after applying
    the last events, so readers go from the complete old model to the complete new one.
    With `in_place`, the active rows are deleted and the position reset in one transaction;
    the runner then refills them (readers see a partial model meanwhile).
    """
    positions = PositionStore(db)
    positions.ensure(projection.name)
    events = EventLog(service, db)
    name = projection.name
    if in_place:
        with db.transaction() as tx:
            generation, _, _ = positions.lock(tx, name)
            projection.clear(tx, generation)
            tx.execute(
                "UPDATE projection_positions SET position = 0, failed_position = NULL,"
                " error = NULL WHERE name = %s",
                (name,),
            )
        runner = ProjectionRunner(db, service, projection, batch_size=batch_size)
        runner.catch_up()
        return read_status(positions, events, name)

    with db.transaction() as tx:
        generation, _, _ = positions.lock(tx, name)
        target = generation + 1
        projection.clear(tx, target)
        tx.execute(
            "UPDATE projection_positions SET rebuild_generation = %s, rebuild_position = 0"
            " WHERE name = %s",
            (target, name),
        )
    position = 0
    head = events.head()
    log.info("projection_rebuild_started", projection=name, generation=target, head=head)
    bulk_fill = getattr(projection, "bulk_fill", None)
    if bulk is None:
        bulk = head >= BULK_REBUILD_FROM
    if bulk and bulk_fill is not None:
        with db.transaction() as tx:
            if bulk_fill(tx, target, head):
                position = head
                tx.execute(
                    "UPDATE projection_positions SET rebuild_position = %s WHERE name = %s",
                    (position, name),
                )
    # Catch up beside the live model, without holding its lock.
    for batch in events.batches(position, batch_size):
        with db.transaction() as tx:
            projection.apply(tx, target, batch)
            position = batch[-1].position
            tx.execute(
                "UPDATE projection_positions SET rebuild_position = %s WHERE name = %s",
                (position, name),
            )
        if progress is not None:
            progress(position, head)
    # Switch: under the row lock no live batch runs, so nothing is missed between the two.
    with db.transaction() as tx:
        old_generation, _, _ = positions.lock(tx, name)
        while batch := events.after(position, batch_size):
            projection.apply(tx, target, batch)
            position = batch[-1].position
        tx.execute(
            "UPDATE projection_positions SET generation = %s, position = %s,"
            " failed_position = NULL, error = NULL, rebuild_generation = NULL,"
            f" rebuild_position = NULL, updated_at = {positions.now()} WHERE name = %s",
            (target, position, name),
        )
    with db.transaction() as tx:
        projection.clear(tx, old_generation)
    log.info("projection_rebuilt", projection=name, generation=target, position=position)
    return read_status(positions, events, name)
