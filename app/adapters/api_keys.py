"""API keys: created once and shown once, stored as digests, revoked at once.

A key is `oms_` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
digest is stored: with that much entropy a plain digest cannot be reversed or guessed, and a
lookup by digest costs one indexed read per request, so a revocation takes effect on the
next request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.adapters.db import Database

ROLES = ("admin", "operator", "auditor", "integrator")
KEY_PREFIX = "oms_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# last_used_at is written at most this often per key, so that reads stay reads.
TOUCH_EVERY = 60.0

_COLUMNS = "id, name, role, key_prefix, created_at, last_used_at, revoked_at"


class InvalidKeyRequest(ValueError):
    """A key that cannot be created: its field and the rule it breaks."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class LastAdminKey(InvalidKeyRequest):
    """Revoking this key would leave no active admin key."""

    def __init__(self, name: str) -> None:
        super().__init__("name", "last_admin",
                         f"{name!r} is the last active admin key; create another admin key "
                         "before revoking it")


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    role: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def create(self, name: str, role: str) -> tuple[ApiKey, str]:
        """A new key: the record, and the key itself (shown to the caller once)."""
        if not NAME_PATTERN.match(name or ""):
            raise InvalidKeyRequest("name", "key_name",
                            "name is 1 to 64 letters, digits, '_', '.', ':' or '-'")
        if role not in ROLES:
            raise InvalidKeyRequest("role", "role", f"role must be one of {', '.join(ROLES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO api_keys (name, role, key_hash, key_prefix, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, role, digest(key), key[:8], now),
            )
        if not rows:
            raise InvalidKeyRequest("name", "unique", f"a key named {name!r} exists already")
        return ApiKey(int(rows[0][0]), name, role, key[:8], now, None, None), key

    def authenticate(self, key: str) -> ApiKey | None:
        """The active key this is, or None; notes its use now and then."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
            (digest(key),),
        )
        if not rows:
            return None
        found = ApiKey(*rows[0])
        now = self.clock()
        if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
            with self.db.transaction() as tx:
                tx.execute("UPDATE api_keys SET last_used_at = %s WHERE id = %s", (now, found.id))
        return found

    def list(self) -> list[ApiKey]:
        return [ApiKey(*row) for row in self.db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")]

    def get(self, name: str) -> ApiKey | None:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE name = %s", (name,))
        return ApiKey(*rows[0]) if rows else None

    def revoke(self, name: str, *, keep_an_admin: bool = False) -> ApiKey | None:
        """Revoke the named key (again is harmless); None when there is no such key.

        With `keep_an_admin`, the last active admin key is not revoked (LastAdminKey): the
        active admin keys are locked while they are counted, so two admins revoking each
        other at once cannot both succeed.
        """
        with self.db.transaction() as tx:
            if keep_an_admin:
                lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
                admins = [row[0] for row in tx.execute(
                    "SELECT name FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL"
                    + lock
                )]
                if admins == [name]:
                    raise LastAdminKey(name)
            tx.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                (self.clock(), name),
            )
        return self.get(name)


__all__ = ["ApiKey", "ApiKeyStore", "KEY_PREFIX", "InvalidKeyRequest", "LastAdminKey", "ROLES",
           "digest"]
