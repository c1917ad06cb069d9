"""The Mirakl seller API subset, under /api: thin routes over Marketplace.

Field names, status codes and bodies follow the published spec; business refusals come back as
Mirakl error bodies ({"status", "message", "code"}) raised by the Marketplace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox.catalog import CARRIERS, REASONS
from sandbox.config import ShopConfig
from sandbox.errors import MiraklError
from sandbox.faults import DUPLICATE_PAGES_FLAG
from sandbox.marketplace import Marketplace
from sandbox.money_checks import coded_amounts
from sandbox.offers import IMPORT_MODES, OfferQuery
from sandbox.order_actions import CancelRequest
from sandbox.order_store import OrderQuery
from sandbox.refunds import RefundRequest

MAX_PAGE = 100

router = APIRouter(prefix="/api", tags=["Mirakl seller API"])


def get_marketplace(request: Request) -> Marketplace:
    return request.app.state.marketplace


MarketplaceDep = Annotated[Marketplace, Depends(get_marketplace)]


def current_shop(
    marketplace: MarketplaceDep,
    authorization: Annotated[str | None, Header(description="The shop's API key, raw")] = None,
    shop_id: Annotated[int | None, Query(description="Must be the key's own shop")] = None,
) -> ShopConfig:
    """Mirakl auth: the raw shop API key in Authorization; a key opens only its own shop."""
    shop = marketplace.shop_for_key(authorization)
    if shop is None:
        raise MiraklError(401, "Unauthorized: missing or unknown API key")
    if shop_id is not None and shop_id != shop.shop_id:
        raise MiraklError(401, f"Unauthorized: this API key gives no access to shop {shop_id}")
    return shop


ShopDep = Annotated[ShopConfig, Depends(current_shop)]
Money = Annotated[Decimal, Field(ge=0, decimal_places=2)]


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _csv(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/orders", operation_id="OR11", summary="OR11 - List orders with pagination")
def list_orders(
    request: Request,
    shop: ShopDep,
    marketplace: MarketplaceDep,
    order_ids: str | None = None,
    order_state_codes: str | None = None,
    channel_codes: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    start_update_date: datetime | None = None,
    end_update_date: datetime | None = None,
    max_: Annotated[int, Query(alias="max", ge=1, description="Page size, at most 100")] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Literal["dateCreated"] = "dateCreated",
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    """Sorted by created date, then order id; dates in filters are inclusive."""
    query = OrderQuery(
        order_ids=_csv(order_ids),
        states=_csv(order_state_codes),
        channels=_csv(channel_codes),
        start_date=_utc(start_date),
        end_date=_utc(end_date),
        start_update_date=_utc(start_update_date),
        end_update_date=_utc(end_update_date),
        max=min(max_, MAX_PAGE),
        offset=offset,
        descending=order == "desc",
    )
    duplicate = bool(request.scope.get(DUPLICATE_PAGES_FLAG))
    orders, total = marketplace.list_orders(shop, query, duplicate_pages=duplicate)
    return _json({"orders": orders, "total_count": total})


class AcceptLine(BaseModel):
    id: str
    accepted: bool


class AcceptRequest(BaseModel):
    """OR21 body: one decision per line of the order."""

    order_lines: list[AcceptLine]


@router.put("/orders/{order_id}/accept", operation_id="OR21", status_code=204,
            summary="OR21 - Accept or refuse order lines")
def accept_order(order_id: str, body: AcceptRequest, shop: ShopDep,
                 marketplace: MarketplaceDep) -> Response:
    marketplace.accept(shop, order_id, [(ln.id, ln.accepted) for ln in body.order_lines])
    return Response(status_code=204)


class TrackingRequest(BaseModel):
    """OR23 body: carrier_code for a registered carrier, carrier_name (+ url) for another."""

    carrier_code: str | None = None
    carrier_name: str | None = None
    carrier_standard_code: str | None = None
    carrier_url: str | None = None
    tracking_number: str | None = None


@router.put("/orders/{order_id}/tracking", operation_id="OR23", status_code=204,
            summary="OR23 - Update carrier tracking information")
def update_tracking(order_id: str, body: TrackingRequest, shop: ShopDep,
                    marketplace: MarketplaceDep) -> Response:
    marketplace.update_tracking(
        shop, order_id, carrier_code=body.carrier_code, carrier_name=body.carrier_name,
        carrier_url=body.carrier_url, tracking_number=body.tracking_number,
    )
    return Response(status_code=204)


@router.put("/orders/{order_id}/ship", operation_id="OR24", status_code=204,
            summary="OR24 - Validate the shipment of an order")
def ship_order(order_id: str, shop: ShopDep, marketplace: MarketplaceDep) -> Response:
    marketplace.ship(shop, order_id)
    return Response(status_code=204)


class CodedAmount(BaseModel):
    """A tax (code, amount) or a fee (code, amount) of a refund or a cancelation."""

    model_config = ConfigDict(extra="ignore")

    code: Annotated[str, Field(min_length=1)]
    amount: Money


class RefundLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_line_id: str
    amount: Money
    shipping_amount: Money
    reason_code: str
    quantity: Annotated[int, Field(ge=0)] | None = None
    currency_iso_code: str | None = None
    taxes: list[CodedAmount] | None = None
    shipping_taxes: list[CodedAmount] | None = None
    fees: list[CodedAmount] | None = None


class RefundBody(BaseModel):
    """OR28 body: refunds on lines of one or more orders, all applied or none."""

    model_config = ConfigDict(extra="ignore")

    refunds: Annotated[list[RefundLine], Field(min_length=1)]
    order_tax_mode: Literal["TAX_INCLUDED", "TAX_EXCLUDED"] | None = None


@router.put("/orders/refund", operation_id="OR28", summary="OR28 - Demand refunds on order lines")
def refund_lines(body: RefundBody, shop: ShopDep, marketplace: MarketplaceDep) -> Response:
    result = marketplace.refund(shop, [
        RefundRequest(r.order_line_id, r.amount, r.shipping_amount, r.reason_code, r.quantity,
                      coded_amounts(r.taxes), coded_amounts(r.shipping_taxes),
                      coded_amounts(r.fees), body.order_tax_mode)
        for r in body.refunds
    ])
    return _json(result)


class CancelLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_line_id: str
    quantity: Annotated[int, Field(ge=1)]
    amount: Money
    shipping_amount: Money
    reason_code: str
    currency_iso_code: str | None = None
    taxes: list[CodedAmount] | None = None
    shipping_taxes: list[CodedAmount] | None = None
    fees: list[CodedAmount] | None = None


class CancelBody(BaseModel):
    """OR30 body: quantities to cancel on lines, all applied or none."""

    model_config = ConfigDict(extra="ignore")

    cancelations: Annotated[list[CancelLine], Field(min_length=1)]
    order_tax_mode: Literal["TAX_INCLUDED", "TAX_EXCLUDED"] | None = None


@router.put("/orders/cancel", operation_id="OR30", summary="OR30 - Cancel quantities on lines")
def cancel_lines(body: CancelBody, shop: ShopDep, marketplace: MarketplaceDep) -> Response:
    result = marketplace.cancel_lines(shop, [
        CancelRequest(c.order_line_id, c.quantity, c.amount, c.shipping_amount, c.reason_code,
                      coded_amounts(c.taxes), coded_amounts(c.shipping_taxes),
                      coded_amounts(c.fees), body.order_tax_mode)
        for c in body.cancelations
    ])
    return _json(result)


@router.put("/orders/{order_id}/cancel", operation_id="OR29", status_code=204,
            summary="OR29 - Cancel a whole order")
def cancel_order(order_id: str, shop: ShopDep, marketplace: MarketplaceDep) -> Response:
    marketplace.cancel_order(shop, order_id)
    return Response(status_code=204)


@router.get("/reasons", operation_id="RE01", summary="RE01 - List reasons")
def list_reasons(shop: ShopDep) -> Response:
    reasons = [{"code": code, "label": label, "type": kind, "is_shop_right": True}
               for code, kind, label in sorted(REASONS, key=lambda r: r[1])]
    return _json({"reasons": reasons, "total_count": len(reasons)})


@router.get("/shipping/carriers", operation_id="SH21", summary="SH21 - List carriers")
def list_carriers(shop: ShopDep) -> Response:
    carriers = [{"code": code, "label": label, "tracking_url": template}
                for code, label, template in sorted(CARRIERS, key=lambda c: c[1].casefold())]
    return _json({"carriers": carriers})


@router.get("/additional_fields", operation_id="AF01", summary="AF01 - List all custom fields")
def list_additional_fields(shop: ShopDep, marketplace: MarketplaceDep,
                           entities: str | None = None) -> Response:
    """The shop's additional fields of the entities asked (all when not told); the sandbox's
    shops declare offer fields only (SandboxConfig.offer_additional_fields)."""
    wanted = _csv(entities)
    fields = ([] if wanted is not None and "OFFER" not in wanted
              else marketplace.offer_additional_fields())
    return _json({"additional_fields": fields, "total_count": len(fields)})


# ---------------------------------------------------------------------- offers


def _form(content_type: str, body: bytes) -> dict[str, tuple[bytes, str | None]]:
    """multipart/form-data fields: name -> (bytes as sent, file name when it is a file)."""
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        raise MiraklError(400, "OF01 takes multipart/form-data", "VALIDATION_ERROR")
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise MiraklError(400, "Malformed multipart/form-data body", "VALIDATION_ERROR")
    fields: dict[str, tuple[bytes, str | None]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (payload, part.get_filename())
    return fields


def _form_flag(fields: dict[str, tuple[bytes, str | None]], name: str) -> bool:
    value = fields.get(name, (b"false", None))[0].decode("latin-1").strip().lower()
    if value not in ("true", "false"):
        raise MiraklError(400, f"{name} must be true or false", "VALIDATION_ERROR")
    return value == "true"


@router.post("/offers/imports", operation_id="OF01", status_code=201,
             summary="OF01 - Import a file to add offers",
             description="multipart/form-data: `file` (CSV, `;` separated, UTF-8) and "
             "`import_mode` NORMAL or REPLACE. The file is read when the import is processed.")
async def import_offers(request: Request, shop: ShopDep, marketplace: MarketplaceDep
                        ) -> Response:
    fields = _form(request.headers.get("content-type", ""), await request.body())
    if "file" not in fields:
        raise MiraklError(400, "The file is required", "VALIDATION_ERROR")
    mode = fields.get("import_mode", (b"", None))[0].decode("latin-1").strip()
    if mode not in IMPORT_MODES:
        raise MiraklError(400, "import_mode must be NORMAL or REPLACE", "VALIDATION_ERROR")
    if _form_flag(fields, "with_products"):
        raise MiraklError(400, "Imports with products are not supported: send offers only",
                          "VALIDATION_ERROR")
    _form_flag(fields, "operator_format")
    content, filename = fields["file"]
    imported = marketplace.import_offers(shop, mode, content, filename)
    location = str(request.url_for("OF02", import_id=imported["import_id"]))
    return Response(orjson.dumps({"import_id": imported["import_id"]}), status_code=201,
                    media_type="application/json", headers={"Location": location})


@router.get("/offers/imports/{import_id}", operation_id="OF02", name="OF02",
            summary="OF02 - Get information and statistics about an offer import")
def get_offer_import(import_id: int, shop: ShopDep, marketplace: MarketplaceDep) -> Response:
    return _json(marketplace.offer_import(shop, import_id))


@router.get("/offers/imports/{import_id}/error_report", operation_id="OF03",
            summary="OF03 - Get the error report file for an offer import",
            response_class=Response)
def get_offer_error_report(import_id: int, shop: ShopDep, marketplace: MarketplaceDep
                           ) -> Response:
    """The lines in error as sent, plus "error-line" and "error-message"; 404 when none."""
    report = marketplace.offer_import_error_report(shop, import_id)
    return Response(report, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="error_report_{import_id}.csv"'})


@router.get("/offers", operation_id="OF21", summary="OF21 - List offers of a shop")
def list_offers(
    request: Request,
    shop: ShopDep,
    marketplace: MarketplaceDep,
    sku: str | None = None,
    product_id: str | None = None,
    offer_state_codes: str | None = None,
    max_: Annotated[int, Query(alias="max", ge=1, description="Page size, at most 100")] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Literal["totalPrice", "price", "productTitle"] = "totalPrice",
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    """Sorted by total price (price + delivery fee) unless told, then by offer id."""
    query = OfferQuery(sku=sku, product_id=product_id, states=_csv(offer_state_codes),
                       max=min(max_, MAX_PAGE), offset=offset, sort=sort,
                       descending=order == "desc")
    duplicate = bool(request.scope.get(DUPLICATE_PAGES_FLAG))
    offers, total = marketplace.list_offers(shop, query, duplicate_pages=duplicate)
    return _json({"offers": offers, "total_count": total})
