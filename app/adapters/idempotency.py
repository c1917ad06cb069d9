"""The records of commands sent with an Idempotency-Key (`command_records`).

A command's record is written in the same transaction as the events it caused (see
`app.adapters.recorders`), so either both are stored or neither: a retry finds the record and
its answer is rebuilt from it, and a command can never be applied twice. Refusals, which write
no event, are stored on their own.
"""

from __future__ import annotations

import json
from uuid import UUID

from app.adapters.db import Database
from app.ports.idempotency import CommandRecord

INSERT_SQL = (
    "INSERT INTO command_records"
    " (key, request_hash, outcome, aggregate_id, aggregate_version, refusal)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> CommandRecord | None:
        rows = self.db.execute(
            "SELECT request_hash, outcome, aggregate_id, aggregate_version, refusal"
            " FROM command_records WHERE key = %s",
            (key,),
        )
        if not rows:
            return None
        request_hash, outcome, aggregate_id, version, refusal = rows[0]
        return CommandRecord(
            key, request_hash, outcome,
            None if aggregate_id is None else UUID(aggregate_id),
            None if version is None else int(version),
            None if refusal is None else json.loads(refusal),
        )

    def put(self, record: CommandRecord) -> bool:
        """Store a record on its own; False when the key is taken already."""
        with self.db.transaction() as tx:
            tx.execute(INSERT_SQL + " ON CONFLICT (key) DO NOTHING", record.params())
            return tx.rowcount == 1


__all__ = ["INSERT_SQL", "IdempotencyStore"]
