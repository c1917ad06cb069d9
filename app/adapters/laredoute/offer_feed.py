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
   while orders come in).

`offer_sync` keeps, per offer, the version last sent and the import it went in. An offer
changed while its import runs has a newer version than the one sent: it stays pending and
goes in the next file, so nothing is lost between imports. A file the marketplace did not
take (OF01 refused or unreachable) records nothing: its offers are still pending next round.

Special operations are sent at once, apart from the cadence: the import id the marketplace
gives is kept on each offer as the operation's batch id.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from app.adapters.db import PostgresDatabase, SQLiteDatabase
from app.adapters.jobs import JobLeases
from app.adapters.laredoute.client import MiraklClient
from app.adapters.laredoute.errors import MiraklError, UpstreamRefused, UpstreamUnavailable
from app.domain.actor import Actor, acting_as, current_correlation_id
from app.domain.errors import DomainError, VersionConflict
from app.domain.offer import DATE_FORMAT, Offer, default_period, offer_id_for
from app.offers import OfferCatalog, OfferNotFound
from app.projections.offers import OfferQueries, OfferRow

log = structlog.get_logger(__name__)

DEFAULT_FEED_HOURS: tuple[int, ...] = (4, 8, 12, 16, 20)
DEFAULT_FEED_TIMEZONE = "Europe/Paris"
FEED_INTERVAL = 60.0  # seconds between rounds of the feed job

COLUMNS: tuple[str, ...] = (
    "sku", "product-id", "product-id-type", "price", "discount-price", "discount-start-date",
    "discount-end-date", "quantity", "state", "available-start-date", "available-end-date",
    "leadtime-to-ship", "ecotax", "update-delete", "delivery-fee", "delivery-days-range-min",
    "delivery-days-range-max", "relay-fee", "relay-delay", "relay-days-range-min",
    "relay-days-range-max", "partner-product-parent",
)
NEW_STATE = "11"

# offer_imports.state
RUNNING = "running"
COMPLETE = "complete"
FAILED = "failed"
# offer_sync.state
SENT = "sent"
LIVE = "live"
REJECTED = "rejected"
PENDING = "pending"

_CENT = Decimal("0.01")


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


# ==================================================================== the file


class SendableOffer(Protocol):
    """What the file needs of an offer: a read model row (OfferRow) or the aggregate."""

    sku: str
    version: int
    values: Mapping[str, Any]
    errors: Sequence[Any]
    promotion: Mapping[str, Any] | None


def _money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)).quantize(_CENT):f}"


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _whole(value: Any) -> str:
    return "" if value is None or value == "" else str(int(value))


def _as_moment(today: datetime | date) -> datetime:
    if isinstance(today, datetime):
        return today if today.tzinfo is not None else today.replace(tzinfo=UTC)
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def _live_promotion(promotion: Mapping[str, Any] | None, now: datetime) -> Mapping[str, Any] | None:
    """The promotion, unless its end date has passed (then the regular prices are sent)."""
    if not promotion:
        return None
    end = promotion.get("end")
    if end and str(end) < now.astimezone(UTC).strftime(DATE_FORMAT):
        return None
    return promotion


