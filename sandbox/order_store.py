"""Every order of every shop: how new ones are made, found, listed (OR11) and dated.

The store is the bookkeeping every change to an order goes through: touch() dates the order and
its changed lines and recomputes the derived fields, and the store keeps the set of orders with
a timer running, the only ones the progression walks. It holds no lock: Marketplace calls it
under its own.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from sandbox.catalog import ORDER_CANCEL_REASONS
from sandbox.clock import format_date
from sandbox.config import ShopConfig
from sandbox.errors import MiraklError
from sandbox.generator import Delivery, OrderGenerator
from sandbox.orders import (
    CANCELED,
    RECEIVED,
    SHIPPED,
    WAITING_ACCEPTANCE,
    WAITING_DEBIT_PAYMENT,
    RawOrder,
    refresh,
)

log = structlog.get_logger("sandbox")

UNKNOWN_STATE = "WAITING_SCORING"  # a state our service has never heard of, for robustness tests
TIMED_STATES = frozenset({WAITING_ACCEPTANCE, WAITING_DEBIT_PAYMENT, SHIPPED, RECEIVED})


@dataclass
class StoredOrder:
    """A raw order plus what the marketplace needs to move it on time."""

    shop_id: int
    raw: RawOrder
    created: datetime
    updated: datetime
    state_since: datetime  # when the current order_state was entered (or was due)
    corrupt: bool = False
    refund_since: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderQuery:
    """OR11's filters and page; None means "no filter"."""

    order_ids: frozenset[str] | None = None
    states: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    start_update_date: datetime | None = None
    end_update_date: datetime | None = None
    max: int = 10
    offset: int = 0
    descending: bool = False


