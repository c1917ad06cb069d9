"""The orders application: use cases over the Order aggregate, stored with eventsourcing.

Methods take and return plain values and aggregates; the HTTP layer and the marketplace sync
both call them. Time comes from an injected clock so that tests and the sandbox can move it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from app.config import Settings
from app.domain.actor import EVENT_ENVELOPE
from app.domain.errors import OrderNotFound, VersionConflict
from app.domain.order import LineQuantity, Order, order_id_for

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
# The log position of the last events this thread (or request) saved: read-your-writes.
last_saved_position: ContextVar[int | None] = ContextVar("last_saved_position", default=None)
# Builds the record that answers a command (an idempotency record); it is stored in the same
# transaction as the command's events.
Receipt = Callable[["Order"], Any] | None


def utc_now() -> datetime:
    return datetime.now(UTC)


def persistence_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's settings for our store; its table creation stays off."""
    if settings.dialect == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": settings.sqlite_path,
            "SQLITE_LOCK_TIMEOUT": str(settings.lock_timeout),
            "APPLICATION_RECORDER_TOPIC": "app.adapters.recorders:OrdersSQLiteRecorder",
            "CREATE_TABLE": "no",
        }
    params = settings.postgres_params()
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params["dbname"],
        "POSTGRES_HOST": params["host"],
        "POSTGRES_PORT": params["port"],
        "POSTGRES_USER": params["user"],
        "POSTGRES_PASSWORD": params["password"],
        "POSTGRES_LOCK_TIMEOUT": str(settings.lock_timeout),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_pool_size),
        "APPLICATION_RECORDER_TOPIC": "app.adapters.recorders:OrdersPostgresRecorder",
        "CREATE_TABLE": "no",
    }


@dataclass(frozen=True)
class HistoryEntry:
    type: str
    version: int
    timestamp: datetime
    data: dict[str, Any]
    actor: dict[str, str] | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class ImportResult:
    order: Order
    created: bool


class OrderService(Application[UUID]):
    """Imports orders, runs merchant commands and records marketplace transitions."""

    name = "orders"

    def __init__(self, env: Mapping[str, str] | None = None, *, clock: Clock = utc_now) -> None:
        super().__init__(env=env)
        self.clock = clock
        self._saved_listeners: list[Callable[[], None]] = []

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each write (wakes in-process projection runners)."""
        self._saved_listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            last_saved_position.set(recordings[-1].notification.id)
            for listener in self._saved_listeners:
                listener()
        return recordings

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
        entries = [
            HistoryEntry(
                type=type(e).__name__,
                version=e.originator_version,
                timestamp=e.timestamp,
                data={k: v for k, v in vars(e).items() if k not in EVENT_ENVELOPE},
                actor=vars(e).get("actor"),
                correlation_id=vars(e).get("correlation_id"),
            )
            for e in self.repository.event_store.get(order_id)
        ]
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
            self.save(order)
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
            self.save(*orders)
        except IntegrityError:
            return [self.import_order(**fields) for fields in batch]
        return [ImportResult(order, created=True) for order in orders]

    # ---------------------------------------------------------------- merchant commands

    def accept(
        self,
        order_id: UUID,
        *,
        expected_version: int | None = None,
        receipt: Receipt = None,
        origin: str = "merchant",
        at: datetime | None = None,
        refused_lines: list[str] | None = None,
    ) -> Order:
        return self._change(
            order_id,
            expected_version,
            lambda o: o.accept(at=at or self.clock(), origin=origin, refused_lines=refused_lines),
            receipt,
        )

    def refuse(
        self,
        order_id: UUID,
        *,
        reason: str,
        expected_version: int | None = None,
        receipt: Receipt = None,
        origin: str = "merchant",
    ) -> Order:
        return self._change(
            order_id, expected_version, lambda o: o.refuse(reason=reason, origin=origin), receipt
        )

    def ship(
        self,
        order_id: UUID,
        *,
        tracking_number: str,
        carrier: str,
        tracking_url: str | None = None,
        expected_version: int | None = None,
        receipt: Receipt = None,
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
            receipt,
        )

    def cancel(
        self,
        order_id: UUID,
        *,
        reason: str,
        lines: list[tuple[str, int]] | None = None,
        expected_version: int | None = None,
        receipt: Receipt = None,
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
            receipt,
        )

    def request_refund(
        self,
        order_id: UUID,
        *,
        reason: str,
        refund_shipping: bool,
        lines: list[tuple[str, int]] | None = None,
        expected_version: int | None = None,
        receipt: Receipt = None,
    ) -> Order:
        quantities = _line_quantities(lines)
        return self._change(
            order_id,
            expected_version,
            lambda o: o.request_refund(
                lines=quantities, refund_shipping=refund_shipping, reason=reason, at=self.clock()
            ),
            receipt,
        )

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

    # ---------------------------------------------------------------- plumbing

    def _change(
        self,
        order_id: UUID,
        expected_version: int | None,
        command: Callable[[Order], Any],
        receipt: Receipt = None,
    ) -> Order:
        order = self.get_order(order_id)
        if expected_version is not None and expected_version != order.version:
            raise VersionConflict(expected_version, order.version)
        version_before = order.version
        command(order)
        extra = {"idempotency": receipt(order)} if receipt is not None else {}
        try:
            self.save(order, **extra)
        except IntegrityError:
            # Someone else wrote the next version first: the caller must re-read and retry.
            raise VersionConflict(expected_version or version_before, None) from None
        return order


def _line_quantities(lines: list[tuple[str, int]] | None) -> list[LineQuantity] | None:
    if lines is None:
        return None
    return [LineQuantity(line_id, quantity) for line_id, quantity in lines]


def open_service(settings: Settings, *, clock: Clock = utc_now) -> OrderService:
    return OrderService(env=persistence_env(settings), clock=clock)


__all__ = ["HistoryEntry", "ImportResult", "OrderService", "open_service"]
