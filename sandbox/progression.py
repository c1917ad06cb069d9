"""How orders move on after the seller's actions: over time on the sandbox clock, or by hand.

On the clock: an order not accepted within the acceptance deadline is cancelled, the payment is
validated (or refused, at payment_refusal_rate) after payment_delay, a shipped order is received
after receive_delay and closed after close_delay; refunds and offer imports move on after their
own delays. run() applies every move due by now; Marketplace calls it at the start of every
operation and from the background ticker, so a clock move is seen by the next request. The
control API makes the same moves by hand (settle_payment, receive, close), or forces any state.

Nothing here holds a lock: Marketplace calls the progression under its own.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta
from typing import Any

import structlog

from sandbox.clock import SandboxClock, format_date
from sandbox.config import SandboxConfig, Timings
from sandbox.errors import invalid_state
from sandbox.generator import random_state, set_random_state
from sandbox.offers import OfferBook
from sandbox.order_store import OrderStore, StoredOrder
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
from sandbox.refunds import step_refunds

log = structlog.get_logger("sandbox")


class Progression:
    """The marketplace's own moves, with the delays in timings (changed at run time)."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock, timings: Timings,
                 store: OrderStore, offers: OfferBook) -> None:
        self.config = config
        self.clock = clock
        self.timings = timings
        self.store = store
        self.offers = offers
        self._rng = random.Random(config.seed)

    def export_state(self) -> dict[str, Any]:
        return {"rng": random_state(self._rng)}

    def restore_state(self, state: dict[str, Any]) -> None:
        set_random_state(self._rng, state["rng"])

    def run(self) -> datetime:
        """Apply every move now due; returns the clock's now."""
        now = self.clock.now()
        for stored in self.store.live():
            while self._step(stored, now):
                pass
            step_refunds(self.store, stored, self.timings.refund_delay, now)
            self.store.track(stored)
        self.offers.progress(now, self.timings.offer_import_delay)
        return now

    # ------------------------------------------------------------------ by hand

    def settle_payment(self, order_id: str, validate: bool, now: datetime) -> RawOrder:
        """The customer's debit: validated -> SHIPPING, refused -> CANCELED (PAYMENT_REFUSED)."""
        stored = self.store.any_order(order_id)
        if stored.raw["order_state"] != WAITING_DEBIT_PAYMENT:
            raise invalid_state(stored.raw, "settle its payment")
        self._settle(stored, validate, now, now)
        return copy.deepcopy(stored.raw)

    def receive(self, order_id: str, now: datetime) -> RawOrder:
        """SHIPPED -> RECEIVED, as when the customer confirms delivery."""
        stored = self.store.any_order(order_id)
        if stored.raw["order_state"] != SHIPPED:
            raise invalid_state(stored.raw, "mark it received")
        self._receive(stored, now, now)
        return copy.deepcopy(stored.raw)

    def close(self, order_id: str, now: datetime) -> RawOrder:
        """The payout to the seller: SHIPPED or RECEIVED -> CLOSED."""
        stored = self.store.any_order(order_id)
        if stored.raw["order_state"] == SHIPPED:
            self._receive(stored, now, now)
        if stored.raw["order_state"] != RECEIVED:
            raise invalid_state(stored.raw, "close it")
        self._close(stored, now, now)
        return copy.deepcopy(stored.raw)

    def force_state(self, order_id: str, state: str, now: datetime) -> RawOrder:
        """Any state string, lines untouched: for tests of states the client does not know."""
        stored = self.store.any_order(order_id)
        self.store.set_state(stored, state, now, now)
        log.info("sandbox_state_forced", order_id=order_id, state=state)
        return copy.deepcopy(stored.raw)

    # ------------------------------------------------------------------ the moves

    def _step(self, stored: StoredOrder, now: datetime) -> bool:
        state = stored.raw["order_state"]
        delay: float | None
        if state == WAITING_ACCEPTANCE:
            due = stored.created + timedelta(seconds=self.config.acceptance_deadline)
            if now >= due:
                for line in stored.raw["order_lines"]:
                    line["order_line_state"] = CANCELED
                self.store.cancel_state(stored, "ACCEPTANCE_DEADLINE_EXCEEDED", due, now)
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
            self.store.set_state(stored, SHIPPING, when, now)
            log.info("sandbox_payment_validated", order_id=raw["order_id"])
        else:
            for line in accepted:
                line["order_line_state"] = CANCELED
            self.store.cancel_state(stored, "PAYMENT_REFUSED", when, now)
            log.info("sandbox_payment_refused", order_id=raw["order_id"])

    def _receive(self, stored: StoredOrder, when: datetime, now: datetime) -> None:
        for line in stored.raw["order_lines"]:
            if line["order_line_state"] == SHIPPED:
                line["order_line_state"] = RECEIVED
                line["received_date"] = format_date(when)
        self.store.set_state(stored, RECEIVED, when, now)
        log.info("sandbox_order_received", order_id=stored.raw["order_id"])

    def _close(self, stored: StoredOrder, when: datetime, now: datetime) -> None:
        for line in stored.raw["order_lines"]:
            if line["order_line_state"] == RECEIVED:
                line["order_line_state"] = CLOSED
        self.store.set_state(stored, CLOSED, when, now)
        log.info("sandbox_order_closed", order_id=stored.raw["order_id"])
