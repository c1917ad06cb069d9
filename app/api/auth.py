"""Authentication (API keys), authorisation (roles) and rate limits.

`AuthMiddleware` runs before any route: it reads `Authorization: Bearer <key>`, answers 401
for a missing, unknown or revoked key and 429 past the key's rate, and otherwise records the
key as the request's principal and as the actor of the events the request writes, with the
request id as their correlation id. Each route then names the permission it needs
(`requires(...)`); a role without it gets 403.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import anyio
import structlog
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from app.adapters.api_keys import ApiKey, ApiKeyStore
from app.api.problems import PROBLEM_MEDIA_TYPE, ProblemError, problem_document
from app.domain.actor import Actor, current_actor, current_correlation_id
from app.metrics import count_rate_limited

log = structlog.get_logger(__name__)

# What each role may do. admin manages keys and channel settings and may do everything else;
# operators work orders and offers; auditors read everything, histories included, and
# change nothing; integrators read the event stream and the orders' and offers' state.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"orders:read", "orders:history", "orders:write", "offers:read",
                        "offers:history", "offers:write", "events:read", "sync:read",
                        "sync:write", "keys:manage", "channels:manage"}),
    "operator": frozenset({"orders:read", "orders:history", "orders:write", "offers:read",
                           "offers:history", "offers:write", "sync:read", "sync:write"}),
    "auditor": frozenset({"orders:read", "orders:history", "offers:read", "offers:history",
                          "events:read", "sync:read"}),
    "integrator": frozenset({"orders:read", "offers:read", "events:read"}),
}

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def _problem(status: int, slug: str, title: str, detail: str, path: str,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(problem_document(
        status, slug, title, detail, instance=path,
        field="Authorization" if status == 401 else None, rule=slug,
    )).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, body, [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                          (b"content-length", str(len(body)).encode()), *extra]


class MovingWindow:
    """Requests per key over the last `seconds`, counted in this process.

    Each key keeps the times of its requests inside the window, oldest first; a request is
    let through while fewer than `limit` of them are less than `seconds` old. Constant work
    per request, and no timer or thread: the expired times of a key go on its next request,
    and a key without requests for a whole window is dropped then too.
    """

    def __init__(self, limit: int, seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + seconds

    def hit(self, key: str) -> float | None:
        """None when allowed (and counted); else the seconds until one more is allowed."""
        now = self.clock()
        horizon = now - self.seconds
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(horizon)
                self._next_sweep = now + self.seconds
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[len(hits) - self.limit] + self.seconds - now
            hits.append(now)
            return None

    def _sweep(self, horizon: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= horizon]:
            del self._hits[key]


class RateLimiter:
    """Requests per key per minute, over a moving window.

    The window's counts live where `storage` says: "memory://" keeps them in this process
    (each process then counts on its own; `MovingWindow`), "redis://host:port/db" in Redis,
    shared by every process that names the same server and `namespace`. If Redis cannot be
    reached the request is let through and the failure logged: a rate limit never takes the
    API down.
    """

    def __init__(self, per_minute: int, storage: str = "memory://",
                 namespace: str = "oms") -> None:
        self.item = parse(f"{per_minute}/minute")
        self.shared = not storage.startswith("memory://")
        self.local = None if self.shared else MovingWindow(per_minute)
        self.limiter = (
            MovingWindowRateLimiter(storage_from_string(
                storage, key_prefix=namespace, wrap_exceptions=True,
                socket_timeout=1.0, socket_connect_timeout=1.0))
            if self.shared else None
        )

    def hit(self, key_id: str) -> float | None:
        """None when allowed; else the seconds to wait."""
        if self.local is not None:
            wait = self.local.hit(key_id)
            return None if wait is None else max(1.0, wait)
        assert self.limiter is not None
        try:
            if self.limiter.hit(self.item, key_id):
                return None
            stats = self.limiter.get_window_stats(self.item, key_id)
        except StorageError as exc:
            log.warning("rate_limit_unavailable", error=type(exc.storage_error).__name__)
            return None
        return max(1.0, stats.reset_time - time.time())

    async def check(self, key_id: str) -> float | None:
        """`hit`, off the event loop when the counts are kept over the network."""
        if not self.shared:
            return self.hit(key_id)
        return await anyio.to_thread.run_sync(self.hit, key_id)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, keys: ApiKeyStore, limiter: RateLimiter,
                 open_docs: bool) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.open_paths = OPEN_PATHS | (DOCS_PATHS if open_docs else frozenset())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        token = _bearer(scope)
        key = await anyio.to_thread.run_sync(self.keys.authenticate, token) if token else None
        if key is None:
            detail = ("send an API key as 'Authorization: Bearer <key>'" if not token
                      else "the API key is unknown or revoked")
            await _send(send, *_problem(401, "unauthenticated", "Not authenticated", detail, path,
                                        {"WWW-Authenticate": "Bearer"}))
            return
        wait = await self.limiter.check(str(key.id))
        if wait is not None:
            count_rate_limited()
            seconds = str(math.ceil(wait))
            await _send(send, *_problem(
                429, "rate-limited", "Too many requests",
                f"key {key.name!r} sent more requests than its rate allows; retry in {seconds} s",
                path, {"Retry-After": seconds}))
            return
        scope.setdefault("state", {})["principal"] = key
        structlog.contextvars.bind_contextvars(key_name=key.name, role=key.role)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        actor_token = current_actor.set(Actor(key.name, key.role))
        correlation_token = current_correlation_id.set(request_id)
        try:
            await self.app(scope, receive, send)
        finally:
            current_actor.reset(actor_token)
            current_correlation_id.reset(correlation_token)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def principal(request: Request) -> ApiKey:
    key = request.scope.get("state", {}).get("principal")
    if key is None:  # only reachable if a route is served without the middleware
        raise ProblemError(401, "unauthenticated", "Not authenticated",
                           "send an API key as 'Authorization: Bearer <key>'",
                           field="Authorization", rule="unauthenticated")
    return key


# Documents the scheme (AuthMiddleware checks the key); never refuses on its own.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="oms_ followed by 43 URL-safe characters",
    description="An API key, sent as 'Authorization: Bearer <key>'",
    auto_error=False,
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def authorise(request: Request, permission: str) -> ApiKey:
    """The caller's key, if its role grants `permission`; else a 403 problem."""
    key = principal(request)
    if permission not in PERMISSIONS.get(key.role, frozenset()):
        raise ProblemError(
            403, "forbidden", "Forbidden",
            f"role {key.role!r} may not do this (it needs {permission!r})",
            field="Authorization", rule=permission,
        )
    return key


