"""Wake-ups for the projection runners as soon as events are written.

On PostgreSQL a connection LISTENs on the events table's channel; in-process writes wake the
runners directly, and runners also poll on a timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import structlog

from app.adapters.db import Database, PostgresDatabase

log = structlog.get_logger(__name__)


class LogListener:
    """Calls `wake` on each notification of `channel` (PostgreSQL; nothing to do on SQLite)."""

    def __init__(self, db: Database, channel: str, wake: Callable[[], None]) -> None:
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
