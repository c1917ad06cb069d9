"""Offer routes: one offer (PUT, GET, unpublish, promotion, history), the offer list, the
bulk upload of a source (CSV or JSON) and the integration reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from app.adapters.offer_source import SourceError, read_source
from app.api.auth import AUTH_PROBLEMS, AuthorisedRoute, requires
from app.api.commands import (
    Command,
    ExpectedVersionDep,
    IdempotencyKeyDep,
    OptionalIfMatchDep,
    parse_if_match,
    with_position,
)
from app.api.deps import IdempotencyStoreDep, OfferQueriesDep, OffersDep, SyncDep
from app.api.problems import ProblemError
from app.api.schemas import ActorPublic, from_epoch, problem_doc
from app.application.event_store import last_saved_position
from app.application.offer_feed import OfferFeed
from app.application.offers import BulkResult, OfferService
from app.domain.offer import MAX_AMOUNT, Offer
from app.domain.order import Channel
from app.ports.idempotency import IdempotencyClaim
from app.projections.offers import (
    OfferQueries,
    OfferRow,
    decode_cursor,
    encode_cursor,
    sync_state,
)

# The routes of a channel that are no offer: the SKU routes never match them, whatever the
# method, so that a GET of /v1/offers/laredoute/bulk is a 405 and not "no offer 'bulk'".
CHANNEL_ROUTES = ("bulk", "feed", "operations")


class _SkuConvertor(Convertor[str]):
    regex = rf"(?!(?:{'|'.join(CHANNEL_ROUTES)})(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("offer_sku", _SkuConvertor())

router = APIRouter(prefix="/v1/offers", tags=["offers"], responses=AUTH_PROBLEMS,
                   route_class=AuthorisedRoute)
reports = APIRouter(prefix="/v1/offer-reports", tags=["offers"], responses=AUTH_PROBLEMS,
                    route_class=AuthorisedRoute)
imports = APIRouter(prefix="/v1/offer-imports", tags=["offers"], responses=AUTH_PROBLEMS,
                    route_class=AuthorisedRoute)

SKU_PATTERN = rf"^(?!(?:{'|'.join(CHANNEL_ROUTES)})$)[^\s/]{{1,64}}$"
# One offer's path: /{channel}/{sku}, the SKU never one of CHANNEL_ROUTES.
OFFER = "/{channel}/{sku:offer_sku}"

_ETAG = {"ETag": {"description": 'The offer\'s version, e.g. "3"', "schema": {"type": "string"}}}
_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc("Malformed If-Match or Idempotency-Key header"),
    404: problem_doc("No offer has this SKU on this channel"),
    409: problem_doc("A request with the same Idempotency-Key is running"),
    412: problem_doc("If-Match does not name the offer's current version"),
    413: problem_doc("The body is too large"),
    422: problem_doc(
        "The body or the SKU is invalid (the problem names the field and the rule), or the "
        "Idempotency-Key was used for another request"
    ),
    428: problem_doc("If-Match is missing"),
}
_READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: problem_doc("No offer has this SKU on this channel"),
    422: problem_doc("Unknown channel, or a SKU that is not 1 to 64 characters without spaces"),
}

# ---------------------------------------------------------------- schemas


Scalar = str | int | float | bool | None


class OfferBody(BaseModel):
    """An offer's values, with the seller guide's names in the descriptions. Amounts are
    strings like "29.99" or numbers; a value that breaks a rule is kept, with its error."""

    model_config = ConfigDict(extra="forbid")
    ean: Scalar = Field(default=None, description="ProductIdentifier (EAN-13)")
    parent_sku: Scalar = Field(default=None, description="PartnerProductParent")
    price: Scalar = Field(default=None, description="SellingPriceAmount")
    crossed_price: Scalar = Field(default=None, description="PrixBarre (defaults to the price)")
    quantity: Scalar = Field(default=None, description="Stock; 0 unpublishes the offer")
    delivery_fee: Scalar = Field(default=None, description="DeliveryFee")
    shipment_delay: Scalar = Field(default=None, description="ShipmentDelay (days)")
    delivery_days_min: Scalar = Field(default=None, description="DeliveryDaysRangeMin")
    delivery_days_max: Scalar = Field(default=None, description="DeliveryDaysRangeMax")
    relay: Scalar = Field(default=None, description="DeliveryRelay")
    relay_fee: Scalar = Field(default=None, description="RelayFee")
    relay_delay: Scalar = Field(default=None, description="RelayDelay")
    relay_days_min: Scalar = Field(default=None, description="RelayDaysRangeMin")
    relay_days_max: Scalar = Field(default=None, description="RelayDaysRangeMax")
    eco_fee: Scalar = Field(default=None, description="SellingPriceWEEEFee (not in the price)")
    period_start: Scalar = Field(default=None, description="OfferPeriodStartDate, YYYY-MM-DDTHH:mm:ss")
    period_end: Scalar = Field(default=None, description="OfferPeriodEndDate, YYYY-MM-DDTHH:mm:ss")

    @field_validator("price", "crossed_price", "delivery_fee", "relay_fee", "eco_fee")
    @classmethod
    def _amount_in_range(cls, value: Scalar) -> Scalar:
        # An amount kept with a format error is fine; one no price could ever be is refused.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return value
        try:
            amount = Decimal(value.replace(",", ".") if isinstance(value, str) else str(value))
        except InvalidOperation:
            return value
        if amount.is_finite() and abs(amount) > MAX_AMOUNT:
            raise PydanticCustomError("amount_range", "an amount is at most {max} euros",
                                      {"max": str(MAX_AMOUNT)})
        return value


class PromotionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    price: str = Field(pattern=r"^\d{1,7}(\.\d{1,2})?$", description="The promotional SellingPriceAmount")
    crossed_price: str = Field(pattern=r"^\d{1,7}(\.\d{1,2})?$", description="PrixBarre")
    start: str | None = Field(default=None, description="YYYY-MM-DDTHH:mm:ss")
    end: str | None = Field(default=None, description="YYYY-MM-DDTHH:mm:ss")


class FieldErrorPublic(BaseModel):
    field: str
    rule: str
    message: str


# pending: changed since last sent; blocked: changed, but its errors keep it from being sent;
# sent: in an import still running; live / rejected: that import's outcome.
SyncState = Literal["pending", "blocked", "sent", "live", "rejected"]


class OfferPublic(BaseModel):
    id: UUID
    channel: str
    sku: str
    version: int
    published: bool
    valid: bool
    values: dict[str, Any]
    errors: list[FieldErrorPublic]
    promotion: dict[str, Any] | None
    operation: dict[str, Any] | None
    # Where the offer stands with the marketplace, as in the list: given on a read (GET),
    # None in the answer to a command.
    sync_state: SyncState | None = None
    marketplace_message: str | None = None

    @classmethod
    def read(cls, offer: Offer, sync: tuple[int, str, str | None] | None) -> OfferPublic:
        """The offer with its sync state; `sync` is its offer_sync row (None: never sent)."""
        sent_version, state, message = sync if sync is not None else (None, None, None)
        return cls.of(offer).model_copy(update={
            "sync_state": sync_state(offer.version, sent_version, state, bool(offer.errors)),
            "marketplace_message": message,
        })

    @classmethod
    def of(cls, offer: Offer) -> OfferPublic:
        return cls(
            id=offer.id, channel=offer.channel, sku=offer.sku, version=offer.version,
            published=offer.published, valid=offer.valid,
            values=json.loads(json.dumps(offer.values, default=str)),
            errors=[FieldErrorPublic(**e) for e in offer.errors],
            promotion=json.loads(json.dumps(offer.promotion, default=str)) if offer.promotion else None,
            operation=offer.operation,
        )


class OfferSummaryPublic(BaseModel):
    id: UUID
    channel: str
    sku: str
    version: int
    published: bool
    values: dict[str, Any]
    errors: list[FieldErrorPublic]
    promotion: dict[str, Any] | None
    sync_state: SyncState
    marketplace_message: str | None

    @classmethod
    def of(cls, row: OfferRow) -> OfferSummaryPublic:
        return cls(
            id=row.offer_id, channel=row.channel, sku=row.sku, version=row.version,
            published=bool(row.values.get("quantity")), values=row.values,
            errors=[FieldErrorPublic(**e) for e in row.errors], promotion=row.promotion,
            sync_state=row.sync_state,  # type: ignore[arg-type]
            marketplace_message=row.marketplace_message,
        )


class OfferListPublic(BaseModel):
    items: list[OfferSummaryPublic]
    next_cursor: str | None


class OfferEventPublic(BaseModel):
    type: str
    version: int
    timestamp: datetime
    actor: ActorPublic | None
    correlation_id: str | None
    data: dict[str, Any]


class OfferHistoryPublic(BaseModel):
    offer_id: UUID
    events: list[OfferEventPublic]


class RejectedRowPublic(BaseModel):
    line: int
    sku: str | None
    field: str
    rule: str
    message: str


class BulkResultPublic(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    unpublished: int
    invalid: int
    rejected: list[RejectedRowPublic]

    @classmethod
    def of(cls, result: BulkResult) -> BulkResultPublic:
        return cls(rows=result.rows, created=result.created, updated=result.updated,
                   unchanged=result.unchanged, unpublished=result.unpublished,
                   invalid=result.invalid,
                   rejected=[RejectedRowPublic(**vars(r)) for r in result.rejected])


class ReportLinePublic(BaseModel):
    channel: str
    sku: str
    errors: list[FieldErrorPublic]


class MarketplaceReportLinePublic(BaseModel):
    channel: str
    sku: str
    import_id: str | None
    message: str | None


# ---------------------------------------------------------------- helpers


def offer_response(offer: Offer, status_code: int = 200,
                   public: OfferPublic | None = None) -> Response:
    public = public or OfferPublic.of(offer)
    return Response(public.model_dump_json(), status_code=status_code,
                    media_type="application/json", headers={"ETag": f'"{offer.version}"'})


def offer_sku(
    sku: Annotated[str, Path(description="The offer's SKU (PartnerProductReference)",
                             json_schema_extra={"pattern": SKU_PATTERN})],
) -> str:
    if not sku or len(sku) > 64 or any(c.isspace() for c in sku):
        raise ProblemError(422, "invalid-request", "The request is invalid",
                           "sku is 1 to 64 characters without spaces", field="sku", rule="sku")
    return sku


SkuDep = Annotated[str, Depends(offer_sku)]


@dataclass(frozen=True)
class OfferCommand(Command):
    """A command on one offer, once per Idempotency-Key, answered with the offer."""

    offers: OfferService

    def on_offer(self, body: BaseModel | None,
                 action: Callable[[OfferService, IdempotencyClaim | None], Offer]) -> Response:
        return self.run(body, lambda claim: action(self.offers, claim), offer_response)


def offer_command(request: Request, offers: OffersDep, store: IdempotencyStoreDep,
                  key: IdempotencyKeyDep) -> OfferCommand:
    return OfferCommand(request, store, key, offers)


OfferCommandDep = Annotated[OfferCommand, Depends(offer_command)]


# ---------------------------------------------------------------- one offer


@router.put(
    OFFER,
    response_model=OfferPublic,
    dependencies=[requires("offers:write")],
    summary="Create or replace an offer's values (If-Match needed once it exists)",
    responses={200: {"description": "Updated", "headers": _ETAG},
               201: {"description": "Created", "headers": _ETAG}, **_WRITE_PROBLEMS},
)
def put_offer(
    channel: Channel, sku: SkuDep, body: OfferBody, command: OfferCommandDep,
    if_match: OptionalIfMatchDep,
) -> Response:
    exists = command.offers.find(channel.value, sku) is not None
    # A retry of a request already answered (the create included) gets its first answer back
    # from run_command; it needs no If-Match.
    retry = command.key is not None and command.store.get(command.key) is not None
    required = exists and not retry
    version = parse_if_match(if_match) if if_match is not None or required else None
    raw = body.model_dump(exclude_unset=False)
    return command.run(
        body,
        lambda claim: command.offers.put(channel.value, sku, raw, expected_version=version,
                                         idempotency=claim)[0],
        lambda offer: offer_response(offer, 200 if exists else 201),
    )


@router.get(
    OFFER,
    response_model=OfferPublic,
    dependencies=[requires("offers:read")],
    summary="The offer now, with its ETag",
    responses={200: {"headers": _ETAG, "description": "The offer"}, **_READ_PROBLEMS},
)
def get_offer(channel: Channel, sku: SkuDep, offers: OffersDep,
              queries: OfferQueriesDep) -> Response:
    offer = offers.get(channel.value, sku)
    return offer_response(offer,
                          public=OfferPublic.read(offer, queries.sync_of(channel.value, sku)))


@router.post(
    f"{OFFER}/unpublish",
    response_model=OfferPublic,
    dependencies=[requires("offers:write")],
    summary="Unpublish the offer: quantity 0 (it is kept)",
    responses={200: {"headers": _ETAG, "description": "The offer"}, **_WRITE_PROBLEMS},
)
def unpublish_offer(
    channel: Channel, sku: SkuDep, command: OfferCommandDep, version: ExpectedVersionDep,
) -> Response:
    return command.on_offer(None, lambda offers, claim: offers.unpublish(
        channel.value, sku, expected_version=version, idempotency=claim))


@router.put(
    f"{OFFER}/promotion",
    response_model=OfferPublic,
    dependencies=[requires("offers:write")],
    summary="Set a promotion: a promotional price against a crossed-out price, optional dates",
    responses={200: {"headers": _ETAG, "description": "The offer"}, **_WRITE_PROBLEMS},
)
def set_promotion(
    channel: Channel, sku: SkuDep, body: PromotionBody, command: OfferCommandDep,
    version: ExpectedVersionDep,
) -> Response:
    return command.on_offer(body, lambda offers, claim: offers.set_promotion(
        channel.value, sku, price=Decimal(body.price),
        crossed_price=Decimal(body.crossed_price), start=body.start, end=body.end,
        expected_version=version, idempotency=claim))


@router.delete(
    f"{OFFER}/promotion",
    response_model=OfferPublic,
    dependencies=[requires("offers:write")],
    summary="End the offer's promotion",
    responses={200: {"headers": _ETAG, "description": "The offer"}, **_WRITE_PROBLEMS},
)
def end_promotion(
    channel: Channel, sku: SkuDep, command: OfferCommandDep, version: ExpectedVersionDep,
) -> Response:
    return command.on_offer(None, lambda offers, claim: offers.end_promotion(
        channel.value, sku, expected_version=version, idempotency=claim))


@router.get(
    f"{OFFER}/events",
    response_model=OfferHistoryPublic,
    dependencies=[requires("offers:history")],
    summary="The offer's whole history, oldest first",
    responses=_READ_PROBLEMS,
)
def offer_events(channel: Channel, sku: SkuDep, offers: OffersDep) -> OfferHistoryPublic:
    offer = offers.get(channel.value, sku)
    return OfferHistoryPublic(
        offer_id=offer.id,
        events=[
            OfferEventPublic(type=e.type, version=e.version, timestamp=e.timestamp,
                             actor=ActorPublic(**e.actor) if e.actor else None,
                             correlation_id=e.correlation_id,
                             data=json.loads(json.dumps(e.data, default=str)))
            for e in offers.history(channel.value, sku)
        ],
    )


# ---------------------------------------------------------------- many offers


@router.get(
    "",
    response_model=OfferListPublic,
    dependencies=[requires("offers:read")],
    summary="Offers by channel and SKU, with filters; keyset pagination",
    responses={422: problem_doc("A query parameter is invalid: the problem names it")},
)
def list_offers(
    queries: OfferQueriesDep,
    channel: Channel | None = None,
    published: bool | None = None,
    has_errors: bool | None = None,
    sync_state: SyncState | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OfferListPublic:
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise ProblemError(422, "invalid-request", "The request is invalid", str(exc),
                           field="cursor", rule="cursor") from None
    rows = queries.list(
        channel=channel.value if channel else None, published=published, has_errors=has_errors,
        sync=sync_state, q=q, after=after, limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return OfferListPublic(
        items=[OfferSummaryPublic.of(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].channel, rows[-1].sku) if more else None,
    )


_SOURCE_ROW = {
    "type": "object",
    "description": "One offer: sku (or PartnerProductReference) and the values of OfferBody, "
    "named as there or as in the seller guide; other names are ignored, a value that cannot "
    "be read is kept with its error, and a row without a SKU or with a SKU given twice is "
    "rejected",
}


@router.post(
    "/{channel}/bulk",
    response_model=BulkResultPublic,
    dependencies=[requires("offers:write")],
    summary="Upsert offers from the merchant's source (text/csv or application/json)",
    description="CSV with a header line (`;` or `,`), columns named as the seller guide "
    "(PartnerProductReference, ProductIdentifier, SellingPriceAmount, PrixBarre, quantity, "
    "DeliveryFee, ...) or as this API (sku, ean, price, ...); or a JSON array of objects. "
    "mode=full: offers of the channel missing from the source are set to quantity 0 (kept as "
    "virtual products); mode=partial (default) leaves them alone. The same source twice "
    "changes nothing. A row that cannot be taken is listed in `rejected`; the others are "
    "imported.",
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": _SOURCE_ROW}},
    }}},
    responses={413: problem_doc("The body is too large"),
               415: problem_doc("The body is neither text/csv nor application/json"),
               422: problem_doc("The body cannot be read: the problem says where")},
)
async def bulk_upsert(
    channel: Channel, request: Request, offers: OffersDep,
    mode: Literal["full", "partial"] = "partial",
) -> Response:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    rows = parse_source(body, content_type)

    def upsert() -> tuple[BulkResult, int | None]:
        # The worker thread runs in a copy of this context: bring its log position back.
        last_saved_position.set(None)
        result = offers.upsert_many(channel.value, rows, full=mode == "full")
        return result, last_saved_position.get()

    result, position = await run_in_threadpool(upsert)
    last_saved_position.set(position)
    return with_position(Response(BulkResultPublic.of(result).model_dump_json(),
                                  media_type="application/json"))


def parse_source(body: bytes, content_type: str) -> list[dict[str, Any]]:
    try:
        return read_source(body, content_type)
    except SourceError as exc:
        status = 415 if exc.rule == "csv_or_json" else 422
        raise ProblemError(status, "unsupported-media-type" if status == 415 else "invalid-request",
                           "The source cannot be read", str(exc), field=exc.field,
                           rule=exc.rule) from None


# ---------------------------------------------------------------- reports


@reports.get(
    "/offers",
    response_model=list[ReportLinePublic],
    dependencies=[requires("offers:read")],
    summary="Integration report 'offers': our validation errors, per offer",
    responses={422: problem_doc("Unknown channel")},
)
def report_offers(
    queries: OfferQueriesDep, channel: Channel | None = None
) -> list[ReportLinePublic]:
    return [ReportLinePublic(channel=r.channel, sku=r.sku,
                             errors=[FieldErrorPublic(**e) for e in r.errors])
            for r in _all(queries, channel, has_errors=True)]


@reports.get(
    "/offers_laredoute",
    response_model=list[MarketplaceReportLinePublic],
    dependencies=[requires("offers:read")],
    summary="Integration report 'offers_laredoute': the marketplace's error per offer",
    responses={422: problem_doc("Unknown channel")},
)
def report_offers_laredoute(
    queries: OfferQueriesDep, channel: Channel | None = None
) -> list[MarketplaceReportLinePublic]:
    return [MarketplaceReportLinePublic(channel=r.channel, sku=r.sku, import_id=r.import_id,
                                        message=r.marketplace_message)
            for r in _all(queries, channel, sync="rejected")]


def _all(queries: OfferQueries, channel: Channel | None, **filters: Any) -> list[OfferRow]:
    rows: list[OfferRow] = []
    after = None
    while True:
        page = queries.list(channel=channel.value if channel else None, after=after,
                                      limit=1000, **filters)
        rows.extend(page)
        if len(page) < 1000:
            return rows
        after = (page[-1].channel, page[-1].sku)


# ---------------------------------------------------------------- feed and operations


class OperationBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=64, description="The operation, e.g. 'Black Friday'")
    skus: list[str] = Field(min_length=1, max_length=10_000,
                            description="The segment of offers to send ahead of it")


class OperationPublic(BaseModel):
    operation: str
    batch_id: str = Field(description="The marketplace's import id (OF01) of the segment")


class FeedRoundPublic(BaseModel):
    sent: str | None = Field(description="The import id of the file sent, if any")
    offers: int
    completed: list[str]
    failed: list[str]
    running: list[str]
    error: str | None


class OfferImportPublic(BaseModel):
    channel: str
    import_id: str
    reason: str
    operation: str | None
    state: str
    offers: int
    lines_in_error: int | None
    message: str | None
    created_at: datetime
    finished_at: datetime | None


def channel_feed(channel: Channel, sync: SyncDep) -> OfferFeed:
    """The channel's offer feed; a 409 problem when the channel has no marketplace settings."""
    feed = sync.feeds.get(channel.value) if sync is not None else None
    if feed is None:
        raise ProblemError(409, "channel-not-configured", "The channel is not configured",
                           f"{channel.value} has no marketplace settings (OMS_{channel.name}_*)",
                           field="channel", rule="configured")
    return feed


