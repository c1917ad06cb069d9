"""The outbox of marketplace actions, fed from the event log.

Every event in which the merchant asks for something the marketplace must hear about
(accept, refuse, ship, cancel, refund) becomes one `marketplace_actions` row, written in the
same transaction that moves this projection's position: no action is missed, none is added
twice. Events that mirror a change made on the marketplace (origin "marketplace") are not
sent back. The rows are not a read model to rebuild: they carry delivery state, so a rebuild
or a replay leaves existing rows as they are (it only fills a payload still missing).

Each row carries its payload: what to send, as the event said it, with the order's channel and
marketplace id, so delivery never reloads the order. What an action needs beyond its own event
(the order's ids, its lines with their prices and cancelled quantities) the projection keeps in
`outbox_orders`, one row per order, from the events that set it, and the orders of the latest
batches in memory: they are trusted only while the committed position is the one this
instance's last batch reached (nothing else wrote in between, nothing was rolled back).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from app.adapters.db import Transaction
from app.projections.log import ProjectedEvent

NAME = "marketplace_actions"

ACTION_OF_EVENT = {
    "Accepted": "accept",
    "Refused": "refuse",
    "Shipped": "ship",
    "LinesCanceled": "cancel",
    "RefundRequested": "refund",
}
# Events that change what the outbox keeps of an order.
_STATE_EVENTS = {"Imported", "Accepted", "LinesCanceled"}
_CENT = Decimal("0.01")
# Orders kept in memory between batches.
CACHED_ORDERS = 20_000

_INSERT = (
    "INSERT INTO marketplace_actions"
    " (order_id, event_version, position, kind, state, created_at, updated_at, next_attempt_at,"
    " payload)"
    " VALUES (%s, %s, %s, %s, 'pending', %s, %s, 0, %s)"
    " ON CONFLICT (order_id, event_version) DO UPDATE SET payload = excluded.payload"
    " WHERE marketplace_actions.payload IS NULL"
)
_UPSERT_ORDER = (
    "INSERT INTO outbox_orders (order_id, channel, marketplace_order_id, lines)"
    " VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (order_id) DO UPDATE SET channel = excluded.channel,"
    " marketplace_order_id = excluded.marketplace_order_id, lines = excluded.lines"
)


class MarketplaceActionsProjection:
    name = NAME

    def __init__(self, dialect: str) -> None:
        self.native_ids = dialect == "postgres"
        self._cache: OrderedDict[UUID, dict[str, Any]] = OrderedDict()
        self._cached_at: int | None = None  # the position the cache reflects, once committed
        self._trusted = False  # the cache may be read in the batch under way
        self._pending: dict[UUID, dict[str, Any]] = {}

    def batch_started(self, position: int) -> None:
        self._trusted = position == self._cached_at
        if not self._trusted:
            self._cache.clear()
        self._pending = {}

    def batch_committed(self, position: int) -> None:
        # The cache was either trusted for this batch or emptied when it started.
        for order_id, order in self._pending.items():
            self._cache[order_id] = order
            self._cache.move_to_end(order_id)
        while len(self._cache) > CACHED_ORDERS:
            self._cache.popitem(last=False)
        self._cached_at = position
        self._pending = {}
        self._trusted = False

    def apply(self, tx: Transaction, generation: int, events: Sequence[ProjectedEvent]) -> None:
        if not self._trusted:
            self._cache.clear()
        relevant = [e for e in events if e.aggregate == "Order"
                    and (e.type in _STATE_EVENTS or e.type in ACTION_OF_EVENT)]
        if not relevant:
            return
        orders: dict[UUID, dict[str, Any]] = {}
        missing = set()
        for event in relevant:
            oid = event.originator_id
            if event.type == "Imported" or oid in orders:
                continue
            cached = self._cache.get(oid)
            if cached is not None:
                orders[oid] = json.loads(json.dumps(cached))  # a copy: a rollback leaves it
            else:
                missing.add(oid)
        orders.update(self._load(tx, missing))
        changed: set[UUID] = set()
        rows = []
        for event in relevant:
            data = event.data
            if event.type == "Imported":
                orders[event.originator_id] = _imported(data)
                changed.add(event.originator_id)
                continue
            order = orders.get(event.originator_id)
            if order is None:
                raise LookupError(f"no Imported event seen for order {event.originator_id}")
            if event.type in _STATE_EVENTS and _apply(order, event.type, data):
                changed.add(event.originator_id)
            kind = ACTION_OF_EVENT.get(event.type)
            if kind is None or data.get("origin") == "marketplace":
                continue
            at = event.timestamp.timestamp()
            rows.append((self._id(event.originator_id), event.version, event.position, kind, at,
                         at, json.dumps(_payload(kind, order, data), sort_keys=True)))
        if changed:
            tx.executemany(_UPSERT_ORDER, [
                (self._id(oid), orders[oid]["channel"], orders[oid]["marketplace_order_id"],
                 json.dumps(orders[oid]["lines"]))
                for oid in changed
            ])
        if rows:
            tx.executemany(_INSERT, rows)
        self._pending = orders

    def clear(self, tx: Transaction, generation: int) -> None:
        """Actions carry delivery state: a rebuild keeps them."""

    def _id(self, order_id: UUID) -> Any:
        return order_id if self.native_ids else str(order_id)

    def _load(self, tx: Transaction, ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
        found: dict[UUID, dict[str, Any]] = {}
        ordered = sorted(ids, key=str)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            for oid, channel, mid, lines in tx.execute(
                "SELECT order_id, channel, marketplace_order_id, lines FROM outbox_orders"
                f" WHERE order_id IN ({marks})",
                [self._id(i) for i in chunk],
            ):
                key = oid if isinstance(oid, UUID) else UUID(oid)
                found[key] = {"channel": channel, "marketplace_order_id": mid,
                              "lines": json.loads(lines)}
        return found


def _imported(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": data["channel"],
        "marketplace_order_id": data["marketplace_order_id"],
        "lines": {
            line["line_id"]: {"unit_price": str(line["unit_price"]),
                              "quantity": int(line["quantity"]), "canceled": 0}
            for line in data["lines"]
        },
    }


def _apply(order: dict[str, Any], event_type: str, data: dict[str, Any]) -> bool:
    """Bring the order's lines level with the event; True if they changed."""
    lines = order["lines"]
    changed = False
    if event_type == "Accepted":
        for line_id in data.get("refused_lines") or ():
            lines[line_id]["canceled"] = lines[line_id]["quantity"]
            changed = True
    elif event_type == "LinesCanceled":
        for line_id, quantity in data["lines"].items():
            lines[line_id]["canceled"] += int(quantity)
            changed = True
    return changed


