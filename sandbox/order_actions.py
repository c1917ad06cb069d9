"""The seller's actions on its orders: accept or refuse lines (OR21), tracking (OR23), shipping
(OR24), cancelling a whole order (OR29) or quantities on lines (OR30).

Each checks Mirakl's rules and raises MiraklError with the status and code the real API gives,
before it changes anything. Nothing here holds a lock: Marketplace calls these functions under
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import structlog

from sandbox.catalog import (
    CANCELATION,
    CARRIERS_BY_CODE,
    WHOLE_ORDER_CANCEL_REASON,
    reason_codes,
)
from sandbox.clock import format_date
from sandbox.config import ShopConfig
from sandbox.errors import MiraklError, invalid_state
from sandbox.money_checks import (
    CodedAmounts,
    LineMoney,
    add_parts,
    check_codes,
    check_tax_mode,
    check_within,
    recorded_lists,
    take_off,
    whole_line,
)
from sandbox.order_store import OrderStore, StoredOrder
from sandbox.orders import (
    CANCELED,
    REFUSED,
    SHIPPED,
    SHIPPING,
    WAITING_ACCEPTANCE,
    WAITING_DEBIT_PAYMENT,
    Part,
    canceled_quantity,
    line_parts,
    money,
)

log = structlog.get_logger("sandbox")

MAX_TRACKING_LENGTH = 32  # La Redoute's limit (seller guide, 5.3)


@dataclass(frozen=True)
class CancelRequest:
    """One cancelation of OR30's body; taxes, shipping_taxes and fees None when not sent."""

    order_line_id: str
    quantity: int
    amount: Decimal
    shipping_amount: Decimal
    reason_code: str
    taxes: CodedAmounts | None = None
    shipping_taxes: CodedAmounts | None = None
    fees: CodedAmounts | None = None
    order_tax_mode: str | None = None  # the body's, when it gives one

    @property
    def money(self) -> LineMoney:
        return LineMoney(self.amount, self.shipping_amount, self.taxes, self.shipping_taxes,
                         self.fees)


def accept(store: OrderStore, shop: ShopConfig, order_id: str,
           decisions: list[tuple[str, bool]], now: datetime) -> None:
    """OR21: every line accepted or refused at once; all refused means the order is REFUSED."""
    stored = store.shop_order(shop, order_id)
    raw = stored.raw
    if raw["order_state"] != WAITING_ACCEPTANCE:
        raise invalid_state(raw, "accept or refuse its lines")
    seen: set[str] = set()
    for line_id, _ in decisions:
        if line_id in seen:
            raise MiraklError(400, f"Order line {line_id} is given twice",
                              "ORDER_LINE_DUPLICATE_ID")
        seen.add(line_id)
    known = {line["order_line_id"] for line in raw["order_lines"]}
    for line_id in seen - known:
        raise MiraklError(400, f"Order line {line_id} does not belong to order {order_id}",
                          "ORDER_LINE_NOT_FOUND")
    missing = sorted(known - seen)
    if missing:
        raise MiraklError(400, "No acceptance decision for order lines "
                          + ", ".join(missing), "ORDER_LINE_ACCEPTANCE_DECISION_MISSING")
    accepted = dict(decisions)
    for line in raw["order_lines"]:
        line["order_line_state"] = (
            WAITING_DEBIT_PAYMENT if accepted[line["order_line_id"]] else REFUSED
        )
    raw["acceptance_decision_date"] = format_date(now)
    state = WAITING_DEBIT_PAYMENT if any(accepted.values()) else REFUSED
    store.set_state(stored, state, now, now)
    log.info("sandbox_order_accepted" if state != REFUSED else "sandbox_order_refused",
             order_id=order_id, accepted=sum(accepted.values()), lines=len(accepted))


def update_tracking(
    store: OrderStore,
    shop: ShopConfig,
    order_id: str,
    now: datetime,
    *,
    carrier_code: str | None,
    carrier_name: str | None,
    carrier_url: str | None,
    tracking_number: str | None,
) -> None:
    """OR23: a registered carrier by code (its URL template applies) or any carrier by name."""
    stored = store.shop_order(shop, order_id)
    raw = stored.raw
    if raw["order_state"] not in (SHIPPING, SHIPPED):
        raise invalid_state(raw, "update its tracking")
    if tracking_number and len(tracking_number) > MAX_TRACKING_LENGTH:
        raise MiraklError(400, f"Tracking number longer than {MAX_TRACKING_LENGTH} "
                          "characters", "VALIDATION_ERROR")
    if carrier_url and not carrier_url.startswith(("http://", "https://")):
        raise MiraklError(400, "carrier_url must start with http:// or https://",
                          "VALIDATION_ERROR")
    if carrier_code:
        if carrier_code not in CARRIERS_BY_CODE:
            raise MiraklError(400, f"Unknown carrier code {carrier_code}",
                              "CARRIER_NOT_FOUND")
        label, template = CARRIERS_BY_CODE[carrier_code]
        raw["shipping_carrier_code"] = carrier_code
        raw["shipping_company"] = label
        url = (template.replace("{trackingId}", quote(tracking_number, safe=""))
               if tracking_number else None)
    elif carrier_name:
        raw.pop("shipping_carrier_code", None)
        raw["shipping_company"] = carrier_name
        url = carrier_url
    else:
        raise MiraklError(400, "carrier_code or carrier_name is required",
                          "VALIDATION_ERROR")
    for key, value in (("shipping_tracking", tracking_number),
                       ("shipping_tracking_url", url)):
        if value:
            raw[key] = value
        else:
            raw.pop(key, None)
    store.touch(stored, now)
    log.info("sandbox_tracking_updated", order_id=order_id,
             carrier=raw["shipping_company"])


