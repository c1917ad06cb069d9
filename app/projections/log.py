"""The event log as projections read it: the events table in log order, decoded on demand.

The log is read through the database adapter, one plain statement per batch (tuples, no
intermediate objects), which matters when a read model is rebuilt from millions of events.
Events are stored as JSON where the event store wraps the values JSON has no type for as
{"_type_": name, "_data_": text}; `unwrap` turns them back into Python values.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from app.adapters.db import Database
from app.adapters.recorders import EVENTS_TABLE


def unwrap(value: Any) -> Any:
    """A stored scalar (Decimal, datetime, UUID) from the event store's JSON form."""
    if isinstance(value, dict) and "_type_" in value:
        kind = value["_type_"]
        if kind == "datetime_iso":
            return datetime.fromisoformat(value["_data_"])
        if kind == "decimal_str":
            return Decimal(value["_data_"])
        if kind == "uuid_hex":
            return UUID(value["_data_"])
        raise KeyError(kind)
    return value


def _decode_object(obj: dict[str, Any]) -> Any:
    """The JSON decoder's hook for each object: a wrapped scalar decoded, others as they are."""
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        try:
            return unwrap(obj)
        except KeyError:
            raise ValueError(f"stored value of unknown type {obj['_type_']!r}") from None
    return obj


class ProjectedEvent:
    """One event of the log as a projection sees it.

    `field(name)` decodes one top-level value on demand; `data` decodes the whole event.
    Handlers that need a few fields of a frequent event stay cheap.
    """

    __slots__ = ("position", "originator_id", "version", "type", "aggregate", "_state", "_raw",
                 "_data")

    def __init__(
        self,
        position: int,
        originator_id: UUID,
        version: int,
        type: str,  # noqa: A002 - the event's type name
        state: bytes,
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
        self._data: dict[str, Any] | None = None

    @property
    def raw(self) -> dict[str, Any]:
        """The event as stored: JSON, with the store's {"_type_", "_data_"} wrappers."""
        return self._raw

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self._state, object_hook=_decode_object)
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


class EventLog:
    """The events table in log order: PostgreSQL's notification ids, SQLite's rowids."""

    def __init__(self, db: Database) -> None:
        self.db = db
        key = "notification_id" if db.dialect == "postgres" else "rowid"
        self._select = (
            f"SELECT {key}, originator_id, originator_version, topic, state"
            f" FROM {EVENTS_TABLE} WHERE {key} > %s ORDER BY {key} LIMIT %s"
        )
        self._head = f"SELECT MAX({key}) FROM {EVENTS_TABLE}"
        self._next = f"SELECT {key} FROM {EVENTS_TABLE} WHERE {key} > %s ORDER BY {key} LIMIT 1"

    def after(self, position: int, limit: int) -> list[ProjectedEvent]:
        """Up to `limit` events after `position`, in log order."""
        return [
            ProjectedEvent(
                row[0],
                row[1] if isinstance(row[1], UUID) else UUID(row[1]),
                row[2],
                row[3].rsplit(".", 1)[-1],
                bytes(row[4]),
                _aggregate_of(row[3]),
            )
            for row in self.db.execute(self._select, (position, limit))
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
        """The position of the last event, 0 for an empty log."""
        return int(self.db.execute(self._head)[0][0] or 0)

    def next_position(self, position: int) -> int:
        """The position of the event after `position`, without decoding it."""
        following = self.db.execute(self._next, (position,))
        return int(following[0][0]) if following else position + 1