class OrderStore:
    """The orders by id, which order each line belongs to, and the orders with a timer running."""

    def __init__(self, shops: dict[int, ShopConfig], generator: OrderGenerator) -> None:
        self.shops = shops
        self._generator = generator
        self._orders: dict[str, StoredOrder] = {}
        self._line_owner: dict[str, str] = {}
        self._live: set[str] = set()
        self._last_id = 0  # refunds and cancelations share one sequence

    def next_id(self, prefix: str) -> str:
        """A new refund or cancelation id: the prefix and a number no other id has."""
        self._last_id += 1
        return f"{prefix}-{self._last_id:06d}"

    # ------------------------------------------------------------------ saved state

    def export_state(self) -> dict[str, Any]:
        """Every order and the id sequence, as plain JSON values (copies, not the live dicts)."""
        return {
            "last_id": self._last_id,
            "generator": self._generator.export_state(),
            "orders": [
                {"shop_id": s.shop_id, "raw": copy.deepcopy(s.raw),
                 "created": s.created.isoformat(), "updated": s.updated.isoformat(),
                 "state_since": s.state_since.isoformat(), "corrupt": s.corrupt,
                 "refund_since": {rid: when.isoformat() for rid, when in s.refund_since.items()}}
                for s in self._orders.values()
            ],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Replace every order by those of export_state(); the indexes are rebuilt from them."""
        orders: dict[str, StoredOrder] = {}
        for item in state["orders"]:
            if item["shop_id"] not in self.shops:
                raise ValueError(f"an order of shop {item['shop_id']}, unknown to this sandbox")
            stored = StoredOrder(
                int(item["shop_id"]), item["raw"], datetime.fromisoformat(item["created"]),
                datetime.fromisoformat(item["updated"]),
                datetime.fromisoformat(item["state_since"]), bool(item["corrupt"]),
                {rid: datetime.fromisoformat(when)
                 for rid, when in item["refund_since"].items()})
            orders[stored.raw["order_id"]] = stored
        self._generator.restore_state(state["generator"])
        self._last_id = int(state["last_id"])
        self._orders = orders
        self._line_owner = {line["order_line_id"]: order_id
                            for order_id, stored in orders.items()
                            for line in stored.raw["order_lines"]}
        self._live = set()
        for stored in orders.values():
            self.track(stored)

    # ------------------------------------------------------------------ new orders

    def check_shop(self, shop_id: int | None) -> None:
        if shop_id is not None and shop_id not in self.shops:
            raise MiraklError(404, f"Shop {shop_id} does not exist", "SHOP_NOT_FOUND")

    def create(
        self,
        count: int,
        now: datetime,
        *,
        shop_id: int | None = None,
        lines: int | None = None,
        delivery: Delivery | None = None,
        corrupt: str | None = None,
    ) -> list[str]:
        """New orders waiting for acceptance; without shop_id they are spread over the shops.

        The caller checks shop_id first (check_shop).
        """
        created = []
        for _ in range(count):
            shop = (self.shops[shop_id] if shop_id is not None
                    else self._generator.rng.choice(list(self.shops.values())))
            order_id = self._generator.order_id(shop)
            while order_id in self._orders:
                order_id = self._generator.order_id(shop)
            raw = self._generator.new_order(shop, order_id, now, lines, delivery)
            stored = StoredOrder(shop.shop_id, raw, now, now, now)
            _corrupt(stored, corrupt)
            self._orders[order_id] = stored
            for line in raw["order_lines"]:
                self._line_owner[line["order_line_id"]] = order_id
            self.track(stored)
            created.append(order_id)
        log.info("sandbox_orders_created", count=count, corrupt=corrupt)
        return created

    # ------------------------------------------------------------------ reading

    def list_orders(self, shop: ShopConfig, query: OrderQuery,
                    duplicate_pages: bool = False) -> tuple[list[RawOrder], int]:
        """OR11: the page of the shop's matching orders, by created date then order id."""
        found = [s for s in self._orders.values()
                 if s.shop_id == shop.shop_id and _matches(s, query)]
        found.sort(key=lambda s: (s.created, s.raw["order_id"]), reverse=query.descending)
        start = query.offset - 1 if duplicate_pages and query.offset > 0 else query.offset
        page = found[start:start + query.max]
        return [copy.deepcopy(s.raw) for s in page], len(found)

    def live(self) -> list[StoredOrder]:
        """The orders with a timer running: a timed state or a refund under way."""
        return [self._orders[order_id] for order_id in list(self._live)]

    def any_order(self, order_id: str) -> StoredOrder:
        stored = self._orders.get(order_id)
        if stored is None:
            raise MiraklError(404, f"Order {order_id} not found", "ORDER_NOT_FOUND")
        return stored

    def shop_order(self, shop: ShopConfig, order_id: str) -> StoredOrder:
        """Another shop's order is as unknown as a missing one: a key sees only its shop."""
        stored = self._orders.get(order_id)
        if stored is None or stored.shop_id != shop.shop_id:
            raise MiraklError(404, f"Order {order_id} not found", "ORDER_NOT_FOUND")
        return stored

    def shop_line(self, shop: ShopConfig, line_id: str) -> tuple[StoredOrder, dict[str, Any]]:
        order_id = self._line_owner.get(line_id)
        stored = self._orders.get(order_id) if order_id else None
        if stored is not None and stored.shop_id == shop.shop_id:
            for line in stored.raw["order_lines"]:
                if line["order_line_id"] == line_id:
                    return stored, line
        raise MiraklError(404, f"Order line {line_id} not found", "ORDER_LINE_NOT_FOUND")

    def find_refund(self, refund_id: str) -> tuple[StoredOrder, dict[str, Any], dict[str, Any]]:
        """The refund with this id, whatever its shop, with its order and line."""
        for stored in self._orders.values():
            for line in stored.raw["order_lines"]:
                for refund in line.get("refunds", []):
                    if refund["id"] == refund_id:
                        return stored, line, refund
        raise MiraklError(404, f"Refund {refund_id} not found", "REFUND_NOT_FOUND")

    # ------------------------------------------------------------------ changes

    def cancel_state(self, stored: StoredOrder, reason: str, when: datetime,
                     now: datetime) -> None:
        stored.raw["order_state_reason_code"] = reason
        stored.raw["order_state_reason_label"] = ORDER_CANCEL_REASONS[reason]
        self.set_state(stored, CANCELED, when, now)

    def set_state(self, stored: StoredOrder, state: str, when: datetime, now: datetime) -> None:
        stored.raw["order_state"] = state
        stored.state_since = when
        self.touch(stored, now)

    def touch(self, stored: StoredOrder, now: datetime,
              lines: Iterable[dict[str, Any]] | None = None) -> None:
        """Every change dates the order and its changed lines (all lines unless told)."""
        stamp = format_date(now)
        stored.raw["last_updated_date"] = stamp
        stored.updated = now
        for line in stored.raw["order_lines"] if lines is None else lines:
            line["last_updated_date"] = stamp
        if not stored.corrupt:
            refresh(stored.raw)
        self.track(stored)

    def track(self, stored: StoredOrder) -> None:
        """Keep only orders with a timer running in the set the progression walks."""
        order_id = stored.raw["order_id"]
        if stored.raw["order_state"] in TIMED_STATES or stored.refund_since:
            self._live.add(order_id)
        else:
            self._live.discard(order_id)


def _matches(stored: StoredOrder, q: OrderQuery) -> bool:
    raw = stored.raw
    return not (
        (q.order_ids is not None and raw["order_id"] not in q.order_ids)
        or (q.states is not None and raw["order_state"] not in q.states)
        or (q.channels is not None and raw["channel"]["code"] not in q.channels)
        or (q.start_date is not None and stored.created < q.start_date)
        or (q.end_date is not None and stored.created > q.end_date)
        or (q.start_update_date is not None and stored.updated < q.start_update_date)
        or (q.end_update_date is not None and stored.updated > q.end_update_date)
    )


def _corrupt(stored: StoredOrder, how: str | None) -> None:
    """Orders a robust client must survive: no lines, a non-numeric price, a new state."""
    raw = stored.raw
    if how == "no_lines":
        raw["order_lines"] = []
        refresh(raw)
    elif how == "bad_price":
        line = raw["order_lines"][0]
        line["price_unit"] = "29,99 EUR"
        line["price"] = "29,99 EUR"
        stored.corrupt = True  # totals can no longer be computed; leave them as they are
    elif how == "unknown_state":
        raw["order_state"] = UNKNOWN_STATE