def ship(store: OrderStore, shop: ShopConfig, order_id: str, now: datetime) -> None:
    """OR24: SHIPPING -> SHIPPED, for the order and each line still to ship."""
    stored = store.shop_order(shop, order_id)
    raw = stored.raw
    if raw["order_state"] != SHIPPING:
        raise invalid_state(raw, "ship it")
    for line in raw["order_lines"]:
        if line["order_line_state"] == SHIPPING:
            line["order_line_state"] = SHIPPED
            line["shipped_date"] = format_date(now)
    store.set_state(stored, SHIPPED, now, now)
    log.info("sandbox_order_shipped", order_id=order_id)


def cancel_order(store: OrderStore, shop: ShopConfig, order_id: str, now: datetime) -> None:
    """OR29: the whole order, while it can still be cancelled (accepted, paid, not shipped)."""
    stored = store.shop_order(shop, order_id)
    raw = stored.raw
    if not raw.get("can_cancel") or raw["order_state"] != SHIPPING:
        raise invalid_state(raw, "cancel it")
    for line in raw["order_lines"]:
        if line["order_line_state"] in (CANCELED, REFUSED):
            continue
        everything = whole_line(line)
        add_cancelation(store, line, CancelRequest(
            line["order_line_id"], line["quantity"] - canceled_quantity(line),
            everything.amount, everything.shipping_amount, WHOLE_ORDER_CANCEL_REASON,
            everything.taxes, everything.shipping_taxes, everything.fees,
        ), now)
        line["order_line_state"] = CANCELED
    store.cancel_state(stored, "SHOP_CANCELED", now, now)
    log.info("sandbox_order_canceled", order_id=order_id, reason="SHOP_CANCELED")


def cancel_lines(store: OrderStore, shop: ShopConfig, requests: list[CancelRequest],
                 now: datetime) -> dict[str, Any]:
    """OR30: cancel quantities on lines; an order left with nothing is CANCELED.

    Never more than the line holds, part by part (price, shipping, each tax code, each fee
    code); taxes given when the line has some.
    """
    allowed = reason_codes(CANCELATION)
    asked: dict[str, tuple[int, dict[Part, Decimal]]] = {}
    targets = []
    for req in requests:
        if req.reason_code not in allowed:
            raise MiraklError(400, f"{req.reason_code} is not a cancelation reason",
                              "REASON_CODE_INVALID")
        stored, line = store.shop_line(shop, req.order_line_id)
        if stored.raw["order_state"] != SHIPPING or line["order_line_state"] != SHIPPING:
            raise invalid_state(stored.raw, f"cancel order line {req.order_line_id}")
        check_tax_mode(stored.raw, req.order_tax_mode)
        check_codes(line, req.money)
        quantity, parts = asked.get(req.order_line_id, (0, {}))
        quantity += req.quantity
        parts = add_parts(parts, req.money.parts())
        asked[req.order_line_id] = (quantity, parts)
        if quantity > line["quantity"] - canceled_quantity(line):
            raise MiraklError(400, f"Cancelation of more items than left on order line "
                              f"{req.order_line_id}", "CANCELATION_QUANTITY_TOO_HIGH")
        check_within(line, parts, line_parts(line), "Cancelation",
                     "CANCELATION_AMOUNT_TOO_HIGH")
        targets.append((stored, line, req))
    answered = []
    touched: dict[str, StoredOrder] = {}
    for stored, line, req in targets:
        cancelation = add_cancelation(store, line, req, now)
        if canceled_quantity(line) >= line["quantity"]:
            line["order_line_state"] = CANCELED
        store.touch(stored, now, [line])
        touched[stored.raw["order_id"]] = stored
        answered.append({
            "cancelation_id": cancelation["id"],
            "order_line_id": line["order_line_id"],
            "amount": cancelation["amount"],
            "shipping_amount": cancelation["shipping_amount"],
            "taxes": cancelation["taxes"],
            "shipping_taxes": cancelation["shipping_taxes"],
            "fees": cancelation["fees"],
            "quantity": cancelation["quantity"],
            "reason_code": cancelation["reason_code"],
            "currency_iso_code": "EUR",
        })
    for order_id, stored in touched.items():
        if all(ln["order_line_state"] in (CANCELED, REFUSED)
               for ln in stored.raw["order_lines"]):
            store.cancel_state(stored, "SHOP_CANCELED", now, now)
            log.info("sandbox_order_canceled", order_id=order_id, reason="SHOP_CANCELED")
    tax_mode = targets[0][0].raw["order_tax_mode"] if targets else "TAX_INCLUDED"
    return {"order_tax_mode": tax_mode, "cancelations": answered}


def add_cancelation(store: OrderStore, line: dict[str, Any], req: CancelRequest,
                    now: datetime) -> dict[str, Any]:
    """Record a cancelation on the line and take its amounts off the line's price, shipping
    price, taxes and fees."""
    commission = req.amount * Decimal("0.15")
    cancelation = {
        "id": store.next_id("CX"),
        "amount": money(req.amount),
        "shipping_amount": money(req.shipping_amount),
        **recorded_lists(line, req.money),
        "quantity": req.quantity,
        "reason_code": req.reason_code,
        "created_date": format_date(now),
        "commission_amount": money(commission),
        "commission_taxes": [],
        "commission_total_amount": money(commission * Decimal("1.20")),
    }
    line["cancelations"].append(cancelation)
    take_off(line, req.money)
    return cancelation
