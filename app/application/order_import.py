"""Order import: reads the marketplace's orders (OR11) and brings ours level with them.

A round reads every page of the orders updated since the channel's cursor minus an overlap
window, imports the new ones and turns the marketplace's changes (payment validated or
refused, cancelled, shipped, closed, refunds moving) into the matching events. What the
marketplace shows of the customer only after acceptance (addresses, phones, notification
email) becomes one CustomerDetailsReceived event when it first appears or changes, and its
flags and shipping deadline a MarketplaceFlagsChanged event when they change. It is safe to
repeat: an order's id is derived from (channel, marketplace order id), transitions only move
forward and check the order's current state, and an order whose marketplace state and update
date were already handled is skipped. So overlaps, retried pages, a worker killed mid-page
or two workers at once never import or apply anything twice. An order that cannot be read is
recorded in `import_errors` with the reason and does not stop the others.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Full, Queue
from typing import Any
from uuid import UUID

import orjson
import structlog

from app.application.orders import OrderService
from app.application.reference_data import REFUSAL, ChannelReference
from app.domain.errors import DomainError, VersionConflict
from app.domain.order import (
    Order,
    OrderStatus,
    RefundRefusalReason,
    RefundStatus,
    order_id_for,
)
from app.ports.marketplace import (
    Marketplace,
    MarketplaceError,
    MarketplaceOrder,
    OrdersPage,
    UnparsableOrder,
)
from app.ports.stores import Action, SyncStore, refund_links_of

log = structlog.get_logger(__name__)

DEADLINE_REASON = "ACCEPTANCE_DEADLINE_EXCEEDED"
PAYMENT_REFUSED_REASON = "PAYMENT_REFUSED"
# Marketplace statuses at or past acceptance, in the order an order moves through them.
_ACCEPTED_OR_LATER = {OrderStatus.ACCEPTED, OrderStatus.TOSHIP, OrderStatus.SHIPPED, OrderStatus.PAID}
_PAID_OR_LATER = {OrderStatus.TOSHIP, OrderStatus.SHIPPED, OrderStatus.PAID}
_SHIPPED_OR_LATER = {OrderStatus.SHIPPED, OrderStatus.PAID}
_OPEN_REFUND = {RefundStatus.TO_REFUND, RefundStatus.TO_APPROVE, RefundStatus.REFUNDING}


@dataclass
class ImportRun:
    """What one round did."""

    pages: int = 0
    fetched: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    cursor: float | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    imported_ids: list[str] = field(default_factory=list)


class OrderImporter:
    """Imports one channel's orders from its Mirakl shop."""

    def __init__(
        self,
        service: OrderService,
        store: SyncStore,
        marketplace: Marketplace,
        *,
        auto_accept: bool = False,
        overlap: float = 300.0,
        page_size: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.store = store
        self.marketplace = marketplace
        self.channel = marketplace.channel
        # The configuration's choice; an admin's choice in channel_settings overrides it.
        self.configured_auto_accept = auto_accept
        self.auto_accept = auto_accept
        self.overlap = overlap
        self.page_size = page_size
        self.clock = clock

    # ---------------------------------------------------------------- a round

    def run(self, heartbeat: Callable[[], None] = lambda: None) -> ImportRun:
        """Read every page updated since the cursor (minus the overlap) and apply it.

        The cursor moves only once every page is done, to the latest marketplace update date
        seen: a round cut short is read again from the old cursor, which is harmless.
        """
        run = ImportRun(started_at=self.clock())
        chosen = self.store.auto_accept(self.channel)
        self.auto_accept = self.configured_auto_accept if chosen is None else chosen
        cursor = self.store.cursor(self.channel)
        since = None if cursor is None else datetime.fromtimestamp(cursor - self.overlap, UTC)
        latest = cursor
        try:
            pages = self.marketplace.iter_order_pages(start_update_date=since, page_size=self.page_size)
            for page in _prefetched(pages):
                run.pages += 1
                run.fetched += len(page.orders)
                page_latest = self.sync_page(page.orders, run)
                if page_latest is not None and (latest is None or page_latest > latest):
                    latest = page_latest
                heartbeat()
        except Exception as exc:
            self.store.record_run_error(self.channel, f"{type(exc).__name__}: {exc}", at=self.clock())
            raise
        run.cursor = latest
        run.finished_at = self.clock()
        self.store.save_cursor(self.channel, latest, at=run.finished_at, orders=run.fetched)
        (log.info if run.fetched or run.errors else log.debug)(
            "orders_import_round",
            channel=self.channel,
            pages=run.pages,
            fetched=run.fetched,
            imported=run.imported,
            updated=run.updated,
            unchanged=run.unchanged,
            errors=run.errors,
            seconds=round(run.finished_at - run.started_at, 3),
        )
        return run

    # ---------------------------------------------------------------- a page

    def sync_page(self, raws: Sequence[Mapping[str, Any]], run: ImportRun | None = None) -> float | None:
        """Apply one page of OR11 orders; returns the latest update date on it (epoch)."""
        run = run or ImportRun()
        now = self.clock()
        views: dict[str, tuple[MarketplaceOrder, Mapping[str, Any]]] = {}
        digests: dict[str, str] = {}
        latest: float | None = None
        for raw in raws:
            try:
                view = self.marketplace.read_order(raw)
            except Exception as exc:  # noqa: BLE001 - one unreadable order never stops the page
                marketplace_id = str(raw.get("order_id") or "?") if isinstance(raw, Mapping) else "?"
                self._error(marketplace_id, "unparsable", str(exc), getattr(exc, "field", None),
                            None, now)
                run.errors += 1
                continue
            stamp = view.last_updated.timestamp()
            latest = stamp if latest is None or stamp > latest else latest
            known = views.get(view.order_id)
            if known is None or known[0].last_updated <= view.last_updated:
                views[view.order_id] = (view, raw)
                digests[view.order_id] = _digest(raw)

        seen = self.store.seen(self.channel, list(views))
        todo: list[tuple[MarketplaceOrder, Mapping[str, Any]]] = []
        for order_id, (view, raw) in views.items():
            if seen.get(order_id) == digests[order_id]:
                run.unchanged += 1
                continue
            if view.status is None:
                if view.state != "STAGING":
                    self._error(order_id, "unknown_state",
                                f"unknown marketplace order state {view.state!r}", "order_state",
                                view.state, now)
                    run.errors += 1
                continue
            todo.append((view, raw))

        # Our id of each order, derived once (a name-based UUID is not free).
        ids = {view.order_id: order_id_for(self.channel, view.order_id) for view, _ in todo}
        existing = self.store.existing_orders(list(ids.values()))
        new = [(v, r) for v, r in todo if ids[v.order_id] not in existing]
        imported, present = self._import_new(new, run, now, ids)

        done: list[tuple[str, str, float, str]] = []
        for view, _raw in todo:
            oid = ids[view.order_id]
            if oid not in existing and oid not in present:
                continue
            try:
                changed = self.reconcile(oid, view, present.get(oid))
            except (DomainError, UnparsableOrder) as exc:
                self._error(view.order_id, "unreconciled", str(exc), getattr(exc, "field", None),
                            view.state, now)
                run.errors += 1
                continue
            if oid in imported:
                if self.auto_accept and view.status == OrderStatus.CREATED:
                    self._auto_accept(oid)
            elif changed:
                run.updated += 1
            done.append((view.order_id, view.state, view.last_updated.timestamp(),
                         digests[view.order_id]))
        self.store.mark_seen(self.channel, done, at=now)
        return latest

    def _import_new(
        self, new: list[tuple[MarketplaceOrder, Mapping[str, Any]]], run: ImportRun, now: float,
        ids: Mapping[str, UUID] | None = None,
    ) -> tuple[set[UUID], dict[UUID, Order]]:
        """Import the new orders; returns the ids created here and each order now stored."""
        batch: list[dict[str, Any]] = []
        for view, raw in new:
            try:
                batch.append(self.marketplace.new_order(raw, view))
            except UnparsableOrder as exc:
                self._error(view.order_id, "unparsable", str(exc), exc.field, view.state, now)
                run.errors += 1
        if not batch:
            return set(), {}
        try:
            results = self.service.import_batch(batch)
            created = {r.order.id for r in results if r.created}
            present = {r.order.id: r.order for r in results}
        except DomainError:
            # One order breaks a rule: import them one by one to find and record it.
            created, present = set(), {}
            for fields in batch:
                try:
                    result = self.service.import_order(**fields)
                except DomainError as exc:
                    self._error(fields["marketplace_order_id"], "unparsable", str(exc),
                                getattr(exc, "field", None), None, now)
                    run.errors += 1
                    continue
                present[result.order.id] = result.order
                if result.created:
                    created.add(result.order.id)
        run.imported += len(created)
        ids = ids or {}
        run.imported_ids.extend(
            mid for mid in (f["marketplace_order_id"] for f in batch)
            if (ids.get(mid) or order_id_for(self.channel, mid)) in created
        )
        return created, present

    def _auto_accept(self, order_id: UUID) -> None:
        """Accept a new order; a line whose offer has no stock is refused, and an order whose
        every line is out of stock is refused.

        OR21 refuses an order with every line `accepted: false` and carries no reason, so the
        refusal's reason is our record only; like a merchant's refusal it is one of the
        channel's marketplace reasons of type CANCELATION: its out-of-stock one (code
        OUT_OF_STOCK, else the first whose code or label speaks of stock). A channel that
        lists none, or whose reasons cannot be read, gets no refusal: the order stays CREATED
        for the merchant to decide, and a warning names the valid codes.
        """
        try:
            order = self.service.get_order(order_id)
            empty = self.store.out_of_stock(self.channel, [line.sku for line in order.lines])
            refused = [line.line_id for line in order.lines if line.sku in empty]
            if not (refused and len(refused) == len(order.lines)):
                self.service.accept(order_id, refused_lines=refused)
                return
            reference = getattr(self, "reference", None)
            if reference is None:
                reference = self.reference = ChannelReference({self.channel: self.marketplace},
                                                              clock=self.clock)
            try:
                listing = reference.reasons(self.channel)
            except MarketplaceError as exc:
                log.warning("auto_accept_reasons_unavailable", order_id=str(order_id),
                            error=str(exc))
                return
            usable = [r for r in (listing.items if listing else ())
                      if r.type == REFUSAL and r.is_shop_right]
            found = next((r for r in usable if r.code.casefold() == "out_of_stock"), None) or next(
                (r for r in usable
                 if any(w in f"{r.code} {r.label}".casefold() for w in ("stock", "rupture"))),
                None,
            )
            if found is None:
                log.warning("auto_accept_no_out_of_stock_reason", order_id=str(order_id),
                            valid_codes=[r.code for r in usable])
                return
            self.service.refuse(order_id, reason=found.code)
        except DomainError as exc:
            log.warning("auto_accept_refused", order_id=str(order_id), error=str(exc))

    def _error(
        self, marketplace_id: str, kind: str, reason: str, field: str | None, state: str | None,
        now: float,
    ) -> None:
        log.warning("order_import_error", channel=self.channel, marketplace_order_id=marketplace_id,
                    kind=kind, reason=reason, field=field)
        self.store.record_error(self.channel, marketplace_id, kind=kind, reason=reason,
                                field=field, state=state, at=now)

    # ---------------------------------------------------------------- one order

    def reconcile(
        self, order_id: UUID, view: MarketplaceOrder, order: Order | None = None,
        attempts: int = 3,
    ) -> bool:
        """Move our order forward to the marketplace's state; True if anything changed.

        `order` is the order as just read or imported, when the caller has it.
        """
        for attempt in range(attempts):
            try:
                return self._reconcile(order_id, view, order if attempt == 0 else None)
            except VersionConflict:
                # Another writer (the API, another worker) got there first: read again.
                if attempt == attempts - 1:
                    raise
        return False

    def _reconcile(self, order_id: UUID, view: MarketplaceOrder, order: Order | None) -> bool:
        changed = False
        at = view.last_updated
        order = order or self.service.get_order(order_id)
        for _ in range(8):
            step = self._next_step(order, view, at)
            if step is None:
                break
            order = step()
            changed = True
        # After the transitions, so that a lead time counts from the acceptance just recorded.
        if view.details is not None and order.has_new_customer_details(view.details):
            order = self.service.receive_customer_details(
                order_id, view.details, at=at, expected_version=order.version
            )
            changed = True
        if view.flags is not None and order.has_new_flags(view.flags):
            order = self.service.update_marketplace_flags(
                order_id, view.flags, at=at, expected_version=order.version
            )
            changed = True
        if not order.refunds and not view.refunds:
            return changed
        return self._reconcile_refunds(order_id, view, at) or changed

    def _next_step(
        self, order: Order, view: MarketplaceOrder, at: datetime
    ) -> Callable[[], Any] | None:
        """The one transition that brings `order` closer to the marketplace's state, if any."""
        service, target, oid = self.service, view.status, order.id
        version = order.version
        current = order.fulfilment_status
        reason = view.reason_code or "canceled on the marketplace"
        if current == OrderStatus.CREATED:
            if target in _ACCEPTED_OR_LATER:
                accepted_at = view.acceptance_decision_date or at
                refused = [line.line_id for line in view.lines if line.state == "REFUSED"]
                return lambda: service.accept(oid, expected_version=version, origin="marketplace",
                                              at=min(accepted_at, order.acceptance_deadline),
                                              refused_lines=refused)
            if target == OrderStatus.REFUSED:
                return lambda: service.refuse(oid, reason=view.reason_code or "refused on the marketplace",
                                              expected_version=version, origin="marketplace")
            if target == OrderStatus.CANCELED:
                if view.reason_code == DEADLINE_REASON and at >= order.acceptance_deadline:
                    return lambda: service.expire(oid, at=at)
                return lambda: service.cancel_by_marketplace(oid, reason=reason, at=at)
            return None
        if current == OrderStatus.ACCEPTED:
            if target in _PAID_OR_LATER:
                return lambda: service.validate_payment(oid, at=at)
            if target == OrderStatus.CANCELED:
                if view.reason_code == PAYMENT_REFUSED_REASON:
                    return lambda: service.refuse_payment(oid, at=at)
                return lambda: service.cancel_by_marketplace(oid, reason=reason, at=at)
            return None
        if current == OrderStatus.TOSHIP:
            canceled = self._canceled_on_marketplace(order, view)
            if canceled:
                return lambda: service.cancel(oid, reason=reason, lines=canceled,
                                              expected_version=version, origin="marketplace", at=at)
            if target in _SHIPPED_OR_LATER:
                shipping = view.shipping
                if shipping is None or not shipping.tracking_number:
                    raise UnparsableOrder("shipping_tracking",
                                          "the order is shipped on the marketplace without tracking")
                carrier = shipping.carrier_name or shipping.carrier_code or "unknown"
                return lambda: service.ship(
                    oid, tracking_number=shipping.tracking_number, carrier=carrier,
                    tracking_url=shipping.tracking_url, expected_version=version,
                    origin="marketplace", at=at,
                )
            if target == OrderStatus.CANCELED:
                return lambda: service.cancel_by_marketplace(oid, reason=reason, at=at)
            return None
        if current == OrderStatus.SHIPPED and target == OrderStatus.PAID:
            return lambda: service.mark_paid(oid, at=at)
        return None

    @staticmethod
    def _canceled_on_marketplace(order: Order, view: MarketplaceOrder) -> list[tuple[str, int]]:
        """Quantities the marketplace shows cancelled beyond what our order records."""
        extra = []
        for mline in view.lines:
            line = order.line(mline.line_id)
            if line is not None and mline.canceled_quantity > line.canceled_quantity:
                extra.append((line.line_id, mline.canceled_quantity - line.canceled_quantity))
        return extra

    def _reconcile_refunds(self, order_id: UUID, view: MarketplaceOrder, at: datetime) -> bool:
        actions = self.store.actions_of(order_id)
        links = refund_links_of(actions)
        changed = self._follow_refunds(order_id, view, at, links) if links else False
        self._check_foreign_refunds(view, links, actions)
        return changed

    @staticmethod
    def _check_foreign_refunds(
        view: MarketplaceOrder, links: dict[str, list[str]], actions: Sequence[Action]
    ) -> None:
        """Refunds made on the marketplace that none of our requests created are reported.

        While one of our refund requests is still on its way its refunds may not be linked
        yet (its answer was lost): they are not reported then.
        """
        ours = {mid for ids in links.values() for mid in ids}
        foreign = sorted(r.id for r in view.refunds if r.id not in ours)
        if not foreign:
            return
        if any(a.kind == "refund" and a.state in ("pending", "sent") for a in actions):
            return
        raise UnparsableOrder(
            "order_lines.refunds",
            f"refunds {', '.join(foreign)} were made on the marketplace, not asked for here",
        )

    def _follow_refunds(
        self, order_id: UUID, view: MarketplaceOrder, at: datetime, links: dict[str, list[str]]
    ) -> bool:
        by_id = {r.id: r for r in view.refunds}
        changed = False
        for _ in range(8):
            order = self.service.get_order(order_id)
            step = None
            for refund in order.refunds:
                if refund.status not in _OPEN_REFUND or refund.refund_id not in links:
                    continue
                found = [by_id[mid] for mid in links[refund.refund_id] if mid in by_id]
                if not found:
                    continue
                step = self._refund_step(order_id, refund.refund_id, refund.status,
                                         [m.status for m in found],
                                         next((m.refusal_reason for m in found if m.refusal_reason), None),
                                         at)
                if step is not None:
                    break
            if step is None:
                break
            step()
            changed = True
        # The spec has no refused refund state: a refund the marketplace will not pay may only
        # show by its absence. One of ours that left no trace on the order is not guessed to
        # be refused (the domain needs the marketplace's reason): it stays open, and the
        # import error names it for the operator.
        gone = [
            refund.refund_id for refund in self.service.get_order(order_id).refunds
            if refund.status in _OPEN_REFUND and links.get(refund.refund_id)
            and not any(mid in by_id for mid in links[refund.refund_id])
        ]
        if gone:
            raise UnparsableOrder(
                "order_lines.refunds",
                "refunds " + ", ".join(f"{rid} ({', '.join(links[rid])})" for rid in gone)
                + " are no longer on the marketplace's order: refused or withdrawn there",
            )
        return changed

    def _refund_step(
        self,
        order_id: UUID,
        refund_id: str,
        ours: RefundStatus,
        theirs: list[RefundStatus | None],
        refusal: str | None,
        at: datetime,
    ) -> Callable[[], Any] | None:
        service = self.service
        if RefundStatus.REFUND_REFUSED in theirs:
            reason = refusal if refusal in set(RefundRefusalReason) else None
            if reason is None:
                raise UnparsableOrder("refusal_reason",
                                      f"refund refused for an unknown reason {refusal!r}")
            return lambda: service.refuse_refund(order_id, refund_id, reason=reason, at=at)
        if any(s is None for s in theirs):
            return None
        if ours == RefundStatus.TO_REFUND:
            return lambda: service.submit_refund(order_id, refund_id, at=at)
        advanced = {RefundStatus.REFUNDING, RefundStatus.REFUNDED}
        if ours == RefundStatus.TO_APPROVE and all(s in advanced for s in theirs):
            return lambda: service.approve_refund(order_id, refund_id, at=at)
        if ours == RefundStatus.REFUNDING and all(s == RefundStatus.REFUNDED for s in theirs):
            return lambda: service.complete_refund(order_id, refund_id, at=at)
        return None


def _prefetched(pages: Iterator[OrdersPage]) -> Iterator[OrdersPage]:
    """The same pages, the next one fetched while the caller works on the current one."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        queue.put(("page", page), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            queue.put(("error", exc))

    thread = threading.Thread(target=fetch, name="or11-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


def _digest(raw: Mapping[str, Any]) -> str:
    """A fingerprint of the whole order: its update date alone is only to the second."""
    return hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str), digest_size=16).hexdigest()


__all__ = ["ImportRun", "OrderImporter"]
