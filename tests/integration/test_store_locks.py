"""A writer stuck holding the event table cannot hang the others for long."""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from app.bootstrap import open_service
from app.config import Settings
from app.domain.errors import VersionConflict
from eventsourcing.persistence import OperationalError
from tests.support import FakeClock, order_fields


def _hold_the_event_table(settings: Settings, held: threading.Event, release: threading.Event) -> None:
    url = settings.database_url.get_secret_value()
    if settings.dialect == "postgres":
        with psycopg.connect(url) as conn:
            conn.execute("LOCK TABLE orders_events IN EXCLUSIVE MODE")
            held.set()
            release.wait(30)
            conn.rollback()
    else:
        conn = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()


def test_a_command_gives_up_after_the_lock_timeout_when_another_writer_is_stuck(
    settings: Settings, clock: FakeClock
) -> None:
    """With the table locked elsewhere, accept fails within a few lock timeouts, not minutes."""
    settings = settings.model_copy(update={"lock_timeout": 1})
    service = open_service(settings, clock=clock)
    order = service.import_order(**order_fields()).order
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_the_event_table, args=(settings, held, release))
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises((OperationalError, VersionConflict)):
            service.accept(order.id, expected_version=1)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert waited < 5, f"waited {waited:.1f} s with a 1 s lock timeout"
    # Once the stuck writer is gone, the same command goes through.
    assert service.accept(order.id, expected_version=1).version == 2
    service.close()
