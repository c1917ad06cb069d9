"""The composition root: the one place that builds the service's parts and plugs the adapters
into the use cases. The HTTP app (`app.api.app`) and the command line (`app.cli`) start here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client import CollectorRegistry

from app.adapters.db import Database
from app.adapters.jobs import JobLeases, JobScheduler, PeriodicJob
from app.adapters.laredoute.marketplace import LaRedouteMarketplace
from app.adapters.offer_feed_store import OfferFeedStore
from app.adapters.offer_store import OfferSourceStore
from app.adapters.recorders import persistence_env
from app.adapters.sync_store import SyncStore
from app.application.action_delivery import ActionDelivery
from app.application.event_store import Clock, EventStore, utc_now
from app.application.offer_feed import FEED_INTERVAL, FeedRound, OfferFeed
from app.application.offers import OfferService
from app.application.order_import import ImportRun, OrderImporter
from app.application.orders import OrderService
from app.application.reference_data import ChannelReference
from app.application.sync import Sync, as_worker
from app.config import Settings
from app.metrics import (
    FEED_FILES_SENT,
    FEED_IMPORTS,
    FEED_OFFERS_REJECTED,
    FEED_ROUND_ERRORS,
    IMPORT_ORDERS,
    IMPORT_ROUND_SECONDS,
    IMPORT_ROUNDS,
    StoreGauges,
    registry_with,
)
from app.projections.gauges import StoreGaugeReader
from app.projections.offers import OfferQueries, OffersProjection


def open_event_store(settings: Settings) -> EventStore:
    """The event store on the database `settings` names (its tables made by `oms migrate`)."""
    return EventStore(env=persistence_env(settings))


def open_service(settings: Settings, *, clock: Clock = utc_now,
                 db: Database | None = None) -> OrderService:
    """The orders service over a new event store; with the database, it knows which refund
    requests have left for the marketplace (a sent one cannot be superseded)."""
    return OrderService(open_event_store(settings), clock=clock,
                        sent_refunds=SyncStore(db) if db is not None else None)


def offer_service(store: EventStore, db: Database) -> OfferService:
    """The offers service over the same event store as the orders."""
    return OfferService(store, OfferSourceStore(db))


def build_sync(
    settings: Settings,
    db: Database,
    service: OrderService,
    *,
    clock: Callable[[], float] = time.time,
) -> Sync | None:
    """The sync for the channels `settings` configures; None when there is none."""
    channels = settings.channels()
    if not channels:
        return None
    store = SyncStore(db)
    timeout = httpx.Timeout(settings.marketplace_timeout,
                            connect=min(3.0, settings.marketplace_timeout))
    marketplaces = {
        ch.name: LaRedouteMarketplace(ch.name, ch.base_url, ch.api_key, ch.shop_id,
                                      timeout=timeout,
                                      offer_field_map=settings.offer_field_map)
        for ch in channels
    }
    importers = {
        ch.name: OrderImporter(
            service, store, marketplaces[ch.name],
            auto_accept=ch.auto_accept,
            overlap=settings.import_overlap,
            page_size=settings.import_page_size,
            clock=clock,
        )
        for ch in channels
    }
    reference = ChannelReference(marketplaces, clock=clock)
    delivery = ActionDelivery(
        service, store, marketplaces, clock=clock,
        expiry_seconds=settings.action_expiry_hours * 3600,
        reference=reference,
    )
    jobs = [
        PeriodicJob(f"import:{name}", settings.import_interval,
                    as_worker(f"import:{name}", measured_import(name, importer.run)))
        for name, importer in importers.items()
    ]
    jobs.append(PeriodicJob("deliver", settings.action_interval,
                            as_worker("deliver", delivery.run)))
    leases = JobLeases(db, clock=clock)
    offers = offer_service(service.store, db)
    feed_store = OfferFeedStore(db)
    queries = OfferQueries(db)
    feeds = {
        ch.name: OfferFeed(
            ch.name, marketplaces[ch.name], feed_store, offers, queries,
            hours=settings.offer_feed_hours,
            timezone=settings.offer_feed_timezone,
            clock=clock,
            leases=leases,
            reference=reference,
        )
        for ch in channels
    }
    for feed in feeds.values():
        job = PeriodicJob(feed.job_name, FEED_INTERVAL,
                          as_worker(feed.job_name, measured_feed(feed.channel, feed.run)),
                          next_wait=feed.next_round_in)
        feed.on_sent = job.wake  # a file sent on demand is followed soon too
        jobs.append(job)
    scheduler = JobScheduler(leases, jobs)
    return Sync(scheduler, importers, delivery, dict(marketplaces), store, feeds, reference)


def measured_import(channel: str, run: Callable[[Callable[[], None]], ImportRun]
                    ) -> Callable[[Callable[[], None]], ImportRun]:
    """An import round that counts itself in the metrics: its outcome, its time, its orders."""

    def measured(heartbeat: Callable[[], None]) -> ImportRun:
        started = time.perf_counter()
        try:
            result = run(heartbeat)
        except BaseException:
            IMPORT_ROUNDS.labels(channel, "failed").inc()
            raise
        finally:
            IMPORT_ROUND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        IMPORT_ROUNDS.labels(channel, "succeeded").inc()
        for kind, count in (("imported", result.imported), ("updated", result.updated),
                            ("unchanged", result.unchanged), ("error", result.errors)):
            if count:
                IMPORT_ORDERS.labels(channel, kind).inc(count)
        return result

    return measured


def measured_feed(channel: str, run: Callable[[Callable[[], None]], FeedRound]
                  ) -> Callable[[Callable[[], None]], FeedRound]:
    """A feed round that counts the offer files it sent and the outcomes it saw."""

    def measured(heartbeat: Callable[[], None]) -> FeedRound:
        try:
            result = run(heartbeat)
        except BaseException:
            FEED_ROUND_ERRORS.labels(channel).inc()
            raise
        count_feed_round(channel, result)
        return result

    return measured


def count_feed_round(channel: str, result: FeedRound) -> None:
    if result.completed:
        FEED_IMPORTS.labels(channel, "completed").inc(len(result.completed))
    if result.failed:
        FEED_IMPORTS.labels(channel, "failed").inc(len(result.failed))
    if result.rejected:
        FEED_OFFERS_REJECTED.labels(channel).inc(result.rejected)
    if result.sent is not None:
        FEED_FILES_SENT.labels(channel, result.reason or "feed").inc()
    if result.error is not None:
        FEED_ROUND_ERRORS.labels(channel).inc()


def metrics_registry(settings: Settings, db: Database, *,
                     clock: Callable[[], float] = time.time) -> CollectorRegistry:
    """The registry a process serves: its own counters and histograms, and the gauges read
    from the store at each scrape."""
    reader = StoreGaugeReader(db, deadline_warning_hours=settings.deadline_warning_hours,
                              clock=clock)
    return registry_with(StoreGauges(reader))


def wake_feeds_on_stock_out(projection: OffersProjection, sync: Sync) -> None:
    """Run a channel's feed job at once when the offers read model shows one of its offers
    dropping to quantity 0 (in this process; elsewhere the job's next round finds it)."""

    def wake(channel: str) -> None:
        job = sync.scheduler.jobs.get(f"offers:{channel}")
        if job is not None:
            job.wake()

    projection.on_stock_out(wake)


__all__ = ["build_sync", "count_feed_round", "measured_feed", "measured_import",
           "metrics_registry", "offer_service", "open_event_store", "open_service",
           "wake_feeds_on_stock_out"]
