"""What every command route shares: If-Match, Idempotency-Key and the order response."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.adapters.idempotency import (
    Claimed,
    IdempotencyStore,
    InProgress,
    Mismatch,
    Replay,
    StoredResponse,
)
from app.api.problems import ProblemError, domain_problem
from app.api.schemas import OrderPublic
from app.application import OrderService
from app.domain.errors import DomainError, VersionConflict
from app.domain.order import Order

_ETAG = re.compile(r'^\s*"(\d{1,12})"\s*$|^\s*(\d{1,12})\s*$')
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("etag", "location")


def get_service(request: Request) -> OrderService:
    return request.app.state.service


def get_idempotency_store(request: Request) -> IdempotencyStore:
    return request.app.state.idempotency


ServiceDep = Annotated[OrderService, Depends(get_service)]
IdempotencyStoreDep = Annotated[IdempotencyStore, Depends(get_idempotency_store)]


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The order\'s current ETag, e.g. "3" (or * for any version)',
        ),
    ] = None,
) -> int | None:
    """The version the client last saw; None for `*`."""
    if if_match is None:
        raise ProblemError(
            428,
            "precondition-required",
            "If-Match required",
            'commands need an If-Match header with the order\'s ETag, e.g. If-Match: "3"',
            field="If-Match",
            rule="required",
        )
    if if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if match is None:
        raise ProblemError(
            400,
            "invalid-header",
            "Malformed If-Match",
            'If-Match must be an ETag such as "3"',
            field="If-Match",
            rule="etag_format",
        )
    return int(match.group(1) or match.group(2))


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string (up to 255 printable characters): a retry with the "
            "same key and body returns the first response and changes nothing",
        ),
    ] = None,
) -> str | None:
    if key is not None and not _KEY.match(key):
        raise ProblemError(
            400,
            "invalid-header",
            "Malformed Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            field="Idempotency-Key",
            rule="key_format",
        )
    return key


ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


def order_response(order: Order, status_code: int = 200, **headers: str) -> JSONResponse:
    body = OrderPublic.of(order).model_dump(mode="json")
    return JSONResponse(
        body, status_code=status_code, headers={"ETag": f'"{order.version}"', **headers}
    )


def fingerprint(request: Request, body: BaseModel | None) -> str:
    payload = body.model_dump(mode="json") if body is not None else None
    raw = json.dumps(
        [request.method, request.url.path, payload], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def run_command(
    request: Request,
    store: IdempotencyStore,
    key: str | None,
    body: BaseModel | None,
    action: Callable[[], JSONResponse],
) -> JSONResponse:
    """Run a command once per Idempotency-Key; a retry gets the first answer back."""
    if key is None:
        return action()
    claim = store.claim(key, fingerprint(request, body))
    if isinstance(claim, Replay):
        stored = claim.response
        return JSONResponse(
            stored.body,
            status_code=stored.status_code,
            headers={**stored.headers, "Idempotent-Replayed": "true"},
            media_type=stored.headers.get("content-type", "application/json"),
        )
    if isinstance(claim, Mismatch):
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for another request; use a new key",
            field="Idempotency-Key",
            rule="same_request",
        )
    if isinstance(claim, InProgress):
        raise ProblemError(
            409,
            "idempotency-key-in-use",
            "Request in progress",
            "a request with this Idempotency-Key is still running; retry shortly",
            field="Idempotency-Key",
            rule="one_at_a_time",
            headers={"Retry-After": "1"},
        )
    assert isinstance(claim, Claimed)
    try:
        response = action()
    except VersionConflict:
        # Not an answer to remember: the client re-reads and retries with the same key.
        store.release(key)
        raise
    except DomainError as exc:
        response = domain_problem(request, exc)
    except BaseException:
        store.release(key)
        raise
    store.complete(key, _stored(response))
    return response


def _stored(response: JSONResponse) -> StoredResponse:
    headers: dict[str, Any] = {
        name: value for name, value in response.headers.items() if name in _REPLAYED_HEADERS
    }
    headers["content-type"] = response.media_type or "application/json"
    return StoredResponse(response.status_code, json.loads(bytes(response.body)), headers)
