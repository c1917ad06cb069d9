"""What every command route shares: If-Match, Idempotency-Key, running the command once per
key, and the order response."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from app.adapters.idempotency import IdempotencyStore
from app.api.deps import IdempotencyStoreDep, ServiceDep, get_service
from app.api.metrics import counted_command
from app.api.problems import ProblemError, domain_problem, precondition_required
from app.api.schemas import OrderPublic
from app.application.event_store import last_saved_position
from app.application.orders import OrderService
from app.domain.errors import DomainError, VersionConflict
from app.domain.order import Order
from app.ports.idempotency import CommandRecord, IdempotencyClaim

_ETAG = re.compile(r'^\s*"(\d{1,12})"\s*$|^\s*(\d{1,12})\s*$')
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# What the document promises; the server also takes spaces around an ETag.
ETAG_PATTERN = r'^(\*|"[0-9]{1,12}"|[0-9]{1,12})$'
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
POSITION_HEADER = "X-Event-Position"

_IF_MATCH_DOC = (
    'The ETag last read, e.g. "3", or * for any version. Without it the command is refused '
    "with 428; in another format, with 400; if the version has changed since, with 412."
)
_KEY_DOC = (
    "Any unique string of 1 to 255 printable ASCII characters without spaces (else 400). A "
    "retry with the same key and the same request gets the first answer back (with "
    "Idempotent-Replayed: true) and changes nothing; the same key with another request is "
    "refused with 422 (/problems/idempotency-key-reused)."
)


def parse_if_match(if_match: str | None) -> int | None:
    """The version the client last saw; None for `*`."""
    if if_match is None:
        raise precondition_required()
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


def expected_version(
    if_match: Annotated[
        str,
        Header(alias="If-Match", description=_IF_MATCH_DOC,
               json_schema_extra={"pattern": ETAG_PATTERN}),
    ],
) -> int | None:
    """The If-Match of a command that always needs one (428 when missing)."""
    return parse_if_match(if_match)


def optional_if_match(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description=_IF_MATCH_DOC,
               json_schema_extra={"pattern": ETAG_PATTERN}),
    ] = None,
) -> str | None:
    """The If-Match of a command that needs one only sometimes, as sent."""
    return if_match


def idempotency_key(
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description=_KEY_DOC,
               json_schema_extra={"pattern": KEY_PATTERN}),
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
OptionalIfMatchDep = Annotated[str | None, Depends(optional_if_match)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


@dataclass(frozen=True)
class Command:
    """What a command request brings besides its body: its Idempotency-Key, and the store
    that remembers the keys' answers."""

    request: Request
    store: IdempotencyStore
    key: str | None

    def run(
        self,
        body: BaseModel | None,
        action: Callable[[IdempotencyClaim | None], Any],
        respond: Callable[[Any], Response] | None = None,
    ) -> Response:
        return counted_command(self.request, lambda: run_command(
            self.request, self.store, self.key, body, action, respond or order_response,
            look_up_first=self.look_up_first))

    @property
    def look_up_first(self) -> bool:
        """Whether the key's record is read before the command runs (see `run_command`)."""
        return True


@dataclass(frozen=True)
class OrderCommand(Command):
    """A command on one order: the service, and the version the client expects (If-Match)."""

    service: OrderService
    version: int | None

    @property
    def look_up_first(self) -> bool:
        # With a version to expect, a command whose key is known cannot write: the order has
        # moved on since (VersionConflict), or the key's record is refused in the same
        # transaction as the events; either way the record is read then and answered.
        return self.version is None


def order_command(
    request: Request,
    service: ServiceDep,
    store: IdempotencyStoreDep,
    version: ExpectedVersionDep,
    key: IdempotencyKeyDep,
) -> OrderCommand:
    return OrderCommand(request, store, key, service, version)


OrderCommandDep = Annotated[OrderCommand, Depends(order_command)]


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
    *,
    look_up_first: bool = True,
) -> Response:
    """Run a command once per Idempotency-Key; a retry gets the first answer back.

    The command's record (the aggregate and the version it reached) is stored with its events,
    in one transaction; a refusal is stored on its own. A retry rebuilds the answer from the
    record: the aggregate as it was at that version. A version conflict is not remembered: the
    client re-reads and retries with the same key.

    Without `look_up_first` the key's record is not read before the command runs, saving a
    round trip on every first attempt; only for commands that can write nothing when their key
    is taken (their record is written with their events, and a key already stored makes that
    write fail as a version conflict): a retry then finds the record after the conflict, or
    after its refusal is not stored, and gets the first answer back all the same.
    """
    last_saved_position.set(None)
    if key is None:
        return with_position(respond(action(None)))
    claim = IdempotencyClaim(key, fingerprint(request, body))
    if look_up_first:
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
        aggregate = get_service(request).store.repository.get(
            record.aggregate_id, version=record.aggregate_version
        )
        response = respond(aggregate)
        if record.outcome == "created":
            response.status_code = 201
    response.headers["Idempotent-Replayed"] = "true"
    return response
