"""RFC 9457 problem+json responses, and the one table that maps errors to HTTP statuses."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from eventsourcing.persistence import PersistenceError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.domain.errors import (
    DeadlinePassed,
    DomainError,
    InvalidStatus,
    OfferNotFound,
    OrderNotFound,
    RuleViolation,
    VersionConflict,
)

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


class ProblemError(Exception):
    """An HTTP-level problem raised by the API layer itself (headers, idempotency, ...)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
        self.rule = rule
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    rule: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field is not None:
        body["field"] = field
    if rule is not None:
        body["rule"] = rule
    if errors is None and field is not None and rule is not None:
        errors = [{"field": field, "rule": rule, "message": detail}]
    body["errors"] = errors or []
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        # Unions report one branch per type; the rule of the first is the one to show.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "constrained-"))))
        message = str(error.get("msg", "invalid value"))
        rule = str(error.get("type", "invalid"))
        if rule == "extra_forbidden":
            message = "unknown field"
        if rule == "json_invalid":
            # Its location is a character offset in the body, not a field.
            loc = ("body",)
        errors.append({"field": _field_path(loc), "rule": rule, "message": message})
    return errors


def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    if isinstance(exc, OrderNotFound):
        return problem_response(request, 404, "order-not-found", "Order not found", str(exc))
    if isinstance(exc, OfferNotFound):
        return problem_response(request, 404, "offer-not-found", "Offer not found", str(exc))
    if isinstance(exc, InvalidStatus):
        return problem_response(
            request,
            409,
            "invalid-status",
            "Command not allowed in this status",
            str(exc),
            field="status",
            rule="allowed_statuses",
            status_now=str(exc.status),
            allowed_statuses=[str(s) for s in exc.allowed],
        )
    if isinstance(exc, VersionConflict):
        return problem_response(
            request,
            412,
            "version-conflict",
            "It has changed since it was read",
            f"{exc}; read it again and retry with its current ETag",
            field="If-Match",
            rule="current_version",
            current_version=exc.actual,
        )
    if isinstance(exc, DeadlinePassed):
        return problem_response(
            request,
            409,
            "acceptance-deadline-passed",
            "Acceptance deadline passed",
            exc.message,
            field=exc.field,
            rule=exc.rule,
        )
    if isinstance(exc, RuleViolation):
        return problem_response(
            request,
            422,
            "rule-violation",
            "A business rule is broken",
            exc.message,
            field=exc.field,
            rule=exc.rule,
        )
    log.error("unmapped_domain_error", error=type(exc).__name__)
    return problem_response(request, 409, "conflict", "Conflict", str(exc))


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": "body", "rule": "invalid"}
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem_response(
            request,
            422,
            "invalid-request",
            "The request is invalid",
            detail or "invalid request",
            field=first["field"],
            rule=first["rule"],
            errors=errors,
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(request, exc)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            field=exc.field,
            rule=exc.rule,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slugs = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}
        slug = slugs.get(exc.status_code, f"http-{exc.status_code}")
        title = slug.replace("-", " ").capitalize()
        field = rule = None
        if exc.status_code == 413:
            field, rule = "body", "max_bytes"
        elif exc.status_code == 400:
            # FastAPI's answer to a body it cannot parse (too deeply nested, not UTF-8, ...).
            slug, title, field, rule = "invalid-request", "The request is invalid", "body", "json_invalid"
        return problem_response(
            request,
            exc.status_code,
            slug,
            title,
            str(exc.detail),
            field=field,
            rule=rule,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(PersistenceError)
    async def _store(request: Request, exc: PersistenceError) -> JSONResponse:
        log.error("store_unavailable", error=type(exc).__name__, path=request.url.path)
        return problem_response(
            request,
            503,
            "store-unavailable",
            "The store is unavailable",
            "the event store did not answer in time; retry later",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak internals: the log has the error type, the client a request id to quote.
        log.exception("unhandled_error", error=type(exc).__name__, path=request.url.path)
        return problem_response(
            request,
            500,
            "internal-error",
            "Internal error",
            "the service failed to handle this request; it was logged",
        )