FeedDep = Annotated[OfferFeed, Depends(channel_feed)]


@router.post(
    "/{channel}/operations",
    response_model=OperationPublic,
    status_code=201,
    dependencies=[requires("offers:write")],
    summary="Send a segment of offers now, ahead of a special operation",
    responses={404: problem_doc("One of the SKUs is no offer of the channel"),
               409: problem_doc("The channel is not configured, or its feed is busy"),
               422: problem_doc("Invalid body, or every offer asked for has errors"),
               502: problem_doc("The marketplace refused or did not answer")},
)
def send_operation(body: OperationBody, feed: FeedDep) -> OperationPublic:
    return OperationPublic(operation=body.name, batch_id=feed.send_operation(body.skus, body.name))


@router.post(
    "/{channel}/feed",
    response_model=FeedRoundPublic,
    dependencies=[requires("offers:write")],
    summary="Send the channel's pending offers now, whatever the hour",
    responses={409: problem_doc("The channel is not configured, or its feed is busy"),
               422: problem_doc("Unknown channel"),
               502: problem_doc("The marketplace refused or did not answer")},
)
def send_feed(feed: FeedDep) -> FeedRoundPublic:
    done = feed.send_now()
    return FeedRoundPublic(sent=done.sent, offers=done.offers, completed=done.completed,
                           failed=done.failed, running=done.running, error=done.error)


@imports.get(
    "/{channel}",
    response_model=list[OfferImportPublic],
    dependencies=[requires("offers:read")],
    summary="The channel's offer imports (OF01), newest first, and how they ended",
    responses={409: problem_doc("The channel is not configured"),
               422: problem_doc("Unknown channel, or a query parameter out of range")},
)
def list_imports(
    feed: FeedDep,
    state: Literal["running", "complete", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OfferImportPublic]:
    return [OfferImportPublic(
        channel=r.channel, import_id=r.import_id, reason=r.reason, operation=r.operation,
        state=r.state, offers=r.offers, lines_in_error=r.lines_in_error, message=r.message,
        created_at=from_epoch(r.created_at),  # type: ignore[arg-type]
        finished_at=from_epoch(r.finished_at),
    ) for r in feed.imports(limit=limit, state=state)]
