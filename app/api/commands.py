"""What every command route shares: If-Match, Idempotency-Key and the order response."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from app.adapters.idempotency import IdempotencyStore
from app.api.problems import ProblemError, domain_problem
from app.api.schemas import OrderPublic
from app.application.event_store import last_saved_position
from app.application.orders import OrderService
from app.domain.errors import DomainError, VersionConflict
from app.domain.order import Order
from app.ports.idempotency import CommandRecord, IdempotencyClaim

_ETAG = re.compile(r'^\s*"(\d{1,12})"\s*$|^\s*(\d{1,12})\s*$')
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
POSITION_HEADER = "X-Event-Position"


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
            'commands need an If-Match header with the ETag last read, e.g. If-Match: "3"',
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


def order_response(order: Order, status_code: int = 200, **headers: str) -> Response:
    return Response(
        OrderPublic.of(order).model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": f'"{order.version}"', **headers},
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
    action: Callable[[IdempotencyClaim | None], Any],
    respond: Callable[[Any], Response] = order_response,
) -> Response:
    """Run a command once per Idempotency-Key; a retry gets the first answer back.

    The command's record (the aggregate and the version it reached) is stored with its events,
    in one transaction; a refusal is stored on its own. A retry rebuilds the answer from the
    record: the aggregate as it was at that version. A version conflict is not remembered: the
    client re-reads and retries with the same key.
    """
    last_saved_position.set(None)
    if key is None:
        return with_position(respond(action(None)))
    claim = IdempotencyClaim(key, fingerprint(request, body))
    known = store.get(key)
    if known is not None:
        return _replay(request, known, claim, respond)
    try:
        result = action(claim)
    except VersionConflict:
        # Lost a race: maybe to a retry of this very request, whose record is now stored.
        known = store.get(key)
        if known is not None:
            return _replay(request, known, claim, respond)
        raise
    except DomainError as exc:
        refusal = domain_problem(request, exc)
        record = claim.refused({"status": refusal.status_code,
                                "problem": json.loads(bytes(refusal.body))})
        if not store.put(record):
            return _replay(request, store.get(key), claim, respond)
        return refusal
    return with_position(respond(result))


def with_position(response: Response) -> Response:
    """Tell the client where its write is in the log, for read-your-writes on the lists."""
    position = last_saved_position.get()
    if position is not None:
        response.headers[POSITION_HEADER] = str(position)
    return response


def _replay(request: Request, record: CommandRecord | None, claim: IdempotencyClaim,
            respond: Callable[[Any], Response]) -> Response:
    if record is None or record.request_hash != claim.request_hash:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for another request; use a new key",
            field="Idempotency-Key",
            rule="same_request",
        )
    if record.outcome == "refused":
        refusal = record.refusal or {}
        response: Response = Response(
            json.dumps(refusal.get("problem", {})),
            status_code=int(refusal.get("status", 409)),
            media_type="application/problem+json",
        )
    else:
        aggregate = request.app.state.service.store.repository.get(
            record.aggregate_id, version=record.aggregate_version
        )
        response = respond(aggregate)
        if record.outcome == "created":
            response.status_code = 201
    response.headers["Idempotent-Replayed"] = "true"
    return response