def _payload(kind: str, order: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """What the marketplace must be sent for this event."""
    lines = order["lines"]
    payload: dict[str, Any] = {"channel": order["channel"],
                               "marketplace_order_id": order["marketplace_order_id"]}
    if kind == "accept":
        refused = set(data.get("refused_lines") or ())
        payload["decisions"] = {line_id: line_id not in refused for line_id in lines}
    elif kind == "refuse":
        payload["decisions"] = {line_id: False for line_id in lines}
    elif kind == "ship":
        payload.update(carrier=data["carrier"], tracking_number=data["tracking_number"],
                       tracking_url=data["tracking_url"])
    elif kind == "cancel":
        canceled = {line_id: int(q) for line_id, q in data["lines"].items()}
        charges = data.get("charges")
        if charges is not None:
            payload.update(charges=_charges(charges), currency=data.get("currency"),
                           tax_mode=data.get("tax_mode"))
        payload.update(
            lines=canceled,
            amounts={line_id: str((Decimal(lines[line_id]["unit_price"]) * q).quantize(_CENT))
                     if charges is None else str(charges[line_id]["price"])
                     for line_id, q in canceled.items()},
            reason=data["reason"],
            whole_order=all(line["canceled"] >= line["quantity"] for line in lines.values()),
            canceled_after={line_id: line["canceled"] for line_id, line in lines.items()},
        )
    elif kind == "refund":
        if data.get("charges") is not None:
            payload.update(charges=_charges(data["charges"]), currency=data.get("currency"),
                           tax_mode=data.get("tax_mode"))
        payload.update(
            refund_id=data["refund_id"],
            lines={line_id: int(q) for line_id, q in data["lines"].items()},
            line_amounts={line_id: str(amount) for line_id, amount in data["line_amounts"].items()},
            shipping_amount=str(data["shipping_amount"]),
            reason=data["reason"],
            supersedes=data.get("supersedes"),
        )
    return payload


def _charges(charges: dict[str, Any]) -> dict[str, Any]:
    """Each line's part (order_money.Charges.stored()) with its amounts as text."""
    return {
        line_id: {
            "price": str(part["price"]),
            "shipping": str(part["shipping"]),
            **{key: {code: str(amount) for code, amount in part[key].items()}
               for key in ("taxes", "shipping_taxes", "fees")},
        }
        for line_id, part in charges.items()
    }


__all__ = ["ACTION_OF_EVENT", "NAME", "MarketplaceActionsProjection"]
