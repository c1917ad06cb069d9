"""What every command route shares: If-Match, Idempotency-Key and the order response."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from app.adapters.idempotency import IdempotencyRecord, IdempotencyStore
from app.api.problems import ProblemError, domain_problem
from app.api.schemas import OrderPublic
from app.application import OrderService, Receipt, last_saved_position
from app.domain.errors import DomainError, VersionConflict
from app.domain.order import Order

_ETAG = re.compile(r'^\s*"(\d{1,12})"\s*$|^\s*(\d{1,12})\s*$')
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
POSITION_HEADER = "X-Event-Position"
_REPLAYED_HEADERS = ("etag", "location", "content-type")


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
    action: Callable[[Receipt], Any],
    respond: Callable[[Any], Response] = order_response,
) -> Response:
    """Run a command once per Idempotency-Key; a retry gets the first answer back.

    The answer of a command that changed the order is stored with its events, in one
    transaction. A refusal is stored on its own. A version conflict is not remembered: the
    client re-reads the order and retries with the same key.
    """
    last_saved_position.set(None)
    if key is None:
        return with_position(respond(action(None)))
    request_hash = fingerprint(request, body)
    known = store.get(key)
    if known is not None:
        return _replay(known, request_hash)
    answered: list[Response] = []

    def receipt(aggregate: Any) -> IdempotencyRecord:
        response = respond(aggregate)
        answered.append(response)
        return _record(key, request_hash, response)

    try:
        result = action(receipt)
    except VersionConflict:
        # Lost a race: maybe to a retry of this very request, whose answer is now stored.
        known = store.get(key)
        if known is not None:
            return _replay(known, request_hash)
        raise
    except DomainError as exc:
        refusal = domain_problem(request, exc)
        if not store.put(_record(key, request_hash, refusal)):
            return _replay(store.get(key), request_hash)
        return refusal
    if not answered:  # nothing to store: the command changed nothing
        return with_position(respond(result))
    return with_position(answered[-1])


def with_position(response: Response) -> Response:
    """Tell the client where its write is in the log, for read-your-writes on the lists."""
    position = last_saved_position.get()
    if position is not None:
        response.headers[POSITION_HEADER] = str(position)
    return response


def _record(key: str, request_hash: str, response: Response) -> IdempotencyRecord:
    headers = {name: value for name, value in response.headers.items() if name in _REPLAYED_HEADERS}
    return IdempotencyRecord(key, request_hash, response.status_code, bytes(response.body), headers)


def _replay(record: IdempotencyRecord | None, request_hash: str) -> Response:
    if record is None or record.request_hash != request_hash:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for another request; use a new key",
            field="Idempotency-Key",
            rule="same_request",
        )
    return Response(
        record.body,
        status_code=record.status_code,
        headers={**record.headers, "Idempotent-Replayed": "true"},
    )
