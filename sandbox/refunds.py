"""Refunds: OR28's demands on order lines, and each refund's way to REFUNDED or REFUSED.

A refund waits (WAITING_REFUND), is being paid (WAITING_REFUND_PAYMENT), then is REFUNDED; the
marketplace moves it one step per refund_delay, or the control API moves it on or refuses it.
Nothing here holds a lock: Marketplace calls these functions under its own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from sandbox.catalog import REFUND, REFUND_REFUSAL_REASONS, reason_codes
from sandbox.clock import format_date
from sandbox.config import ShopConfig
from sandbox.errors import MiraklError
from sandbox.money_checks import (
    CodedAmounts,
    LineMoney,
    add_parts,
    check_codes,
    check_tax_mode,
    check_within,
    recorded_lists,
)
from sandbox.order_store import OrderStore, StoredOrder
from sandbox.orders import (
    PENDING_REFUND_STATES,
    REFUND_REFUSED,
    REFUNDABLE_LINE_STATES,
    REFUNDED,
    WAITING_REFUND,
    WAITING_REFUND_PAYMENT,
    Part,
    canceled_quantity,
    money,
    refundable_parts,
    refunded_quantity,
)

log = structlog.get_logger("sandbox")


@dataclass(frozen=True)
class RefundRequest:
    """One refund of OR28's body; taxes, shipping_taxes and fees None when not sent."""

    order_line_id: str
    amount: Decimal
    shipping_amount: Decimal
    reason_code: str
    quantity: int | None = None
    taxes: CodedAmounts | None = None
    shipping_taxes: CodedAmounts | None = None
    fees: CodedAmounts | None = None
    order_tax_mode: str | None = None  # the body's, when it gives one

    @property
    def money(self) -> LineMoney:
        return LineMoney(self.amount, self.shipping_amount, self.taxes, self.shipping_taxes,
                         self.fees)


def request_refunds(store: OrderStore, shop: ShopConfig, requests: list[RefundRequest],
                    now: datetime) -> dict[str, Any]:
    """OR28: all refunds or none; never more than what is left to refund on a line, part by
    part (price, shipping, each tax code, each fee code); taxes given when the line has some."""
    allowed = reason_codes(REFUND)
    asked: dict[str, tuple[dict[Part, Decimal], int]] = {}
    targets = []
    for req in requests:
        if req.reason_code not in allowed:
            raise MiraklError(400, f"{req.reason_code} is not a refund reason",
                              "REASON_CODE_INVALID")
        stored, line = store.shop_line(shop, req.order_line_id)
        if line["order_line_state"] not in REFUNDABLE_LINE_STATES:
            raise MiraklError(
                400, f"Order line {req.order_line_id} is {line['order_line_state']}: "
                "only shipped, received or closed lines can be refunded",
                "ORDER_INVALID_STATE")
        check_tax_mode(stored.raw, req.order_tax_mode)
        if req.money.total() <= 0:
            raise MiraklError(400, "A refund must be of a positive amount",
                              "VALIDATION_ERROR")
        check_codes(line, req.money)
        parts, quantity = asked.get(req.order_line_id, ({}, 0))
        parts = add_parts(parts, req.money.parts())
        quantity += req.quantity or 0
        asked[req.order_line_id] = (parts, quantity)
        check_within(line, parts, refundable_parts(line), "Refund", "REFUND_AMOUNT_TOO_HIGH")
        quantity_left = (line["quantity"] - canceled_quantity(line)
                         - refunded_quantity(line))
        if quantity > quantity_left:
            raise MiraklError(400, f"Refund of more items than left on order line "
                              f"{req.order_line_id} ({quantity_left})",
                              "REFUND_QUANTITY_TOO_HIGH")
        targets.append((stored, line, req))
    order_refund_ids: dict[str, str] = {}
    answered = []
    for stored, line, req in targets:
        order_id = stored.raw["order_id"]
        if order_id not in order_refund_ids:
            order_refund_ids[order_id] = store.next_id("ORF")
        refund_id = store.next_id("RF")
        commission = req.amount * Decimal("0.15")
        commission_tax = commission * Decimal("0.20")
        lists = recorded_lists(line, req.money)
        line["refunds"].append({
            "id": refund_id,
            "order_refund_id": order_refund_ids[order_id],
            "amount": money(req.amount),
            "shipping_amount": money(req.shipping_amount),
            **lists,
            "quantity": req.quantity or 0,
            "reason_code": req.reason_code,
            "refund_state": WAITING_REFUND,
            "state": WAITING_REFUND,
            "created_date": format_date(now),
            "commission_amount": money(commission),
            "commission_tax_amount": money(commission_tax),
            "commission_taxes": [],
            "commission_total_amount": money(commission + commission_tax),
        })
        stored.refund_since[refund_id] = now
        store.touch(stored, now, [line])
        answered.append({
            "refund_id": refund_id,
            "order_refund_id": order_refund_ids[order_id],
            "order_line_id": line["order_line_id"],
            "amount": money(req.amount),
            "shipping_amount": money(req.shipping_amount),
            **lists,
            "quantity": req.quantity or 0,
            "reason_code": req.reason_code,
            "currency_iso_code": "EUR",
        })
        log.info("sandbox_refund_requested", order_id=order_id, refund_id=refund_id,
                 amount=str(req.amount), shipping_amount=str(req.shipping_amount))
    tax_mode = targets[0][0].raw["order_tax_mode"] if targets else "TAX_INCLUDED"
    return {"order_tax_mode": tax_mode, "refunds": answered}


