"""The orders application: use cases over the Order aggregate.

Methods take and return plain values and aggregates; the HTTP layer and the marketplace sync
both call them. Time comes from an injected clock so that tests and the sandbox can move it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from app.application.event_store import Clock, EventStore, HistoryEntry, utc_now
from app.domain.errors import OrderNotFound, VersionConflict
from app.domain.order import (
    CustomerDetails,
    LineQuantity,
    MarketplaceFlags,
    Order,
    order_id_for,
)
from app.ports.idempotency import IdempotencyClaim
from app.ports.stores import SentRefunds

log = structlog.get_logger(__name__)

@dataclass(frozen=True)
class ImportResult:
    order: Order
    created: bool


class OrderService:
    """Imports orders, runs merchant commands and records marketplace transitions."""

    def __init__(self, store: EventStore, *, clock: Clock = utc_now,
                 sent_refunds: SentRefunds | None = None) -> None:
        self.store = store
        self.clock = clock
        # Where the delivery of refund requests is known (the outbox); without it, a request
        # the marketplace has not acknowledged is taken as not sent.
        self.sent_refunds = sent_refunds

    @property
    def repository(self) -> Any:
        return self.store.repository

    def close(self) -> None:
        self.store.close()

    # ---------------------------------------------------------------- queries

    def get_order(self, order_id: UUID) -> Order:
        try:
            return self.repository.get(order_id)
        except AggregateNotFoundError:
            raise OrderNotFound(order_id) from None

    def find_order(self, channel: str, marketplace_order_id: str) -> Order | None:
        try:
            return self.repository.get(order_id_for(channel, marketplace_order_id))
        except AggregateNotFoundError:
            return None

    def history(self, order_id: UUID) -> list[HistoryEntry]:
        entries = self.store.history(order_id)
        if not entries:
            raise OrderNotFound(order_id)
        return entries

    # ---------------------------------------------------------------- import

    def import_order(self, **fields: Any) -> ImportResult:
        """Create the order once per (channel, marketplace order id); again returns the first."""
        existing = self.find_order(fields["channel"], fields["marketplace_order_id"])
        if existing is not None:
            return ImportResult(existing, created=False)
        order = Order.import_(**fields)
        try:
            self.store.save(order)
        except IntegrityError:
            # Another import of the same order won the race: theirs is the order.
            return ImportResult(self.get_order(order.id), created=False)
        log.info("order_imported", order_id=str(order.id), channel=order.channel,
                 marketplace_order_id=order.marketplace_order_id)
        return ImportResult(order, created=True)

    def import_orders(self, batch: Iterable[Mapping[str, Any]]) -> int:
        """Import many orders in one write; returns how many were new."""
        return sum(result.created for result in self.import_batch(batch))

    def import_batch(self, batch: Iterable[Mapping[str, Any]]) -> list[ImportResult]:
        """Import many orders in one write; falls back to one by one when some exist already."""
        batch = [dict(fields) for fields in batch]
        orders = [Order.import_(**fields) for fields in batch]
        try:
            self.store.save(*orders)
        except IntegrityError:
            return [self.import_order(**fields) for fields in batch]
        return [ImportResult(order, created=True) for order in orders]

    # ---------------------------------------------------------------- merchant commands

    def accept(
        self,
        order_id: UUID,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
        origin: str = "merchant",
        at: datetime | None = None,
        refused_lines: list[str] | None = None,
    ) -> Order:
        return self._change(
            order_id,
            expected_version,
            lambda o: o.accept(at=at or self.clock(), origin=origin, refused_lines=refused_lines),
            idempotency,
        )

    def refuse(
        self,
        order_id: UUID,
        *,
        reason: str,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
        origin: str = "merchant",
    ) -> Order:
        return self._change(
            order_id, expected_version, lambda o: o.refuse(reason=reason, origin=origin), idempotency
        )

    def ship(
        self,
        order_id: UUID,
        *,
        tracking_number: str,
        carrier: str,
        tracking_url: str | None = None,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
        origin: str = "merchant",
        at: datetime | None = None,
    ) -> Order:
        return self._change(
            order_id,
            expected_version,
            lambda o: o.ship(
                tracking_number=tracking_number,
                carrier=carrier,
                tracking_url=tracking_url,
                at=at or self.clock(),
                origin=origin,
            ),
            idempotency,
        )

    def cancel(
        self,
        order_id: UUID,
        *,
        reason: str,
        lines: list[tuple[str, int]] | None = None,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
        origin: str = "merchant",
        at: datetime | None = None,
    ) -> Order:
        quantities = _line_quantities(lines)
        return self._change(
            order_id,
            expected_version,
            lambda o: o.cancel(
                lines=quantities, reason=reason, at=at or self.clock(), origin=origin
            ),
            idempotency,
        )

    def request_refund(
        self,
        order_id: UUID,
        *,
        reason: str,
        refund_shipping: bool,
        lines: list[tuple[str, int]] | None = None,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Order:
        quantities = _line_quantities(lines)

        def request(order: Order) -> None:
            open_refund = order.open_refund
            sent = (open_refund is not None and self.sent_refunds is not None
                    and self.sent_refunds.refund_sent(order.id, open_refund.refund_id))
            order.request_refund(lines=quantities, refund_shipping=refund_shipping,
                                 reason=reason, at=self.clock(), open_refund_sent=sent)

        return self._change(order_id, expected_version, request, idempotency)

    # ---------------------------------------------------------------- marketplace transitions

    # `at` is the marketplace's own time of the change when the sync knows it.

    def validate_payment(self, order_id: UUID, *, at: datetime | None = None) -> Order:
        return self._change(order_id, None, lambda o: o.validate_payment(at=at or self.clock()))

    def refuse_payment(self, order_id: UUID, *, at: datetime | None = None) -> Order:
        return self._change(order_id, None, lambda o: o.refuse_payment(at=at or self.clock()))

    def expire(self, order_id: UUID, *, at: datetime | None = None) -> Order:
        return self._change(order_id, None, lambda o: o.expire(at=at or self.clock()))

    def cancel_by_marketplace(
        self, order_id: UUID, *, reason: str, at: datetime | None = None
    ) -> Order:
        return self._change(
            order_id, None, lambda o: o.cancel_by_marketplace(reason=reason, at=at or self.clock())
        )

    def mark_paid(self, order_id: UUID, *, at: datetime | None = None) -> Order:
        return self._change(order_id, None, lambda o: o.mark_paid(at=at or self.clock()))

    def submit_refund(self, order_id: UUID, refund_id: str, *, at: datetime | None = None) -> Order:
        return self._change(
            order_id, None, lambda o: o.submit_refund(refund_id, at=at or self.clock())
        )

    def approve_refund(
        self, order_id: UUID, refund_id: str, *, at: datetime | None = None
    ) -> Order:
        return self._change(
            order_id, None, lambda o: o.approve_refund(refund_id, at=at or self.clock())
        )

    def complete_refund(
        self, order_id: UUID, refund_id: str, *, at: datetime | None = None
    ) -> Order:
        return self._change(
            order_id, None, lambda o: o.complete_refund(refund_id, at=at or self.clock())
        )

    def refuse_refund(
        self, order_id: UUID, refund_id: str, *, reason: str, at: datetime | None = None
    ) -> Order:
        return self._change(
            order_id,
            None,
            lambda o: o.refuse_refund(refund_id, reason=reason, at=at or self.clock()),
        )

    def receive_customer_details(
        self,
        order_id: UUID,
        details: CustomerDetails,
        *,
        at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Order:
        """What the marketplace now shows of the customer (after acceptance on La Redoute)."""
        return self._change(
            order_id,
            expected_version,
            lambda o: o.receive_customer_details(details, at=at or self.clock()),
        )

    def update_marketplace_flags(
        self,
        order_id: UUID,
        flags: MarketplaceFlags,
        *,
        at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Order:
        return self._change(
            order_id,
            expected_version,
            lambda o: o.update_marketplace_flags(flags, at=at or self.clock()),
        )

    # ---------------------------------------------------------------- plumbing

    def _change(
        self,
        order_id: UUID,
        expected_version: int | None,
        command: Callable[[Order], Any],
        idempotency: IdempotencyClaim | None = None,
    ) -> Order:
        order = self.get_order(order_id)
        if expected_version is not None and expected_version != order.version:
            raise VersionConflict(expected_version, order.version)
        version_before = order.version
        command(order)
        try:
            self.store.save_command(order, idempotency)
        except IntegrityError:
            # Someone else wrote the next version first: the caller must re-read and retry.
            raise VersionConflict(expected_version or version_before, None) from None
        return order


def _line_quantities(lines: list[tuple[str, int]] | None) -> list[LineQuantity] | None:
    if lines is None:
        return None
    return [LineQuantity(line_id, quantity) for line_id, quantity in lines]


__all__ = ["ImportResult", "OrderService"]
