"""Fixtures shared by the integration suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.adapters.db import PostgresDatabase, SQLiteDatabase, open_database
from app.config import Settings


@pytest.fixture
def db(settings: Settings) -> Iterator[SQLiteDatabase | PostgresDatabase]:
    """Plain SQL access to the test's store."""
    database = open_database(settings)
    yield database
    database.close()
