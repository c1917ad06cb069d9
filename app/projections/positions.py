"""The projection_positions table: one row per projection.

A row holds the active generation of the read model and the log position applied to it, the
failure that stopped the projection (its position and error), and the generation a rebuild
is filling with the position it reached. Batches lock the row (FOR UPDATE on PostgreSQL; on
SQLite the write transaction already serialises writers) to move the position in the same
transaction as the read model rows.
"""

from __future__ import annotations

from typing import Any

from app.adapters.db import Database, Transaction


class PositionStore:
    """The projection_positions rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._for_update = " FOR UPDATE" if db.dialect == "postgres" else ""
        self._now = (
            "now()" if db.dialect == "postgres" else "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        )

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
        """(generation, position, failed_position, error, rebuild_generation, rebuild_position)."""
        rows = self.db.execute(
            "SELECT generation, position, failed_position, error, rebuild_generation,"
            " rebuild_position FROM projection_positions WHERE name = %s",
            (name,),
        )
        if not rows:
            raise LookupError(f"no projection named {name!r}")
        return rows[0]

    # ---------------------------------------------------------------- the active generation

    def advance(self, tx: Transaction, name: str, position: int) -> None:
        tx.execute(
            f"UPDATE projection_positions SET position = %s, updated_at = {self._now}"
            " WHERE name = %s",
            (position, name),
        )

    def record_failure(self, name: str, position: int, error: str) -> None:
        self.db.execute(
            "UPDATE projection_positions SET failed_position = %s, error = %s,"
            f" updated_at = {self._now} WHERE name = %s",
            (position, error, name),
        )

    def clear_failure(self, name: str) -> None:
        self.db.execute(
            "UPDATE projection_positions SET failed_position = NULL, error = NULL WHERE name = %s",
            (name,),
        )

    def restart(self, tx: Transaction, name: str) -> None:
        """Back to the first event, failure cleared (the active rows are deleted meanwhile)."""
        tx.execute(
            "UPDATE projection_positions SET position = 0, failed_position = NULL,"
            " error = NULL WHERE name = %s",
            (name,),
        )

    # ---------------------------------------------------------------- a rebuild

    def start_rebuild(self, tx: Transaction, name: str, generation: int) -> None:
        tx.execute(
            "UPDATE projection_positions SET rebuild_generation = %s, rebuild_position = 0"
            " WHERE name = %s",
            (generation, name),
        )

    def rebuilt_up_to(self, tx: Transaction, name: str, position: int) -> None:
        tx.execute(
            "UPDATE projection_positions SET rebuild_position = %s WHERE name = %s",
            (position, name),
        )

    def switch(self, tx: Transaction, name: str, generation: int, position: int) -> None:
        """Make the rebuilt generation the active one, at `position`, with no failure."""
        tx.execute(
            "UPDATE projection_positions SET generation = %s, position = %s,"
            " failed_position = NULL, error = NULL, rebuild_generation = NULL,"
            f" rebuild_position = NULL, updated_at = {self._now} WHERE name = %s",
            (generation, position, name),
        )
