"""The marketplace's state and rules: every order of every shop, behind one lock.

Seller operations (OR21, OR23...) check Mirakl's rules and raise MiraklError with the status and
code the real API gives; the control operations let tests play the marketplace's part (payment,
delivery, payout, refund processing) by hand. Time-driven progression runs lazily at the start
of every operation and from the background ticker, so a clock move is seen by the next request.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from sandbox import order_actions, refunds
from sandbox.clock import SandboxClock, format_date
from sandbox.config import SandboxConfig, ShopConfig, Timings
from sandbox.errors import invalid_state
from sandbox.generator import Delivery, OrderGenerator
from sandbox.offers import OfferBook, OfferQuery
from sandbox.order_actions import CancelRequest
from sandbox.order_store import OrderQuery, OrderStore, StoredOrder
from sandbox.orders import (
    CANCELED,
    CLOSED,
    RECEIVED,
    SHIPPED,
    SHIPPING,
    WAITING_ACCEPTANCE,
    WAITING_DEBIT_PAYMENT,
    RawOrder,
)
from sandbox.refunds import RefundRequest

log = structlog.get_logger("sandbox")

UNKNOWN_STATE = "WAITING_SCORING"  # a state our service has never heard of, for robustness tests
MAX_TRACKING_LENGTH = 32  # La Redoute's limit (seller guide, 5.3)
TIMED_STATES = frozenset({WAITING_ACCEPTANCE, WAITING_DEBIT_PAYMENT, SHIPPED, RECEIVED})


class Marketplace:
    """All sandbox state. Public methods take the lock; private ones expect it held."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock | None = None) -> None:
        self.config = config
        self.clock = clock or SandboxClock(config.start_time)
        self.timings: Timings = replace(config.timings)
        self.shops = {shop.shop_id: shop for shop in config.shops}
        self._shops_by_key = {shop.api_key: shop for shop in config.shops}
        self._lock = threading.RLock()
        self._store = OrderStore(
            self.shops, OrderGenerator(config.seed, config.shipping_leadtime_days))
        self._rng = random.Random(config.seed)
        self._calls: list[dict[str, Any]] = []
        self._demo_due = 0.0
        self._offers = OfferBook(config.shipping_leadtime_days)

    # ------------------------------------------------------------------ auth

    def shop_for_key(self, api_key: str | None) -> ShopConfig | None:
        return self._shops_by_key.get(api_key or "")

    # ------------------------------------------------------------------ seller API

    def list_orders(
        self, shop: ShopConfig, query: OrderQuery, duplicate_pages: bool = False
    ) -> tuple[list[RawOrder], int]:
        """OR11: the page of the shop's matching orders, by created date then order id."""
        with self._lock:
            self._progress()
            return self._store.list_orders(shop, query, duplicate_pages)

    def accept(self, shop: ShopConfig, order_id: str, decisions: list[tuple[str, bool]]) -> None:
        """OR21: every line accepted or refused at once; all refused means the order is REFUSED."""
        with self._lock:
            now = self._progress()
            order_actions.accept(self._store, shop, order_id, decisions, now)

    def update_tracking(
        self,
        shop: ShopConfig,
        order_id: str,
        *,
        carrier_code: str | None,
        carrier_name: str | None,
        carrier_url: str | None,
        tracking_number: str | None,
    ) -> None:
        """OR23: a registered carrier by code (its URL template applies) or any carrier by name."""
        with self._lock:
            now = self._progress()
            order_actions.update_tracking(
                self._store, shop, order_id, now, carrier_code=carrier_code,
                carrier_name=carrier_name, carrier_url=carrier_url,
                tracking_number=tracking_number)

    def ship(self, shop: ShopConfig, order_id: str) -> None:
        """OR24: SHIPPING -> SHIPPED, for the order and each line still to ship."""
        with self._lock:
            now = self._progress()
            order_actions.ship(self._store, shop, order_id, now)

    def refund(self, shop: ShopConfig, requests: list[RefundRequest]) -> dict[str, Any]:
        """OR28: all refunds or none; never more than what is left to refund on a line."""
        with self._lock:
            now = self._progress()
            return refunds.request_refunds(self._store, shop, requests, now)

    def cancel_order(self, shop: ShopConfig, order_id: str) -> None:
        """OR29: the whole order, while it can still be cancelled (accepted, paid, not shipped)."""
        with self._lock:
            now = self._progress()
            order_actions.cancel_order(self._store, shop, order_id, now)

    def cancel_lines(self, shop: ShopConfig, requests: list[CancelRequest]) -> dict[str, Any]:
        """OR30: cancel quantities on lines; an order left with nothing is CANCELED."""
        with self._lock:
            now = self._progress()
            return order_actions.cancel_lines(self._store, shop, requests, now)

    # ------------------------------------------------------------------ seller API: offers

    def import_offers(self, shop: ShopConfig, mode: str, content: bytes,
                      filename: str | None) -> dict[str, Any]:
        """OF01: the file is kept as sent and read later, by the progression or the control API."""
        with self._lock:
            now = self._progress()
            imported = self._offers.new_import(shop.shop_id, mode, content, filename, now)
            self._progress()  # a delay of 0 processes it at once
            return imported.as_of02()

    def offer_import(self, shop: ShopConfig, import_id: int) -> dict[str, Any]:
        """OF02."""
        with self._lock:
            self._progress()
            return self._offers.shop_import(shop.shop_id, import_id).as_of02()

    def offer_import_error_report(self, shop: ShopConfig, import_id: int) -> bytes:
        """OF03: only a complete import with lines in error has a report."""
        with self._lock:
            self._progress()
            return self._offers.error_report(shop.shop_id, import_id)

    def list_offers(self, shop: ShopConfig, query: OfferQuery,
                    duplicate_pages: bool = False) -> tuple[list[dict[str, Any]], int]:
        """OF21: the shop's offers as the marketplace shows them now."""
        with self._lock:
            now = self._progress()
            return self._offers.list_offers(shop.shop_id, query, now, duplicate_pages)

    # ------------------------------------------------------------------ control: offers

    def complete_offer_import(self, import_id: int) -> dict[str, Any]:
        """Process a waiting import now; one already processed is left as it is."""
        with self._lock:
            now = self._progress()
            return self._offers.complete(import_id, now).summary()

    def offer_imports(self, shop_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self._progress()
            return [i.summary() for i in self._offers.imports(shop_id)]

    def raw_offers(self, shop_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self._progress()
            return self._offers.raw_offers(shop_id)

    def set_unknown_products(self, eans: Iterable[str]) -> list[str]:
        """The EANs the catalogue does not know from now on (the list replaces the last one)."""
        with self._lock:
            return self._offers.set_unknown_eans(eans)

    def unknown_products(self) -> list[str]:
        with self._lock:
            return sorted(self._offers.unknown_eans)

    # ------------------------------------------------------------------ control: orders

    def create_orders(
        self,
        count: int,
        *,
        shop_id: int | None = None,
        lines: int | None = None,
        delivery: Delivery | None = None,
        corrupt: str | None = None,
    ) -> list[str]:
        """New orders waiting for acceptance; without shop_id they are spread over the shops."""
        self._store.check_shop(shop_id)
        with self._lock:
            now = self._progress()
            return self._store.create(count, now, shop_id=shop_id, lines=lines,
                                      delivery=delivery, corrupt=corrupt)

    def raw_order(self, order_id: str) -> RawOrder:
        with self._lock:
            self._progress()
            return copy.deepcopy(self._store.any_order(order_id).raw)

    def settle_payment(self, order_id: str, validate: bool) -> RawOrder:
        """The customer's debit: validated -> SHIPPING, refused -> CANCELED (PAYMENT_REFUSED)."""
        with self._lock:
            now = self._progress()
            stored = self._store.any_order(order_id)
            if stored.raw["order_state"] != WAITING_DEBIT_PAYMENT:
                raise invalid_state(stored.raw, "settle its payment")
            self._settle(stored, validate, now, now)
            return copy.deepcopy(stored.raw)

    def receive(self, order_id: str) -> RawOrder:
        with self._lock:
            now = self._progress()
            stored = self._store.any_order(order_id)
            if stored.raw["order_state"] != SHIPPED:
                raise invalid_state(stored.raw, "mark it received")
            self._receive(stored, now, now)
            return copy.deepcopy(stored.raw)

    def close(self, order_id: str) -> RawOrder:
        """The payout to the seller: SHIPPED or RECEIVED -> CLOSED."""
        with self._lock:
            now = self._progress()
            stored = self._store.any_order(order_id)
            if stored.raw["order_state"] == SHIPPED:
                self._receive(stored, now, now)
            if stored.raw["order_state"] != RECEIVED:
                raise invalid_state(stored.raw, "close it")
            self._close(stored, now, now)
            return copy.deepcopy(stored.raw)

    def force_state(self, order_id: str, state: str) -> RawOrder:
        """Any state string, lines untouched: for tests of states the client does not know."""
        with self._lock:
            now = self._progress()
            stored = self._store.any_order(order_id)
            self._store.set_state(stored, state, now, now)
            log.info("sandbox_state_forced", order_id=order_id, state=state)
            return copy.deepcopy(stored.raw)

    def refund_action(self, refund_id: str, action: str, reason: str | None) -> dict[str, Any]:
        """Move a refund one step on (advance) or refuse it with La Redoute's reason."""
        with self._lock:
            now = self._progress()
            return refunds.refund_action(self._store, refund_id, action, reason, now)

    # ------------------------------------------------------------------ control: clock, settings

    def advance_clock(self, seconds: float) -> datetime:
        with self._lock:
            self.clock.advance(seconds)
            return self._progress()

    def now(self) -> datetime:
        return self.clock.now()

    def settings(self) -> dict[str, float | None]:
        with self._lock:
            return self.timings.as_dict()

    def update_settings(self, changes: dict[str, Any]) -> dict[str, float | None]:
        with self._lock:
            for name, value in changes.items():
                setattr(self.timings, name, value)
            log.info("sandbox_settings_changed", **changes)
            self._progress()
            return self.timings.as_dict()

    # ------------------------------------------------------------------ control: call log

    def record_call(self, call: dict[str, Any]) -> None:
        with self._lock:
            call["id"] = len(self._calls) + 1
            call["time"] = format_date(self.clock.now())
            self._calls.append(call)

    def calls(self, order_id: str | None = None, operation: str | None = None) -> list[dict]:
        with self._lock:
            return [
                dict(c) for c in self._calls
                if (order_id is None or order_id in c["order_ids"])
                and (operation is None or c["operation"] == operation)
            ]

    # ------------------------------------------------------------------ progression

    def progress(self) -> None:
        with self._lock:
            self._progress()

    def demo_tick(self, elapsed_seconds: float) -> list[str]:
        """Demo mode: orders at demo_orders_per_minute, fractions carried to the next tick."""
        rate = self.timings.demo_orders_per_minute
        if rate <= 0:
            self._demo_due = 0.0
            return []
        self._demo_due += rate * elapsed_seconds / 60
        due = int(self._demo_due)
        self._demo_due -= due
        return self.create_orders(due) if due else []

    def _progress(self) -> datetime:
        """Apply every transition now due; returns the clock's now. Lock held."""
        now = self.clock.now()
        for stored in self._store.live():
            while self._step(stored, now):
                pass
            refunds.step_refunds(self._store, stored, self.timings.refund_delay, now)
            self._store.track(stored)
        self._offers.progress(now, self.timings.offer_import_delay)
        return now

    def _step(self, stored: StoredOrder, now: datetime) -> bool:
        state = stored.raw["order_state"]
        delay: float | None
        if state == WAITING_ACCEPTANCE:
            due = stored.created + timedelta(seconds=self.config.acceptance_deadline)
            if now >= due:
                for line in stored.raw["order_lines"]:
                    line["order_line_state"] = CANCELED
                self._store.cancel_state(stored, "ACCEPTANCE_DEADLINE_EXCEEDED", due, now)
                log.info("sandbox_order_canceled", order_id=stored.raw["order_id"],
                         reason="ACCEPTANCE_DEADLINE_EXCEEDED")
                return True
            return False
        delay = {
            WAITING_DEBIT_PAYMENT: self.timings.payment_delay,
            SHIPPED: self.timings.receive_delay,
            RECEIVED: self.timings.close_delay,
        }.get(state)
        if delay is None:
            return False
        due = stored.state_since + timedelta(seconds=delay)
        if now < due:
            return False
        if state == WAITING_DEBIT_PAYMENT:
            self._settle(stored, not self._payment_refused(stored), due, now)
        elif state == SHIPPED:
            self._receive(stored, due, now)
        else:
            self._close(stored, due, now)
        return True

    def _payment_refused(self, stored: StoredOrder) -> bool:
        rate = self.timings.payment_refusal_rate
        if rate <= 0:
            return False
        # Drawn per order so a seed gives the same refusals whatever the timing of the ticks.
        rng = (random.Random(f"{self.config.seed}:{stored.raw['order_id']}")
               if self.config.seed is not None else self._rng)
        return rng.random() < rate

    def _settle(self, stored: StoredOrder, validate: bool, when: datetime, now: datetime) -> None:
        raw = stored.raw
        accepted = [ln for ln in raw["order_lines"]
                    if ln["order_line_state"] == WAITING_DEBIT_PAYMENT]
        if validate:
            raw["customer_debited_date"] = format_date(when)
            for line in accepted:
                line["order_line_state"] = SHIPPING
                line["debited_date"] = format_date(when)
            self._store.set_state(stored, SHIPPING, when, now)
            log.info("sandbox_payment_validated", order_id=raw["order_id"])
        else:
            for line in accepted:
                line["order_line_state"] = CANCELED
            self._store.cancel_state(stored, "PAYMENT_REFUSED", when, now)
            log.info("sandbox_payment_refused", order_id=raw["order_id"])

    def _receive(self, stored: StoredOrder, when: datetime, now: datetime) -> None:
        for line in stored.raw["order_lines"]:
            if line["order_line_state"] == SHIPPED:
                line["order_line_state"] = RECEIVED
                line["received_date"] = format_date(when)
        self._store.set_state(stored, RECEIVED, when, now)
        log.info("sandbox_order_received", order_id=stored.raw["order_id"])

    def _close(self, stored: StoredOrder, when: datetime, now: datetime) -> None:
        for line in stored.raw["order_lines"]:
            if line["order_line_state"] == RECEIVED:
                line["order_line_state"] = CLOSED
        self._store.set_state(stored, CLOSED, when, now)
        log.info("sandbox_order_closed", order_id=stored.raw["order_id"])
