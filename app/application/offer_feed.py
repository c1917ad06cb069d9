"""The offer feed: our offers sent to the marketplace as OF01 files, and what became of them.

One feed per channel, run as the periodic job `offers:<channel>`. Each round:

1. Follows the imports still running (OF02). When one is COMPLETE, its error report (OF03)
   says which lines the marketplace refused: those offers are `rejected` with its message, the
   others of the import are `live`. When it FAILED (the file could not be read), every offer
   of it is pending again, to be sent with the next file; the reason is kept on the import.
2. When no import is running, sends every pending valid offer in one file (import mode
   NORMAL, never REPLACE: an offer we do not send is left as it is) if a feed is due: at the
   configured hours (04:00, 08:00, 12:00, 16:00, 20:00 Paris time by default), or at once
   when an offer the marketplace has was set to quantity 0 (a stock-out must not wait hours
   while orders come in). The offers read model tells the job of such a stock-out as soon
   as it shows it (`OffersProjection.on_stock_out`), so the round comes within seconds, not
   at the next minute; the periodic round stays the safety net.

While an import runs, `next_round_in` asks for the next round soon: OF02 is read a second
after the file, then at twice the import's age each time (2, 4, 8... seconds), at most a
round interval apart.

Offers the marketplace refused because it does not know their product yet are pending
again a day after that refusal: the seller guide (3.2.1 "Product feed") says a new product
takes 24 hours to be processed (48 the first time) and its offers cannot be sent until the
next day. Each refusal brings a new try a day later.

`offer_sync` keeps, per offer, the version last sent and the import it went in. An offer
changed while its import runs has a newer version than the one sent: it stays pending and
goes in the next file, so nothing is lost between imports. A file the marketplace did not
take (OF01 refused or unreachable) records nothing: its offers are still pending next round.

Special operations are sent at once, apart from the cadence: the import id the marketplace
gives is kept on each offer as the operation's batch id.

A file carries the standard offer columns and the additional fields the channel's shop
declares (AF01, kept a day by `ChannelReference`); an offer value whose field the shop does
not declare is not sent, and the feed says so once per value with an `offer_field_not_sent`
warning. Without the declared fields (AF01 never read) no file is sent: the offers stay
pending. A FAILED import has the declared fields read again before the next file, since the
marketplace may have stopped taking one of them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from app.application.offers import OfferService
from app.application.reference_data import ChannelReference
from app.domain.actor import Actor, acting_as, current_correlation_id
from app.domain.errors import DomainError, OfferNotFound, VersionConflict
from app.domain.offer import Offer, offer_id_for
from app.ports.marketplace import (
    Marketplace,
    MarketplaceError,
    SendableOffer,
    UpstreamRefused,
    UpstreamUnavailable,
)
from app.ports.stores import (
    RUNNING,
    Leases,
    OfferFeedStore,
    OfferImportRecord,
    OfferRows,
    PendingOffer,
)

log = structlog.get_logger(__name__)

DEFAULT_FEED_HOURS: tuple[int, ...] = (4, 8, 12, 16, 20)
DEFAULT_FEED_TIMEZONE = "Europe/Paris"
FEED_INTERVAL = 60.0  # seconds between rounds of the feed job
FIRST_POLL = 1.0  # seconds from an import sent to its first OF02
PRODUCT_RETRY_AFTER = 24 * 3600.0  # seller guide 3.2.1: offers of a new product the next day
# How the error report says that the marketplace does not know the product (lowercase):
# the sandbox's line error, and the OF03 example of the specification.
PRODUCT_UNKNOWN_MESSAGES: tuple[str, ...] = ("product not found", "product does not exist")


def product_unknown(message: str | None) -> bool:
    """Is this refusal the marketplace not knowing the product (yet)?"""
    text = (message or "").lower()
    return any(known in text for known in PRODUCT_UNKNOWN_MESSAGES)


def poll_delay(age: float, *, first: float = FIRST_POLL, cap: float = FEED_INTERVAL) -> float:
    """Seconds until the next OF02 of an import sent `age` seconds ago: its age again (so
    polls come at 1, 2, 4, 8... seconds), at least `first` and at most `cap`."""
    return min(cap, max(first, age))


# ==================================================================== the cadence


@dataclass(frozen=True)
class Cadence:
    """Where `now` stands in the feed's day: the slot last passed, the next one, and whether
    a feed is due (none has started since the slot last passed)."""

    due: bool
    latest_slot: datetime
    next_slot: datetime


def feed_cadence(
    now: datetime,
    last_start: datetime | None,
    *,
    hours: Sequence[int] = DEFAULT_FEED_HOURS,
    timezone: str = DEFAULT_FEED_TIMEZONE,
) -> Cadence:
    """Is a feed due at `now`, given when the last one started, and when is the next slot?

    Slots are wall-clock hours in `timezone`, so they follow its summer and winter time: on
    the day clocks go forward an hour that does not exist is taken as the same instant an
    hour later (02:00 is 03:00), on the day they go back an hour that happens twice counts
    once, the first time. Instants are compared in UTC.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must carry a time zone")
    if last_start is not None and (last_start.tzinfo is None or last_start.utcoffset() is None):
        raise ValueError("last_start must carry a time zone")
    if not hours:
        raise ValueError("hours is empty: give at least one hour of the day")
    if any(not 0 <= hour <= 23 for hour in hours):
        raise ValueError("hours are hours of the day, 0 to 23")
    zone = ZoneInfo(timezone)
    now_utc = now.astimezone(UTC)
    today = now_utc.astimezone(zone).date()
    slots = sorted({
        datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)
        for day in (today - timedelta(days=1), today, today + timedelta(days=1))
        for hour in hours
    })
    latest = max(slot for slot in slots if slot <= now_utc)
    following = min(slot for slot in slots if slot > now_utc)
    due = last_start is None or last_start.astimezone(UTC) < latest
    return Cadence(due=due, latest_slot=latest.astimezone(zone),
                   next_slot=following.astimezone(zone))