PrincipalDep = Annotated[ApiKey, Depends(principal)]


def requires(permission: str) -> Any:
    """A route dependency: the caller's role must grant `permission`, else 403.

    Routes of an `AuthorisedRoute` router check it again before the body is read, so that a
    caller without the permission learns nothing from the validation of what it sent.
    """

    def check(request: Request, _: BearerDep) -> ApiKey:
        return authorise(request, permission)

    check.__name__ = f"requires_{permission.replace(':', '_')}"
    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


class AuthorisedRoute(APIRoute):
    """A route that checks the permissions its `requires(...)` dependencies name first,
    before FastAPI reads, parses and validates the request."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        permissions = [
            permission
            for dependency in self.dependencies
            if (permission := getattr(dependency.dependency, "permission", None)) is not None
        ]
        if not permissions:
            return handler

        async def authorised_handler(request: Request) -> Response:
            for permission in permissions:
                authorise(request, permission)
            return await handler(request)

        return authorised_handler


def role_may(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or an unknown or revoked one",
          "content": {"application/problem+json": {}}},
    403: {"description": "The key's role does not allow this",
          "content": {"application/problem+json": {}}},
    429: {"description": "Too many requests for this key; see Retry-After",
          "content": {"application/problem+json": {}}},
}


Permission = Callable[[Request], ApiKey]

__all__ = [
    "AUTH_PROBLEMS",
    "PERMISSIONS",
    "AuthMiddleware",
    "AuthorisedRoute",
    "MovingWindow",
    "PrincipalDep",
    "RateLimiter",
    "authorise",
    "bearer_scheme",
    "principal",
    "requires",
    "role_may",
]
