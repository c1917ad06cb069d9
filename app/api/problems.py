"""RFC 9457 problem+json responses, and the one table that maps errors to HTTP statuses."""

from __future__ import annotations

import re
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.application.offer_feed import FeedBusy, NothingToSend
from app.domain.errors import (
    DeadlinePassed,
    DomainError,
    InvalidStatus,
    OfferNotFound,
    OrderNotFound,
    RuleViolation,
    VersionConflict,
)
from app.ports.marketplace import MarketplaceError, UpstreamRefused, UpstreamUnavailable

try:  # FastAPI 0.160+ resolves included routers lazily, one context per route
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists its routes directly
    iter_route_contexts = None

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


def problem_document(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str,
    field: str | None = None,
    rule: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem as JSON: what every error answer of the API is, middlewares' included."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if field is not None:
        body["field"] = field
    if rule is not None:
        body["rule"] = rule
    if errors is None and field is not None and rule is not None:
        errors = [{"field": field, "rule": rule, "message": detail}]
    body["errors"] = errors or []
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


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
    body = problem_document(status, slug, title, detail, instance=request.url.path, field=field,
                            rule=rule, errors=errors, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


MALFORMED_JSON = "malformed JSON body"


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
            message = MALFORMED_JSON
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
    if isinstance(exc, NothingToSend):
        return problem_response(request, 422, "rule-violation", "Nothing to send", str(exc),
                                field="skus", rule="valid_offers")
    if isinstance(exc, FeedBusy):
        return problem_response(request, 409, "feed-busy", "The feed is busy", str(exc),
                                field="channel", rule="one_feed_at_a_time")
    if isinstance(exc, RuleViolation):
        return problem_response(
            request,
            422,
            "rule-violation",
            "A business rule is broken",
            exc.message,
            field=exc.field,
            rule=exc.rule,
            valid_codes=getattr(exc, "valid_codes", None),
        )
    log.error("unmapped_domain_error", error=type(exc).__name__)
    return problem_response(request, 409, "conflict", "Conflict", str(exc))


def problem_of(request: Request, exc: ProblemError) -> JSONResponse:
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


def precondition_required() -> ProblemError:
    return ProblemError(
        428,
        "precondition-required",
        "If-Match required",
        'commands need an If-Match header with the ETag last read, e.g. If-Match: "3"',
        field="If-Match",
        rule="required",
    )


def _missing_if_match(exc: RequestValidationError) -> bool:
    return any(
        tuple(error.get("loc", ())) == ("header", "If-Match") and error.get("type") == "missing"
        for error in exc.errors()
    )


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, for the Allow header of a 405."""
    routes: Any = (
        iter_route_contexts(request.app.routes) if iter_route_contexts else request.app.routes
    )
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in routes:
        route_path, route_methods = getattr(route, "path", None), getattr(route, "methods", None)
        if route_path and route_methods and _path_regex(route_path).match(path):
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


_PATH_REGEXES: dict[str, re.Pattern[str]] = {}


def _path_regex(path: str) -> re.Pattern[str]:
    regex = _PATH_REGEXES.get(path)
    if regex is None:
        regex = _PATH_REGEXES[path] = compile_path(path)[0]
    return regex


def marketplace_problem(request: Request, exc: MarketplaceError) -> JSONResponse:
    headers: dict[str, str] = {}
    title = "The marketplace did not take it"
    if isinstance(exc, UpstreamUnavailable):
        title = "The marketplace did not answer"
        if exc.retry_after:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    elif isinstance(exc, UpstreamRefused):
        title = "The marketplace refused it"
    return problem_response(request, 502, "upstream-error", title, str(exc), field="marketplace",
                            rule="upstream", headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """The one table from errors to problems. An error no handler takes is answered 500 by
    RequestContextMiddleware, which logs it."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _missing_if_match(exc):
            return problem_of(request, precondition_required())
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

    @app.exception_handler(MarketplaceError)
    async def _marketplace(request: Request, exc: MarketplaceError) -> JSONResponse:
        return marketplace_problem(request, exc)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_of(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        slugs = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}
        slug = slugs.get(status, f"http-{status}")
        title = slug.replace("-", " ").capitalize()
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        field = rule = None
        errors: list[dict[str, str]] | None = None
        if status == 413:
            field, rule = "body", "max_bytes"
        elif status == 405:
            # The route that answers lists only its own methods; the path may have others.
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        elif status == 400:
            # FastAPI's answer to a body it cannot parse (not UTF-8, too deeply nested, ...):
            # the same problem as a body that is not JSON at all.
            status, slug, title = 422, "invalid-request", "The request is invalid"
            detail = f"body: {MALFORMED_JSON}"
            field, rule = "body", "json_invalid"
            errors = [{"field": field, "rule": rule, "message": MALFORMED_JSON}]
        return problem_response(
            request, status, slug, title, detail, field=field, rule=rule, errors=errors,
            headers=headers,
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
