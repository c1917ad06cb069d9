"""Remembered responses of commands sent with an Idempotency-Key.

A key is claimed before the command runs and completed with its response afterwards, so a
retry replays the first response instead of running the command again. A claim left behind
by a crashed process expires; the command itself is still protected by the order's version
(If-Match), so re-running it after such a crash can never apply it twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.adapters.db import PostgresDatabase, SQLiteDatabase

STALE_CLAIM_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Claimed:
    """The key is ours: run the command, then complete or release it."""


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class Mismatch:
    """The key was used for another request."""


@dataclass(frozen=True)
class InProgress:
    """Another request with this key is running now."""


ClaimResult = Claimed | Replay | Mismatch | InProgress


class IdempotencyStore:
    def __init__(self, db: SQLiteDatabase | PostgresDatabase) -> None:
        self.db = db

    def _ts(self, when: datetime) -> Any:
        return when if self.db.dialect == "postgres" else when.isoformat()

    def claim(self, key: str, request_hash: str, now: datetime | None = None) -> ClaimResult:
        now = now or datetime.now(UTC)
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO idempotency_keys (key, request_hash, state, created_at, updated_at)"
                " VALUES (%s, %s, 'started', %s, %s) ON CONFLICT (key) DO NOTHING",
                (key, request_hash, self._ts(now), self._ts(now)),
            )
            if tx.rowcount == 1:
                return Claimed()
            rows = tx.execute(
                "SELECT request_hash, state, status_code, response_body, response_headers,"
                " updated_at FROM idempotency_keys WHERE key = %s",
                (key,),
            )
            stored_hash, state, status_code, body, headers, updated_at = rows[0]
            if stored_hash != request_hash:
                return Mismatch()
            if state == "done":
                return Replay(
                    StoredResponse(int(status_code), json.loads(body), json.loads(headers))
                )
            if isinstance(updated_at, str):
                updated_at = datetime.fromisoformat(updated_at)
            if now - updated_at < STALE_CLAIM_AFTER:
                return InProgress()
            # The claimant died before answering: take the claim over.
            tx.execute(
                "UPDATE idempotency_keys SET updated_at = %s WHERE key = %s",
                (self._ts(now), key),
            )
            return Claimed()

    def complete(self, key: str, response: StoredResponse) -> None:
        self.db.execute(
            "UPDATE idempotency_keys SET state = 'done', status_code = %s, response_body = %s,"
            " response_headers = %s, updated_at = %s WHERE key = %s",
            (
                response.status_code,
                json.dumps(response.body),
                json.dumps(response.headers),
                self._ts(datetime.now(UTC)),
                key,
            ),
        )

    def release(self, key: str) -> None:
        """Forget a claim whose command failed unexpectedly, so that a retry can run it."""
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE key = %s AND state = 'started'", (key,)
        )
