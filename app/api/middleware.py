"""ASGI middleware: request ids and logs, and the request body size limit."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("app.api.requests")


class _BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI lets HTTPExceptions through untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _problem_413(limit: int, path: str) -> bytes:
    return json.dumps(
        {
            "type": "/problems/body-too-large",
            "title": "Body too large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
            "instance": path,
            "field": "body",
            "rule": "max_bytes",
            "errors": [{"field": "body", "rule": "max_bytes", "message": f"at most {limit} bytes"}],
        }
    ).encode()


class RequestContextMiddleware:
    """Binds a request id (X-Request-ID or a new one), logs each request, limits body size."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")
        if not request_id or len(request_id) > 128 or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}
        path = scope.get("path", "")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._reject(send_with_id, path)
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge(self.max_body_bytes)
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                await self._reject(send_with_id, path)
        log.info(
            "request_handled",
            method=scope.get("method"),
            path=path,
            status=status["code"],
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def _reject(self, send: Send, path: str) -> None:
        body = _problem_413(self.max_body_bytes, path)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
