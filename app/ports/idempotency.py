"""Commands sent with an Idempotency-Key: the claim a caller makes, and the record of what the
command did, written in the same transaction as the command's events.

The record holds facts, not a rendered answer: which aggregate the command changed, the version
it reached, whether it created it, or why it was refused. A retry rebuilds its answer from
them (the aggregate as it was at that version), so the answer's format belongs to whoever
renders it and a command can never be applied twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

Outcome = Literal["created", "changed", "refused"]


@dataclass(frozen=True)
class IdempotencyClaim:
    """A command sent with `key`; `request_hash` fingerprints the request it came with."""

    key: str
    request_hash: str

    def applied(self, aggregate_id: UUID, version: int, *, created: bool = False) -> CommandRecord:
        return CommandRecord(self.key, self.request_hash, "created" if created else "changed",
                             aggregate_id, version)

    def refused(self, refusal: dict[str, Any]) -> CommandRecord:
        return CommandRecord(self.key, self.request_hash, "refused", refusal=refusal)


@dataclass(frozen=True)
class CommandRecord:
    key: str
    request_hash: str
    outcome: Outcome
    aggregate_id: UUID | None = None
    aggregate_version: int | None = None
    # Why the command was refused (the problem it was answered with), when it was.
    refusal: dict[str, Any] | None = None

    def params(self) -> tuple[str, str, str, str | None, int | None, str | None]:
        return (
            self.key,
            self.request_hash,
            self.outcome,
            None if self.aggregate_id is None else str(self.aggregate_id),
            self.aggregate_version,
            None if self.refusal is None else json.dumps(self.refusal, sort_keys=True),
        )


__all__ = ["CommandRecord", "IdempotencyClaim", "Outcome"]
