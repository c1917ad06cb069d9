"""Fault injection and the call log, in the outermost ASGI layer, in front of FastAPI.

Faults must be able to do what a real network does to a client: answer 429 or 5xx without
touching state, answer late after the change is made, or close the connection with no answer at
all, before or after the change. Closing a connection is only possible behind the server's back,
through the transport of uvicorn's own `send`, which is why this is a plain ASGI callable and not
a Starlette middleware (those hand the app a wrapped `send`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

import structlog

from sandbox.marketplace import Marketplace

log = structlog.get_logger("sandbox")

FaultKind = Literal[
    "rate_limit", "error_500", "error_503", "slow", "drop", "drop_after_apply", "duplicate_pages"
]
DUPLICATE_PAGES_FLAG = "sandbox.duplicate_pages"

# (method, path pattern, Mirakl operation code)
OPERATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/api/orders$"), "OR11"),
    ("PUT", re.compile(r"^/api/orders/refund$"), "OR28"),
    ("PUT", re.compile(r"^/api/orders/cancel$"), "OR30"),
    ("PUT", re.compile(r"^/api/orders/(?P<order_id>[^/]+)/accept$"), "OR21"),
    ("PUT", re.compile(r"^/api/orders/(?P<order_id>[^/]+)/tracking$"), "OR23"),
    ("PUT", re.compile(r"^/api/orders/(?P<order_id>[^/]+)/ship$"), "OR24"),
    ("PUT", re.compile(r"^/api/orders/(?P<order_id>[^/]+)/cancel$"), "OR29"),
    ("GET", re.compile(r"^/api/reasons$"), "RE01"),
    ("GET", re.compile(r"^/api/shipping/carriers$"), "SH21"),
    ("POST", re.compile(r"^/api/offers/imports$"), "OF01"),
    ("GET", re.compile(r"^/api/offers/imports/[^/]+$"), "OF02"),
    ("GET", re.compile(r"^/api/offers/imports/[^/]+/error_report$"), "OF03"),
    ("GET", re.compile(r"^/api/offers$"), "OF21"),
)
PAGED_OPERATIONS = frozenset({"OR11", "OF21"})


@dataclass
class Fault:
    """One armed fault; `times` counts down with each request it hits."""

    id: int
    kind: FaultKind
    times: int = 1
    method: str | None = None
    path_contains: str | None = None
    retry_after: int = 1
    delay: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """Armed faults, in the order they were armed; the first that matches a request takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def arm(self, **spec: Any) -> Fault:
        with self._lock:
            fault = Fault(id=next(self._ids), **spec)
            self._faults.append(fault)
        log.info("sandbox_fault_armed", kind=fault.kind, times=fault.times,
                 method=fault.method, path_contains=fault.path_contains)
        return fault

    def armed(self) -> list[Fault]:
        with self._lock:
            return [Fault(**f.as_dict()) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, operation: str | None, offset: int) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method.upper() != method:
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                # Only a page after the first can start one item early.
                if fault.kind == "duplicate_pages" and (
                        operation not in PAGED_OPERATIONS or offset <= 0):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return Fault(**fault.as_dict())
        return None


def classify(method: str, path: str) -> tuple[str | None, str | None]:
    """The Mirakl operation code of a request, and the order id its path names."""
    for op_method, pattern, code in OPERATIONS:
        match = pattern.match(path)
        if match and op_method == method:
            return code, match.groupdict().get("order_id")
    return None, None


def _order_ids(operation: str | None, path_order: str | None, query: dict[str, list[str]],
               body: bytes) -> list[str]:
    """Every order a call is about, so the call log can be filtered by order."""
    found: list[str] = [path_order] if path_order else []
    if operation == "OR11":
        for value in query.get("order_ids", []):
            found.extend(v for v in value.split(",") if v)
    elif operation in ("OR28", "OR30") and body:
        try:
            items = json.loads(body).get("refunds" if operation == "OR28" else "cancelations", [])
            found.extend(str(item["order_line_id"]).rsplit("-", 1)[0] for item in items)
        except (ValueError, AttributeError, TypeError, KeyError):
            pass
    return list(dict.fromkeys(found))


def _error(status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> list[dict]:
    body = json.dumps({"status": status, "message": message}).encode()
    return [
        {"type": "http.response.start", "status": status,
         "headers": [(b"content-type", b"application/json"),
                     (b"content-length", str(len(body)).encode()), *headers]},
        {"type": "http.response.body", "body": body, "more_body": False},
    ]


async def _drop_connection(send: Any) -> None:
    """Close the socket under uvicorn's feet: the client gets no status line at all."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this server does not expose its transport; cannot drop a connection")
    transport.close()
    # Let the loop report the lost connection, so uvicorn does not write its own 500 afterwards.
    for _ in range(50):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)
    cycle.disconnected = True


class SandboxASGI:
    """Outermost layer: logs each marketplace call, applies the fault armed for it, if any."""

    def __init__(self, app: Any, marketplace: Marketplace, faults: FaultBook) -> None:
        self.app = app
        self.marketplace = marketplace
        self.faults = faults

    def __getattr__(self, name: str) -> Any:
        # Tests and tooling reach the FastAPI app's attributes (openapi(), state) through us.
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        operation, path_order = classify(method, path)
        try:
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            offset = 0
        fault = self.faults.take(method, path, operation, offset)
        call: dict[str, Any] = {
            "method": method, "path": path, "operation": operation,
            "order_ids": _order_ids(operation, path_order, query, body),
            "status": None, "fault": fault.kind if fault else None,
        }
        if fault:
            log.info("sandbox_fault_injected", kind=fault.kind, method=method, path=path)
        try:
            await self._serve(fault, scope, replay, send, call)
        finally:
            call["order_id"] = call["order_ids"][0] if call["order_ids"] else None
            self.marketplace.record_call(call)

    async def _serve(self, fault: Fault | None, scope: dict, receive: Any, send: Any,
                     call: dict[str, Any]) -> None:
        kind = fault.kind if fault else None
        if kind == "drop":
            await _drop_connection(send)
            return
        if kind in ("rate_limit", "error_500", "error_503"):
            assert fault is not None
            if kind == "rate_limit":
                messages = _error(429, "Too many requests, retry later",
                                  [(b"retry-after", str(fault.retry_after).encode())])
            else:
                status = 500 if kind == "error_500" else 503
                messages = _error(status, "Marketplace temporarily unavailable"
                                  if status == 503 else "Internal server error")
            for message in messages:
                await send(message)
            call["status"] = messages[0]["status"]
            return
        if kind == "duplicate_pages":
            scope[DUPLICATE_PAGES_FLAG] = True
        buffered: list[dict[str, Any]] = []
        hold = kind in ("slow", "drop_after_apply")

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                call["status"] = message["status"]
            if hold:
                buffered.append(message)
            else:
                await send(message)

        await self.app(scope, receive, capture)
        if kind == "drop_after_apply":
            await _drop_connection(send)
            return
        if kind == "slow":
            assert fault is not None
            await asyncio.sleep(fault.delay)
            for message in buffered:
                await send(message)


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