def offer_line(offer: SendableOffer, today: datetime | date) -> list[str]:
    """The cells of one offer in the OF01 file, in COLUMNS order.

    The price column is the price before any discount (the crossed-out price), the discount
    price the price the customer pays when it is lower: a promotion gives both with its
    dates; otherwise a crossed-out price above the price is a discount without dates.
    """
    now = _as_moment(today)
    values = offer.values
    price, crossed = _amount(values.get("price")), _amount(values.get("crossed_price"))
    discount_start = discount_end = ""
    promotion = _live_promotion(offer.promotion, now)
    if promotion is not None:
        base, discount = _amount(promotion["crossed_price"]), _amount(promotion["price"])
        discount_start = str(promotion.get("start") or "")
        discount_end = str(promotion.get("end") or "")
    elif price is not None and crossed is not None and crossed > price:
        base, discount = crossed, price
    else:
        base, discount = price, None
    ean = values.get("ean") or ""
    parent = values.get("parent_sku") or ""
    start, end = values.get("period_start"), values.get("period_end")
    if not start or not end:
        default_start, default_end = default_period(now)
        start, end = start or default_start, end or default_end
    relay = bool(values.get("relay"))
    cells = {
        "sku": offer.sku,
        "product-id": ean or offer.sku,
        "product-id-type": "EAN" if ean else "SHOP_SKU",
        "price": _money(base),
        "discount-price": _money(discount),
        "discount-start-date": discount_start,
        "discount-end-date": discount_end,
        "quantity": _whole(values.get("quantity")),
        "state": NEW_STATE,
        "available-start-date": start,
        "available-end-date": end,
        "leadtime-to-ship": _whole(values.get("shipment_delay")),
        "ecotax": _money(values.get("eco_fee")),
        "update-delete": "update",
        "delivery-fee": _money(values.get("delivery_fee")),
        "delivery-days-range-min": _whole(values.get("delivery_days_min")),
        "delivery-days-range-max": _whole(values.get("delivery_days_max")),
        # Relay delivery terms only for an offer delivered to relays.
        "relay-fee": _money(values.get("relay_fee")) if relay else "",
        "relay-delay": _whole(values.get("relay_delay")) if relay else "",
        "relay-days-range-min": _whole(values.get("relay_days_min")) if relay else "",
        "relay-days-range-max": _whole(values.get("relay_days_max")) if relay else "",
        "partner-product-parent": parent,
    }
    return [cells[name] for name in COLUMNS]


