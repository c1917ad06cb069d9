"""The event store library's recorders, extended to write a command's record (Idempotency-Key)
in the same transaction as the events of that command; and the library's settings for our
database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from app.adapters.idempotency import INSERT_SQL
from app.config import Settings
from app.ports.idempotency import CommandRecord

EVENTS_TABLE = "orders_events"


class OrdersSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite recorder on the same table name as the PostgreSQL one."""

    def __init__(self, datastore: Any, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        record: CommandRecord | None = kwargs.get("idempotency")
        if record is not None:
            c.execute(INSERT_SQL.replace("%s", "?"), record.params())
        return ids


class OrdersPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL recorder whose writes give up after the lock timeout.

    The library retries a failed write ten times; a writer that cannot get the table lock
    within the lock timeout fails at once instead, so that one stuck transaction cannot hold
    every request for many times the timeout.

    The events go in as four arrays (ids, versions, topics, states) sent in binary, rather
    than the library's one array of composite values sent as text, whose quoting of every
    state's bytes costs more than the rest of the write; the rows, their order and the
    notification ids returned are the same.
    """

    def __init__(self, datastore: Any, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " AS e (originator_id, originator_version, topic, state)"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        try:
            return _insert_once(self, stored_events, **kwargs)
        except InterfaceError:
            # A connection that broke before the write: one more go on a fresh one.
            return _insert_once(self, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_arrays_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        record: CommandRecord | None = kwargs.get("idempotency")
        if record is not None:
            # Fetching the returned key makes a unique violation surface here, inside the
            # library's error handling, as an IntegrityError that rolls the events back.
            curs.execute(INSERT_SQL + " RETURNING key", record.params())
            curs.fetchone()
        return ids

def persistence_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's settings for our store; its table creation stays off."""
    if settings.dialect == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": settings.sqlite_path,
            "SQLITE_LOCK_TIMEOUT": str(settings.lock_timeout),
            "APPLICATION_RECORDER_TOPIC": "app.adapters.recorders:OrdersSQLiteRecorder",
            "CREATE_TABLE": "no",
        }
    params = settings.postgres_params()
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params["dbname"],
        "POSTGRES_HOST": params["host"],
        "POSTGRES_PORT": params["port"],
        "POSTGRES_USER": params["user"],
        "POSTGRES_PASSWORD": params["password"],
        "POSTGRES_LOCK_TIMEOUT": str(settings.lock_timeout),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_pool_size),
        "APPLICATION_RECORDER_TOPIC": "app.adapters.recorders:OrdersPostgresRecorder",
        "CREATE_TABLE": "no",
    }


_insert_once = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
