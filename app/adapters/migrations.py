"""Apply the SQL files in migrations/<dialect>/ in order, once each, under a lock.

Several processes may run `oms migrate` at once: PostgreSQL serialises them with an advisory
lock, SQLite with its write lock. Each file is applied in its own transaction together with
its row in schema_migrations, so a failed file leaves nothing half done.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from app.adapters.db import Database, PostgresDatabase, SQLiteDatabase

log = structlog.get_logger(__name__)

# Any constant shared by every process of this service: the key of its advisory lock.
_ADVISORY_LOCK_KEY = 7_305_113_001


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


class MigrationError(Exception):
    pass


def available(migrations_dir: Path, dialect: str) -> list[Migration]:
    folder = migrations_dir / dialect
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder {folder}")
    return [Migration(p.stem, p) for p in sorted(folder.glob("*.sql"))]


def migrate(db: Database, migrations_dir: Path) -> list[str]:
    """Apply what is missing; returns the versions applied now."""
    migrations = available(migrations_dir, db.dialect)
    if isinstance(db, PostgresDatabase):
        return _migrate_postgres(db, migrations)
    return _migrate_sqlite(db, migrations)


def pending(db: Database, migrations_dir: Path) -> list[str]:
    """Versions not applied yet (all of them on an empty database)."""
    versions = [m.version for m in available(migrations_dir, db.dialect)]
    try:
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    except Exception:  # noqa: BLE001 - no table yet means nothing applied
        return versions
    return [v for v in versions if v not in applied]


def _migrate_postgres(db: PostgresDatabase, migrations: list[Migration]) -> list[str]:
    applied_now: list[str] = []
    with db.connection() as conn:
        # Session-level lock: waits for another migrating process rather than failing.
        conn.execute("SET lock_timeout = 0")
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations:
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                        (migration.version, datetime.now(UTC)),
                    )
                applied_now.append(migration.version)
                log.info("migration_applied", version=migration.version, dialect="postgres")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
            conn.execute(f"SET lock_timeout = '{db.lock_timeout}s'")
    return applied_now


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise MigrationError("unterminated statement at the end of a migration")
    return statements


def _migrate_sqlite(db: SQLiteDatabase, migrations: list[Migration]) -> list[str]:
    applied_now: list[str] = []
    with db.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
    for migration in migrations:
        # BEGIN IMMEDIATE takes the write lock, so a concurrent migrator waits here.
        with db.transaction() as tx:
            if tx.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            ):
                continue
            for statement in _statements(migration.sql):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                (migration.version, datetime.now(UTC).isoformat()),
            )
        applied_now.append(migration.version)
        log.info("migration_applied", version=migration.version, dialect="sqlite")
    return applied_now
