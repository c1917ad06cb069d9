"""The marketplace's one entry point and the one lock over all its state.

Every public method that reads or changes the state takes the lock once; most first bring the
marketplace up to date with the clock (the progression), then call a concern module that holds
no lock: the order store (creation, OR11, lookups), the seller's order actions (OR21, OR23, OR24,
OR29, OR30), refunds (OR28 and their progression), the progression of orders over time, and the
offer book (OF01, OF02, OF03, OF21). Nothing in those modules calls back in here, so the lock is
never taken twice. Only the shops (fixed at start) and the clock (its own lock) are read without.

Seller operations check Mirakl's rules and raise MiraklError with the status and code the real
API gives; the control operations let tests play the marketplace's part (payment, delivery,
payout, refund processing) by hand, move the clock, change delays and read the call log.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from sandbox import order_actions, refunds
from sandbox.clock import SandboxClock, format_date
from sandbox.config import OrderMoney, SandboxConfig, ShopConfig, Timings
from sandbox.generator import Delivery, OrderGenerator
from sandbox.offers import OfferBook, OfferQuery
from sandbox.order_actions import CancelRequest
from sandbox.order_store import OrderQuery, OrderStore
from sandbox.orders import RawOrder
from sandbox.progression import Progression
from sandbox.refunds import RefundRequest
from sandbox.visibility import AddressVisibility, as_seller_sees

log = structlog.get_logger("sandbox")


class Marketplace:
    """All sandbox state, behind one lock that each public method takes exactly once."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock | None = None) -> None:
        self.config = config
        self.clock = clock or SandboxClock(config.start_time)
        self.timings: Timings = replace(config.timings)
        self.address_visibility: AddressVisibility = config.address_visibility
        self.order_money = OrderMoney(config.order_tax_mode, config.taxes_enabled)
        self.shops = {shop.shop_id: shop for shop in config.shops}
        self._shops_by_key = {shop.api_key: shop for shop in config.shops}
        self._lock = threading.Lock()
        self._store = OrderStore(self.shops, OrderGenerator(
            config.seed, config.shipping_leadtime_days, self.order_money))
        self._offers = OfferBook(config.shipping_leadtime_days, config.offer_additional_fields)
        self._progression = Progression(config, self.clock, self.timings, self._store,
                                        self._offers)
        self._calls: list[dict[str, Any]] = []
        self._demo_due = 0.0

    # ------------------------------------------------------------------ auth

    def shop_for_key(self, api_key: str | None) -> ShopConfig | None:
        return self._shops_by_key.get(api_key or "")

    # ------------------------------------------------------------------ seller API: orders

    def list_orders(
        self, shop: ShopConfig, query: OrderQuery, duplicate_pages: bool = False
    ) -> tuple[list[RawOrder], int]:
        """OR11: the page of the shop's matching orders, by created date then order id."""
        with self._lock:
            self._progression.run()
            orders, total = self._store.list_orders(shop, query, duplicate_pages)
            return [as_seller_sees(raw, self.address_visibility) for raw in orders], total

    def accept(self, shop: ShopConfig, order_id: str, decisions: list[tuple[str, bool]]) -> None:
        """OR21: every line accepted or refused at once; all refused means the order is REFUSED."""
        with self._lock:
            now = self._progression.run()
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
            now = self._progression.run()
            order_actions.update_tracking(
                self._store, shop, order_id, now, carrier_code=carrier_code,
                carrier_name=carrier_name, carrier_url=carrier_url,
                tracking_number=tracking_number)

    def ship(self, shop: ShopConfig, order_id: str) -> None:
        """OR24: SHIPPING -> SHIPPED, for the order and each line still to ship."""
        with self._lock:
            now = self._progression.run()
            order_actions.ship(self._store, shop, order_id, now)

    def refund(self, shop: ShopConfig, requests: list[RefundRequest]) -> dict[str, Any]:
        """OR28: all refunds or none; never more than what is left to refund on a line."""
        with self._lock:
            now = self._progression.run()
            return refunds.request_refunds(self._store, shop, requests, now)

    def cancel_order(self, shop: ShopConfig, order_id: str) -> None:
        """OR29: the whole order, while it can still be cancelled (accepted, paid, not shipped)."""
        with self._lock:
            now = self._progression.run()
            order_actions.cancel_order(self._store, shop, order_id, now)

    def cancel_lines(self, shop: ShopConfig, requests: list[CancelRequest]) -> dict[str, Any]:
        """OR30: cancel quantities on lines; an order left with nothing is CANCELED."""
        with self._lock:
            now = self._progression.run()
            return order_actions.cancel_lines(self._store, shop, requests, now)

    # ------------------------------------------------------------------ seller API: offers

    def import_offers(self, shop: ShopConfig, mode: str, content: bytes,
                      filename: str | None) -> dict[str, Any]:
        """OF01: the file is kept as sent and read later, by the progression or the control API."""
        with self._lock:
            now = self._progression.run()
            imported = self._offers.new_import(shop.shop_id, mode, content, filename, now)
            self._progression.run()  # a delay of 0 processes it at once
            return imported.as_of02()

    def offer_import(self, shop: ShopConfig, import_id: int) -> dict[str, Any]:
        """OF02."""
        with self._lock:
            self._progression.run()
            return self._offers.shop_import(shop.shop_id, import_id).as_of02()

    def offer_import_error_report(self, shop: ShopConfig, import_id: int) -> bytes:
        """OF03: only a complete import with lines in error has a report."""
        with self._lock:
            self._progression.run()
            return self._offers.error_report(shop.shop_id, import_id)

    def offer_additional_fields(self) -> list[dict[str, Any]]:
        """AF01: the offer additional fields the shops declare."""
        return self._offers.declared_fields()

    def list_offers(self, shop: ShopConfig, query: OfferQuery,
                    duplicate_pages: bool = False) -> tuple[list[dict[str, Any]], int]:
        """OF21: the shop's offers as the marketplace shows them now."""
        with self._lock:
            now = self._progression.run()
            return self._offers.list_offers(shop.shop_id, query, now, duplicate_pages)

    # ------------------------------------------------------------------ control: offers

    def complete_offer_import(self, import_id: int) -> dict[str, Any]:
        """Process a waiting import now; one already processed is left as it is."""
        with self._lock:
            now = self._progression.run()
            return self._offers.complete(import_id, now).summary()

    def offer_imports(self, shop_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self._progression.run()
            return [i.summary() for i in self._offers.imports(shop_id)]

    def raw_offers(self, shop_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self._progression.run()
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
        with self._lock:
            self._store.check_shop(shop_id)  # an unknown shop is refused before anything moves
            now = self._progression.run()
            return self._store.create(count, now, shop_id=shop_id, lines=lines,
                                      delivery=delivery, corrupt=corrupt)

    def raw_order(self, order_id: str) -> RawOrder:
        with self._lock:
            self._progression.run()
            return copy.deepcopy(self._store.any_order(order_id).raw)

    def set_flags(self, order_id: str, flags: dict[str, bool]) -> RawOrder:
        """The customer wrote about the order, or an incident opened or closed on it."""
        with self._lock:
            now = self._progression.run()
            stored = self._store.any_order(order_id)
            stored.raw.update(flags)
            self._store.touch(stored, now, lines=[])
            return copy.deepcopy(stored.raw)

    def settle_payment(self, order_id: str, validate: bool) -> RawOrder:
        """The customer's debit: validated -> SHIPPING, refused -> CANCELED (PAYMENT_REFUSED)."""
        with self._lock:
            now = self._progression.run()
            return self._progression.settle_payment(order_id, validate, now)

    def receive(self, order_id: str) -> RawOrder:
        """SHIPPED -> RECEIVED, as when the customer confirms delivery."""
        with self._lock:
            now = self._progression.run()
            return self._progression.receive(order_id, now)

    def close(self, order_id: str) -> RawOrder:
        """The payout to the seller: SHIPPED or RECEIVED -> CLOSED."""
        with self._lock:
            now = self._progression.run()
            return self._progression.close(order_id, now)

    def force_state(self, order_id: str, state: str) -> RawOrder:
        """Any state string, lines untouched: for tests of states the client does not know."""
        with self._lock:
            now = self._progression.run()
            return self._progression.force_state(order_id, state, now)

    def refund_action(self, refund_id: str, action: str, reason: str | None) -> dict[str, Any]:
        """Move a refund one step on (advance) or refuse it with La Redoute's reason."""
        with self._lock:
            now = self._progression.run()
            return refunds.refund_action(self._store, refund_id, action, reason, now)

    # ------------------------------------------------------------------ control: clock, settings

    def advance_clock(self, seconds: float) -> datetime:
        with self._lock:
            self.clock.advance(seconds)
            return self._progression.run()

    def now(self) -> datetime:
        return self.clock.now()

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return self._settings()

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for name, value in changes.items():
                if name == "address_visibility":
                    self.address_visibility = value
                elif hasattr(self.order_money, name):
                    setattr(self.order_money, name, value)
                else:
                    setattr(self.timings, name, value)
            log.info("sandbox_settings_changed", **changes)
            self._progression.run()
            return self._settings()

    def _settings(self) -> dict[str, Any]:
        return {**self.timings.as_dict(), "address_visibility": self.address_visibility,
                **self.order_money.as_dict()}

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

    # ------------------------------------------------------------------ saved state

    def export_state(self) -> dict[str, Any]:
        """What a restarted sandbox needs to go on where this one is: the clock's offset, the
        orders and their refunds and cancelations, the offers and offer imports, the id
        sequences and the random generators. The delays (timings), the call log and the faults
        are not part of it: a start takes its delays from its own configuration."""
        with self._lock:
            return {
                "clock_offset_seconds": self.clock.offset_seconds(),
                "demo_due": self._demo_due,
                "orders": self._store.export_state(),
                "offers": self._offers.export_state(),
                "progression": self._progression.export_state(),
            }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Replace the whole state by one export_state() gave (KeyError, TypeError or
        ValueError when it is not such a state)."""
        with self._lock:
            self._store.restore_state(state["orders"])
            self._offers.restore_state(state["offers"])
            self._progression.restore_state(state["progression"])
            self._demo_due = float(state["demo_due"])
            self.clock.restore_offset(float(state["clock_offset_seconds"]))

    # ------------------------------------------------------------------ background ticker

    def progress(self) -> None:
        """Apply every move now due, even when nobody calls."""
        with self._lock:
            self._progression.run()

    def demo_tick(self, elapsed_seconds: float) -> list[str]:
        """Demo mode: orders at demo_orders_per_minute, fractions carried to the next tick."""
        with self._lock:
            rate = self.timings.demo_orders_per_minute
            if rate <= 0:
                self._demo_due = 0.0
                return []
            self._demo_due += rate * elapsed_seconds / 60
            due = int(self._demo_due)
            self._demo_due -= due
            if not due:
                return []
            now = self._progression.run()
            return self._store.create(due, now)