def build_offer_file(rows: Iterable[SendableOffer], today: datetime | date) -> bytes:
    """The OF01 file (`;` separated, UTF-8, header first) of the valid offers among `rows`.

    An offer with errors is left out: the marketplace would refuse it, and its last valid
    values stay online. Quantity 0 is sent: it is how an offer is taken off the site.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        if row.errors:
            continue
        writer.writerow(offer_line(row, today))
    return out.getvalue().encode("utf-8")


def parse_error_report(report: bytes) -> dict[str, str]:
    """OF03's lines in error: the marketplace's message per SKU (several joined by " | ")."""
    text = report.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    found: dict[str, list[str]] = {}
    for line in reader:
        sku = (line.get("sku") or "").strip()
        if not sku:
            continue
        message = (line.get("error-message") or "").strip() or "refused by the marketplace"
        found.setdefault(sku, [])
        if message not in found[sku]:
            found[sku].append(message)
    return {sku: " | ".join(messages) for sku, messages in found.items()}


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


@dataclass(frozen=True)
class OfferImportRecord:
    """One row of offer_imports."""

    id: int
    channel: str
    import_id: str
    reason: str
    operation: str | None
    state: str
    offers: int
    lines_in_error: int | None
    message: str | None
    created_at: float
    finished_at: float | None


_IMPORT_COLUMNS = ("id, channel, import_id, reason, operation, state, offers, lines_in_error,"
                   " message, created_at, finished_at")


def _import_record(row: Sequence[Any]) -> OfferImportRecord:
    return OfferImportRecord(
        id=int(row[0]), channel=row[1], import_id=row[2], reason=row[3], operation=row[4],
        state=row[5], offers=int(row[6]), lines_in_error=row[7], message=row[8],
        created_at=float(row[9]), finished_at=None if row[10] is None else float(row[10]),
    )


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
    error: str | None = None  # why a due file could not be sent


_UPSERT_SYNC = (
    "INSERT INTO offer_sync (channel, sku, sent_version, import_id, state, message, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, NULL, %s)"
    " ON CONFLICT (channel, sku) DO UPDATE SET sent_version = excluded.sent_version,"
    " import_id = excluded.import_id, state = excluded.state, message = NULL,"
    " updated_at = excluded.updated_at"
    # An older version never overwrites a newer one sent meanwhile.
    " WHERE excluded.sent_version >= offer_sync.sent_version"
)


class OfferFeed:
    """The offer feed of one channel."""

    def __init__(
        self,
        channel: str,
        client: MiraklClient,
        db: SQLiteDatabase | PostgresDatabase,
        catalog: OfferCatalog,
        *,
        hours: Sequence[int] = DEFAULT_FEED_HOURS,
        timezone: str = DEFAULT_FEED_TIMEZONE,
        clock: Callable[[], float] = time.time,
        leases: JobLeases | None = None,
        page_size: int = 1000,
        import_timeout: float = 24 * 3600.0,
    ) -> None:
        self.channel = channel
        self.client = client
        self.db = db
        self.catalog = catalog
        self.queries = OfferQueries(db)
        self.hours = tuple(hours)
        self.timezone = timezone
        self.clock = clock
        self.leases = leases
        self.page_size = page_size
        self.import_timeout = import_timeout
        self.job_name = f"offers:{channel}"
        self._lock = threading.Lock()
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
            return self._round(lambda: None, force=True)

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
            return self._send_operation(wanted, name.strip())

    def cadence(self, now: float | None = None) -> Cadence:
        moment = datetime.fromtimestamp(self.clock() if now is None else now, UTC)
        return feed_cadence(moment, self._last_feed_start(), hours=self.hours,
                            timezone=self.timezone)

    def imports(self, *, limit: int = 50, state: str | None = None) -> list[OfferImportRecord]:
        """This channel's imports, newest first."""
        sql = f"SELECT {_IMPORT_COLUMNS} FROM offer_imports WHERE channel = %s"
        params: list[Any] = [self.channel]
        if state is not None:
            sql += " AND state = %s"
            params.append(state)
        sql += " ORDER BY id DESC LIMIT %s"
        return [_import_record(r) for r in self.db.execute(sql, (*params, limit))]

    def pending_offers(self, heartbeat: Callable[[], None] = lambda: None) -> list[OfferRow]:
        """Every valid offer of the channel changed since it was last sent, by SKU."""
        found: list[OfferRow] = []
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
        content = build_offer_file(rows, datetime.fromtimestamp(now, UTC))
        try:
            import_id = self.client.import_offers(content, mode="NORMAL")
        except MiraklError as exc:
            log.warning("offer_feed_not_sent", channel=self.channel, reason=reason,
                        offers=len(rows), error=str(exc))
            if result is not None:
                result.error = str(exc)
            if operation is not None:
                raise
            return None
        sent_versions = versions or {row.sku: int(row.version) for row in rows}
        at = self.clock()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO offer_imports (channel, import_id, reason, operation, state, offers,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (self.channel, import_id, reason, operation, RUNNING, len(rows), now),
            )
            tx.executemany(_UPSERT_SYNC, [
                (self.channel, row.sku, sent_versions[row.sku], import_id, SENT, at)
                for row in rows
            ])
        log.info("offer_feed_sent", channel=self.channel, import_id=import_id, reason=reason,
                 operation=operation, offers=len(rows))
        return import_id

    # ---------------------------------------------------------------- following an import

    def _follow(self, record: OfferImportRecord, result: FeedRound) -> bool:
        """Read an import's status and apply its outcome; True while it is still running."""
        try:
            status = self.client.offer_import(record.import_id)
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
                    report = self.client.offer_error_report(record.import_id)
                except MiraklError as exc:
                    log.warning("offer_error_report_unreadable", channel=self.channel,
                                import_id=record.import_id, error=str(exc))
                    return self._still_running(record, result)
                if report is None:
                    # Announced but not there yet: read it again next round.
                    return self._still_running(record, result)
                errors = parse_error_report(report)
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
        with self.db.transaction() as tx:
            if errors:
                tx.executemany(
                    "UPDATE offer_sync SET state = %s, message = %s, updated_at = %s"
                    " WHERE channel = %s AND sku = %s AND import_id = %s",
                    [(REJECTED, message, at, self.channel, sku, record.import_id)
                     for sku, message in errors.items()],
                )
            tx.execute(
                "UPDATE offer_sync SET state = %s, message = NULL, updated_at = %s"
                " WHERE channel = %s AND import_id = %s AND state = %s",
                (LIVE, at, self.channel, record.import_id, SENT),
            )
            tx.execute(
                "UPDATE offer_imports SET state = %s, lines_in_error = %s, finished_at = %s"
                " WHERE id = %s AND state = %s",
                (COMPLETE, lines_in_error, at, record.id, RUNNING),
            )
        result.completed.append(record.import_id)
        result.rejected += len(errors)
        result.live += max(0, record.offers - len(errors))
        log.info("offer_import_complete", channel=self.channel, import_id=record.import_id,
                 offers=record.offers, lines_in_error=lines_in_error)

    def _failed(self, record: OfferImportRecord, reason: str, result: FeedRound) -> None:
        """The import did nothing: its offers are pending again (sent version 0), with the
        reason, and go in the next file."""
        at = self.clock()
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE offer_sync SET sent_version = 0, state = %s, message = %s,"
                " updated_at = %s WHERE channel = %s AND import_id = %s",
                (PENDING, reason, at, self.channel, record.import_id),
            )
            tx.execute(
                "UPDATE offer_imports SET state = %s, message = %s, finished_at = %s"
                " WHERE id = %s AND state = %s",
                (FAILED, reason, at, record.id, RUNNING),
            )
        result.failed.append(record.import_id)
        log.warning("offer_import_failed", channel=self.channel, import_id=record.import_id,
                    reason=reason)

    def _last_feed_start(self) -> datetime | None:
        """When the last file of all pending offers started (a feed or a stock-out)."""
        rows = self.db.execute(
            "SELECT MAX(created_at) FROM offer_imports WHERE channel = %s"
            " AND reason IN ('feed', 'stockout')",
            (self.channel,),
        )
        if not rows or rows[0][0] is None:
            return None
        return datetime.fromtimestamp(float(rows[0][0]), UTC)

    # ---------------------------------------------------------------- special operations

    def _send_operation(self, skus: list[str], name: str) -> str:
        loaded = self.catalog.load_many([offer_id_for(self.channel, sku) for sku in skus])
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
        at = self.clock()
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE offer_sync SET sent_version = %s, updated_at = %s WHERE channel = %s"
                " AND sku = %s AND import_id = %s AND sent_version = %s",
                [(version, at, self.channel, sku, import_id, sent[sku])
                 for sku, version in joined.items()],
            )
        log.info("offer_operation_sent", channel=self.channel, operation=name,
                 import_id=import_id, offers=len(valid), left_out=len(offers) - len(valid))
        return import_id

    def _join(self, offers: list[Offer], name: str, import_id: str) -> dict[str, int]:
        """Record the operation on the offers; the version each reached by that event alone
        (offers changed since they were read are joined too, but are not in the answer)."""
        try:
            self.catalog.join_operation(offers, operation=name, batch_id=import_id)
            return {offer.sku: offer.version for offer in offers}
        except VersionConflict:
            pass
        fresh = self.catalog.load_many([offer.id for offer in offers])
        again = [fresh[offer.id] for offer in offers if offer.id in fresh]
        try:
            self.catalog.join_operation(again, operation=name, batch_id=import_id)
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


def _stock_out(row: OfferRow) -> bool:
    """Quantity 0 on an offer the marketplace has had: send it now, or it may be oversold."""
    return row.sent_version is not None and row.values.get("quantity") == 0


__all__ = [
    "COLUMNS",
    "Cadence",
    "FeedBusy",
    "FeedRound",
    "NothingToSend",
    "OfferFeed",
    "OfferImportRecord",
    "build_offer_file",
    "feed_cadence",
    "offer_line",
    "parse_error_report",
]
