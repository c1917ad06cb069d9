"""Remembered responses of commands sent with an Idempotency-Key.

A command's record is written in the same transaction as the events it caused (see
`app.adapters.recorders`), so either both are stored or neither: a retry finds the record and
replays it, and a command can never be applied twice. Refusals, which write no event, are
stored on their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.adapters.db import PostgresDatabase, SQLiteDatabase

INSERT_SQL = (
    "INSERT INTO idempotency_keys"
    " (key, request_hash, status_code, response_body, response_headers)"
    " VALUES (%s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    request_hash: str
    status_code: int
    body: bytes
    headers: dict[str, str]

    def params(self) -> tuple[str, str, int, str, str]:
        return (
            self.key,
            self.request_hash,
            self.status_code,
            self.body.decode(),
            json.dumps(self.headers),
        )


class IdempotencyStore:
    def __init__(self, db: SQLiteDatabase | PostgresDatabase) -> None:
        self.db = db

    def get(self, key: str) -> IdempotencyRecord | None:
        rows = self.db.execute(
            "SELECT request_hash, status_code, response_body, response_headers"
            " FROM idempotency_keys WHERE key = %s",
            (key,),
        )
        if not rows:
            return None
        request_hash, status_code, body, headers = rows[0]
        return IdempotencyRecord(key, request_hash, int(status_code), body.encode(), json.loads(headers))

    def put(self, record: IdempotencyRecord) -> bool:
        """Store a record on its own; False when the key is taken already."""
        with self.db.transaction() as tx:
            tx.execute(INSERT_SQL + " ON CONFLICT (key) DO NOTHING", record.params())
            return tx.rowcount == 1
