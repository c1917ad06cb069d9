"""Plain SQL access to the service's database, for the tables we own beside the event store.

Queries are written once with `%s` placeholders; the SQLite side translates them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from app.config import Settings


class Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @property
    def rowcount(self) -> int: ...


class Database(Protocol):
    dialect: Literal["sqlite", "postgres"]

    def transaction(self) -> Any: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class _SQLiteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.rowcount = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(sql.replace("%s", "?"), tuple(params))
        self.rowcount = cursor.rowcount
        return cursor.fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql.replace("%s", "?"), rows)


class SQLiteDatabase:
    """One connection per thread, WAL journal, writers serialised by BEGIN IMMEDIATE."""

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: str, lock_timeout: int) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        # Every connection opened, with the thread that owns it.
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.lock_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={self.lock_timeout * 1000}")
            self._local.conn = conn
            with self._lock:
                self._all.append((threading.current_thread(), conn))
        return conn

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTransaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql.replace("%s", "?"), tuple(params)).fetchall()

    def ping(self) -> None:
        self.execute("SELECT 1")

    def close(self) -> None:
        """Close the connections of this thread and of finished ones.

        A connection still owned by a running thread (a background job that has been told
        to stop but is finishing a statement) is not closed under it, which could crash the
        process: it is dropped, and closed when its thread lets go of it.
        """
        current = threading.current_thread()
        with self._lock:
            for owner, conn in self._all:
                if owner is current or not owner.is_alive():
                    conn.close()
            self._all.clear()
        self._local = threading.local()


class _PostgresTransaction:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.rowcount = 0

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        if isinstance(params, Mapping):
            cursor = self._conn.execute(sql, params)
        else:
            cursor = self._conn.execute(sql, tuple(params) if params else None)
        self.rowcount = cursor.rowcount
        return cursor.fetchall() if cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    def copy_rows(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        """COPY rows into a table: the fastest way to move many rows."""
        with self._conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


class PostgresDatabase:
    """A psycopg connection pool; each connection has lock and idle timeouts set."""

    dialect: Literal["postgres"] = "postgres"

    def __init__(self, conninfo: str, *, pool_size: int, lock_timeout: int) -> None:
        from psycopg_pool import ConnectionPool

        self.lock_timeout = lock_timeout

        def configure(conn: Any) -> None:
            # Autocommit: a single read is one round trip; transactions are explicit.
            conn.autocommit = True
            conn.execute(f"SET lock_timeout = '{int(lock_timeout)}s'")
            conn.execute("SET idle_in_transaction_session_timeout = '60s'")

        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            configure=configure,
            open=True,
            name="oms",
        )

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[_PostgresTransaction]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement in its own implicit transaction."""
        with self.pool.connection() as conn:
            return _PostgresTransaction(conn).execute(sql, params)

    def ping(self) -> None:
        self.execute("SELECT 1")

    def close(self) -> None:
        self.pool.close()


def open_database(settings: Settings) -> SQLiteDatabase | PostgresDatabase:
    if settings.dialect == "sqlite":
        return SQLiteDatabase(settings.sqlite_path, settings.lock_timeout)
    return PostgresDatabase(
        settings.postgres_conninfo(),
        pool_size=settings.db_pool_size,
        lock_timeout=settings.lock_timeout,
    )
