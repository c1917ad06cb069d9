"""ASGI middleware: request ids and logs, the request body size limit, and the answer to an
error nothing else handled."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.tracebacks import ExceptionDictTransformer

from app.api.problems import PROBLEM_MEDIA_TYPE, problem_document
from app.metrics import observe_request

log = structlog.get_logger("app.api.requests")

# Frames and messages only: locals may hold customer data or keys.
_structured_exception = ExceptionDictTransformer(show_locals=False)


class _BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI lets HTTPExceptions through untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _problem_413(limit: int, path: str) -> dict[str, Any]:
    return problem_document(
        413, "body-too-large", "Body too large", f"the request body is larger than {limit} bytes",
        instance=path, field="body", rule="max_bytes",
        errors=[{"field": "body", "rule": "max_bytes", "message": f"at most {limit} bytes"}],
    )


def _problem_500(path: str) -> dict[str, Any]:
    # Never leak internals: the log has the error, the client a request id to quote.
    return problem_document(
        500, "internal-error", "Internal error",
        "the service failed to handle this request; it was logged", instance=path,
    )


class RequestContextMiddleware:
    """Binds a request id (X-Request-ID or a new one) and answers with it, logs each request
    once, limits body size, and answers 500 with a problem for an error nothing handled."""

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
        status: dict[str, Any] = {"code": 500, "sent": False}
        path = scope.get("path", "")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        failure: Exception | None = None
        try:
            declared = headers.get("content-length")
            if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_body_bytes
            ):
                await _send_problem(send_with_id, _problem_413(self.max_body_bytes, path))
            else:
                await self._call(scope, receive, send_with_id, path)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the client gets a problem
            failure = exc
            if not status["sent"]:
                await _send_problem(send_with_id, _problem_500(path))
        finally:
            elapsed = time.perf_counter() - started
            fields: dict[str, Any] = {
                "method": scope.get("method"),
                "path": path,
                "status": status["code"],
                "duration_ms": round(elapsed * 1000, 2),
            }
            observe_request(route_template(scope), str(scope.get("method")), status["code"],
                            elapsed)
            if failure is None:
                log.info("request_handled", **fields)
            else:
                log.error(
                    "request_handled",
                    **fields,
                    error=type(failure).__name__,
                    # Not `exception`: the console renderer takes that one for text.
                    traceback=_structured_exception(
                        (type(failure), failure, failure.__traceback__)
                    ),
                )

    async def _call(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
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
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _send_problem(send, _problem_413(self.max_body_bytes, path))


def route_template(scope: Scope) -> str:
    """The path template of the route that answered ("/v1/orders/{order_id}"), never the path
    itself (its ids would make a series per order); "unmatched" when no route was reached (an
    unknown path, or a request refused before routing: no key, rate limit, body too large)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "unmatched"


async def _send_problem(send: Send, problem: dict[str, Any]) -> None:
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem["status"],
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