def refund_action(store: OrderStore, refund_id: str, action: str, reason: str | None,
                  now: datetime) -> dict[str, Any]:
    """Move a refund one step on (advance) or refuse it with La Redoute's reason."""
    stored, line, refund = store.find_refund(refund_id)
    if refund["refund_state"] not in PENDING_REFUND_STATES:
        raise MiraklError(400, f"Refund {refund_id} is {refund['refund_state']}",
                          "REFUND_INVALID_STATE")
    if action == "advance":
        advance_refund(store, stored, line, refund, now, now)
    else:
        reason = reason or "AMOUNT_ABOVE_ORDER_AMOUNT"
        if reason not in REFUND_REFUSAL_REASONS:
            raise MiraklError(400, f"Unknown refusal reason {reason}", "VALIDATION_ERROR")
        refund["refund_state"] = refund["state"] = REFUND_REFUSED
        refund["refusal_reason"] = reason
        stored.refund_since.pop(refund_id, None)
        store.touch(stored, now, [line])
        log.info("sandbox_refund_refused", refund_id=refund_id, reason=reason)
    return copy.deepcopy(refund)


def step_refunds(store: OrderStore, stored: StoredOrder, delay: float | None,
                 now: datetime) -> None:
    """Every step of the order's refunds that refund_delay has made due by now."""
    if delay is None or not stored.refund_since:
        return
    for line in stored.raw["order_lines"]:
        for refund in line["refunds"]:
            while refund["refund_state"] in PENDING_REFUND_STATES:
                due = stored.refund_since[refund["id"]] + timedelta(seconds=delay)
                if now < due:
                    break
                advance_refund(store, stored, line, refund, due, now)


def advance_refund(store: OrderStore, stored: StoredOrder, line: dict[str, Any],
                   refund: dict[str, Any], when: datetime, now: datetime) -> None:
    """One step on: WAITING_REFUND -> WAITING_REFUND_PAYMENT -> REFUNDED."""
    if refund["refund_state"] == WAITING_REFUND:
        refund["refund_state"] = refund["state"] = WAITING_REFUND_PAYMENT
        stored.refund_since[refund["id"]] = when
    else:
        refund["refund_state"] = refund["state"] = REFUNDED
        refund["transaction_date"] = format_date(when)
        refund["transaction_number"] = f"TX-{refund['id']}"
        stored.refund_since.pop(refund["id"], None)
    store.touch(stored, now, [line])
    log.info("sandbox_refund_advanced", refund_id=refund["id"], state=refund["refund_state"])
