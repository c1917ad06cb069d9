"""Fixtures: every store-backed suite runs once on SQLite and once on PostgreSQL.

PostgreSQL is never skipped: without a reachable server the PostgreSQL tests fail. The server
is the one at OMS_TEST_DATABASE_URL (./scripts/test starts a throwaway one when needed), or
127.0.0.1:5432; each test session creates its own database there and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.adapters.db import open_database
from app.adapters.migrations import migrate
from app.api.app import create_app
from app.application.orders import OrderService
from app.bootstrap import open_service
from app.config import Settings
from app.logs import configure_logging
from tests.support import FakeClock, bearer, make_api_key

# Suites send many requests with one key; the rate limit has tests of its own.
TEST_RATE_LIMIT = 1_000_000
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

configure_logging("WARNING", "console")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("OMS_TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is required and not reachable at OMS_TEST_DATABASE_URL ({exc}); "
            "run the tests with ./scripts/test, which starts one",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def pg_database_url(pg_admin_url: str) -> Iterator[str]:
    """A database of this test session's own, migrated once."""
    name = f"oms_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_admin_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    settings = Settings(DATABASE_URL=url, environment="test")
    db = open_database(settings)
    migrate(db, settings.migrations_dir)
    db.close()
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY"
            )


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of an empty, migrated store: SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        settings = Settings(
            DATABASE_URL=f"sqlite:///{tmp_path / 'oms.sqlite3'}", environment="test",
            rate_limit_per_minute=TEST_RATE_LIMIT,
        )
        db = open_database(settings)
        migrate(db, settings.migrations_dir)
        db.close()
        return settings
    url = request.getfixturevalue("pg_database_url")
    _empty_postgres(url)
    return Settings(DATABASE_URL=url, environment="test", rate_limit_per_minute=TEST_RATE_LIMIT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(settings: Settings, clock: FakeClock) -> Iterator[OrderService]:
    svc = open_service(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def app(settings: Settings, clock: FakeClock):
    return create_app(settings, clock=clock)


@pytest.fixture
def operator_key(settings: Settings) -> str:
    """An operator's API key in the test's store: what the API suites act as."""
    return make_api_key(settings, "operator", "test-operator")


@pytest.fixture
def client(app, operator_key: str) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, headers=bearer(operator_key)) as test_client:
        yield test_client