# ==================================================================== the feed


class FeedBusy(DomainError):
    """Another process is running this channel's feed right now."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"the offer feed of {channel} is running elsewhere; try again shortly")
        self.channel = channel


class NothingToSend(DomainError):
    """None of the offers asked for can be sent (every one has errors)."""

    def __init__(self, channel: str, skus: Sequence[str]) -> None:
        super().__init__(
            f"none of the offers can be sent to {channel}: each has errors to fix first "
            f"({', '.join(skus[:10])}{'...' if len(skus) > 10 else ''})"
        )
        self.channel = channel
        self.skus = list(skus)


@dataclass
class FeedRound:
    """What one round did."""

    completed: list[str] = field(default_factory=list)  # import ids that ended COMPLETE
    failed: list[str] = field(default_factory=list)  # import ids that ended FAILED
    running: list[str] = field(default_factory=list)  # import ids still running after the round
    sent: str | None = None  # the import id of the file sent this round
    reason: str | None = None  # why it was sent: feed, stockout
    offers: int = 0  # offers in that file
    live: int = 0
    rejected: int = 0
    pending: int = 0  # pending valid offers seen when deciding
    retried: int = 0  # offers of unknown products made pending again for a new try
    error: str | None = None  # why a due file could not be sent


class OfferFeed:
    """The offer feed of one channel."""

    def __init__(
        self,
        channel: str,
        marketplace: Marketplace,
        store: OfferFeedStore,
        offers: OfferService,
        queries: OfferRows,
        *,
        hours: Sequence[int] = DEFAULT_FEED_HOURS,
        timezone: str = DEFAULT_FEED_TIMEZONE,
        clock: Callable[[], float] = time.time,
        leases: Leases | None = None,
        page_size: int = 1000,
        import_timeout: float = 24 * 3600.0,
        product_retry_after: float = PRODUCT_RETRY_AFTER,
        reference: ChannelReference | None = None,
    ) -> None:
        self.channel = channel
        self.marketplace = marketplace
        self.store = store
        self.offers = offers
        self.queries = queries
        self.hours = tuple(hours)
        self.timezone = timezone
        self.clock = clock
        self.leases = leases
        self.page_size = page_size
        self.import_timeout = import_timeout
        self.product_retry_after = product_retry_after
        self.reference = reference or ChannelReference({channel: marketplace}, clock=clock)
        self.job_name = f"offers:{channel}"
        # Called after a file sent on demand was taken, so that the job follows it soon
        # (a file the job sends itself is followed after its round, see next_round_in).
        self.on_sent: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        # When an import failed: the declared fields are read again (once allowed) before
        # the next file.
        self._fields_stale_since: float | None = None
        self._told_left_out: set[tuple[str, str | None]] = set()
        feed_cadence(datetime.now(UTC), None, hours=self.hours, timezone=self.timezone)  # checks

    # ---------------------------------------------------------------- entry points

    def run(self, heartbeat: Callable[[], None] = lambda: None) -> FeedRound:
        """One round of the job (its lease is held by the scheduler)."""
        with self._lock:
            return self._round(heartbeat, force=False)

    def send_now(self) -> FeedRound:
        """Follow running imports, then send every pending valid offer whatever the hour;
        nothing is sent while an import of the channel is still running."""
        with self._exclusive():
            result = self._round(lambda: None, force=True)
        if result.sent is not None:
            self.on_sent()
        return result

    def send_operation(self, skus: Sequence[str], name: str) -> str:
        """Send these offers at once for the special operation `name`; the marketplace's
        import id, kept on each offer as the operation's batch id.

        Unknown SKUs raise OfferNotFound; offers with errors are left out (NothingToSend if
        none is left). Sent whether or not they changed, and whatever imports are running.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("the operation needs a name")
        wanted = list(dict.fromkeys(s for s in skus))
        if not wanted:
            raise ValueError("the operation needs at least one offer")
        with self._exclusive(), self._as_worker():
            import_id = self._send_operation(wanted, name.strip())
        self.on_sent()
        return import_id

    def next_round_in(self) -> float | None:
        """Seconds until the next round should come to read a running import's status
        (`poll_delay` of the youngest); None when none runs (the job's interval applies)."""
        running = self.imports(state=RUNNING, limit=1000)
        if not running:
            return None
        now = self.clock()
        return min(poll_delay(now - record.created_at) for record in running)

    def cadence(self, now: float | None = None) -> Cadence:
        moment = datetime.fromtimestamp(self.clock() if now is None else now, UTC)
        return feed_cadence(moment, self._last_feed_start(), hours=self.hours,
                            timezone=self.timezone)

    def imports(self, *, limit: int = 50, state: str | None = None) -> list[OfferImportRecord]:
        """This channel's imports, newest first."""
        return self.store.imports(self.channel, limit=limit, state=state)

    def pending_offers(self, heartbeat: Callable[[], None] = lambda: None) -> list[PendingOffer]:
        """Every valid offer of the channel changed since it was last sent, by SKU."""
        found: list[PendingOffer] = []
        after: tuple[str, str] | None = None
        while True:
            page = self.queries.list(channel=self.channel, sync="pending", has_errors=False,
                                     after=after, limit=self.page_size)
            found.extend(page)
            if len(page) < self.page_size:
                return found
            after = (page[-1].channel, page[-1].sku)
            heartbeat()

    # ---------------------------------------------------------------- a round

    def _round(self, heartbeat: Callable[[], None], *, force: bool) -> FeedRound:
        result = FeedRound()
        for record in self.imports(state=RUNNING, limit=1000):
            if self._follow(record, result):
                result.running.append(record.import_id)
            heartbeat()
        if result.running:
            return result  # one import in flight at a time
        result.retried = self._retry_unknown_products()
        pending = self.pending_offers(heartbeat)
        result.pending = len(pending)
        if not pending:
            return result
        reason = None
        if force or self.cadence().due:
            reason = "feed"
        elif any(_stock_out(row) for row in pending):
            reason = "stockout"
        if reason is None:
            return result
        import_id = self._send(pending, reason, None, result)
        if import_id is not None:
            result.sent, result.reason, result.offers = import_id, reason, len(pending)
        return result

    def _send(self, rows: Sequence[SendableOffer], reason: str, operation: str | None,
              result: FeedRound | None, versions: Mapping[str, int] | None = None) -> str | None:
        """OF01 of `rows`, recorded with the versions sent; None if the marketplace did not
        take it (the offers stay pending)."""
        now = self.clock()
        rows = [row for row in rows if not row.errors]
        try:
            declared = self._declared_fields()
            import_id = self.marketplace.send_offers(rows, datetime.fromtimestamp(now, UTC),
                                                     declared=declared)
        except MarketplaceError as exc:
            log.warning("offer_feed_not_sent", channel=self.channel, reason=reason,
                        offers=len(rows), error=str(exc))
            if result is not None:
                result.error = str(exc)
            if operation is not None:
                raise
            return None
        sent_versions = versions or {row.sku: int(row.version) for row in rows}
        self.store.record_sent(self.channel, import_id, reason=reason, operation=operation,
                               versions={row.sku: sent_versions[row.sku] for row in rows},
                               created_at=now, at=self.clock())
        log.info("offer_feed_sent", channel=self.channel, import_id=import_id, reason=reason,
                 operation=operation, offers=len(rows))
        return import_id

    def _declared_fields(self) -> frozenset[str]:
        """The codes of the offer additional fields the shop declares (AF01, kept a day);
        says once per value which of ours has no declared field to go to."""
        stale_since = self._fields_stale_since
        listing = self.reference.offer_fields(self.channel, refresh=stale_since is not None)
        if listing is not None and stale_since is not None and listing.fetched_at >= stale_since:
            self._fields_stale_since = None
        declared = frozenset(f.code for f in listing.items) if listing is not None else frozenset()
        for name, code in self.marketplace.offer_values_left_out(declared):
            if (name, code) in self._told_left_out:
                continue
            self._told_left_out.add((name, code))
            log.warning("offer_field_not_sent", channel=self.channel, value=name,
                        field_code=code, reason="not_declared" if code else "not_mapped")
        return declared

    # ---------------------------------------------------------------- following an import

    def _follow(self, record: OfferImportRecord, result: FeedRound) -> bool:
        """Read an import's status and apply its outcome; True while it is still running."""
        try:
            status = self.marketplace.offer_import(record.import_id)
        except UpstreamRefused as exc:
            if exc.status == 404:
                self._failed(record, f"the marketplace does not know import {record.import_id}",
                             result)
                return False
            log.warning("offer_import_unreadable", channel=self.channel,
                        import_id=record.import_id, error=str(exc))
            return self._still_running(record, result)
        except UpstreamUnavailable as exc:
            log.warning("offer_import_unreadable", channel=self.channel,
                        import_id=record.import_id, error=str(exc))
            return self._still_running(record, result)
        state = status.get("status")
        if state == "COMPLETE":
            errors: dict[str, str] = {}
            if status.get("has_error_report"):
                try:
                    report = self.marketplace.offer_errors(record.import_id)
                except MarketplaceError as exc:
                    log.warning("offer_error_report_unreadable", channel=self.channel,
                                import_id=record.import_id, error=str(exc))
                    return self._still_running(record, result)
                if report is None:
                    # Announced but not there yet: read it again next round.
                    return self._still_running(record, result)
                errors = report
            self._complete(record, status, errors, result)
            return False
        if state == "FAILED":
            reason = str(status.get("reason_status") or "").strip() or "the import failed"
            self._failed(record, reason, result)
            return False
        return self._still_running(record, result)

    def _still_running(self, record: OfferImportRecord, result: FeedRound) -> bool:
        if self.clock() - record.created_at > self.import_timeout:
            hours = self.import_timeout / 3600
            self._failed(record, f"not processed by the marketplace after {hours:g} hours", result)
            return False
        return True

    def _complete(self, record: OfferImportRecord, status: Mapping[str, Any],
                  errors: Mapping[str, str], result: FeedRound) -> None:
        at = self.clock()
        lines_in_error = status.get("lines_in_error")
        if isinstance(lines_in_error, bool) or not isinstance(lines_in_error, int):
            lines_in_error = len(errors)
        self.store.record_complete(record, errors, lines_in_error, at=at)
        result.completed.append(record.import_id)
        result.rejected += len(errors)
        result.live += max(0, record.offers - len(errors))
        log.info("offer_import_complete", channel=self.channel, import_id=record.import_id,
                 offers=record.offers, lines_in_error=lines_in_error)

    def _failed(self, record: OfferImportRecord, reason: str, result: FeedRound) -> None:
        """The import did nothing: its offers are pending again (sent version 0), with the
        reason, and go in the next file."""
        self.store.record_failed(record, reason, at=self.clock())
        if self._fields_stale_since is None:
            self._fields_stale_since = self.reference.clock()
        result.failed.append(record.import_id)
        log.warning("offer_import_failed", channel=self.channel, import_id=record.import_id,
                    reason=reason)

    def _retry_unknown_products(self) -> int:
        """Offers refused for a product the marketplace did not know, a day ago or more, are
        pending again (the product may exist now)."""
        now = self.clock()
        count = self.store.retry_rejected(self.channel, PRODUCT_UNKNOWN_MESSAGES,
                                          rejected_before=now - self.product_retry_after, at=now)
        if count:
            log.info("offer_unknown_products_retried", channel=self.channel, offers=count)
        return count

    def _last_feed_start(self) -> datetime | None:
        """When the last file of all pending offers started (a feed or a stock-out)."""
        return self.store.last_feed_start(self.channel)

    # ---------------------------------------------------------------- special operations

    def _send_operation(self, skus: list[str], name: str) -> str:
        loaded = self.offers.load_many([offer_id_for(self.channel, sku) for sku in skus])
        offers: list[Offer] = []
        for sku in skus:
            offer = loaded.get(offer_id_for(self.channel, sku))
            if not isinstance(offer, Offer):
                raise OfferNotFound(self.channel, sku)
            offers.append(offer)
        valid = [offer for offer in offers if not offer.errors]
        if not valid:
            raise NothingToSend(self.channel, skus)
        sent = {offer.sku: offer.version for offer in valid}
        import_id = self._send(valid, "operation", name, None, versions=sent)
        assert import_id is not None
        joined = self._join(valid, name, import_id)
        # Joining the operation changes nothing the file holds: an offer whose only change
        # since the file is that event is as sent.
        self.store.advance_sent_versions(
            self.channel, import_id,
            {sku: (sent[sku], version) for sku, version in joined.items()}, at=self.clock(),
        )
        log.info("offer_operation_sent", channel=self.channel, operation=name,
                 import_id=import_id, offers=len(valid), left_out=len(offers) - len(valid))
        return import_id

    def _join(self, offers: list[Offer], name: str, import_id: str) -> dict[str, int]:
        """Record the operation on the offers; the version each reached by that event alone
        (offers changed since they were read are joined too, but are not in the answer)."""
        try:
            self.offers.join_operation(offers, operation=name, batch_id=import_id)
            return {offer.sku: offer.version for offer in offers}
        except VersionConflict:
            pass
        fresh = self.offers.load_many([offer.id for offer in offers])
        again = [fresh[offer.id] for offer in offers if offer.id in fresh]
        try:
            self.offers.join_operation(again, operation=name, batch_id=import_id)
        except VersionConflict:
            log.error("offer_operation_not_recorded", channel=self.channel, operation=name,
                      import_id=import_id)
        return {}

    # ---------------------------------------------------------------- exclusion

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This channel's feed for the caller alone: the job's lock in this process, its lease
        across processes (kept until it expires, so a round elsewhere cannot start in between)."""
        if not self._lock.acquire(timeout=120):
            raise FeedBusy(self.channel)
        try:
            if self.leases is not None and not self.leases.acquire(self.job_name,
                                                                   3 * FEED_INTERVAL):
                raise FeedBusy(self.channel)
            yield
        finally:
            self._lock.release()

    @contextmanager
    def _as_worker(self) -> Iterator[None]:
        correlation = current_correlation_id.get() or f"{self.job_name}:{uuid.uuid4().hex[:12]}"
        with acting_as(Actor(f"sync:{self.job_name}", "worker"), correlation):
            yield


def _stock_out(row: PendingOffer) -> bool:
    """Quantity 0 on an offer the marketplace has had: send it now, or it may be oversold."""
    return row.sent_version is not None and row.values.get("quantity") == 0


__all__ = [
    "Cadence",
    "FeedBusy",
    "FeedRound",
    "NothingToSend",
    "OfferFeed",
    "feed_cadence",
    "poll_delay",
    "product_unknown",
]
