"""The sync's periodic jobs for the configured channels, ready to run in any process.

One import job per channel (`import:<channel>`), one offer feed job per channel
(`offers:<channel>`) and one delivery job (`deliver`); each runs
under its lease, so with several processes on one PostgreSQL store each job still runs in
one place at a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from app.adapters.db import PostgresDatabase, SQLiteDatabase
from app.adapters.jobs import JobLeases, JobScheduler, PeriodicJob
from app.adapters.laredoute.actions import ActionDelivery
from app.adapters.laredoute.client import MiraklClient
from app.adapters.laredoute.offer_feed import FEED_INTERVAL, FeedRound, OfferFeed
from app.adapters.laredoute.sync import OrderImporter
from app.adapters.laredoute.sync_store import SyncStore
from app.application import OrderService
from app.config import Settings
from app.domain.actor import Actor, acting_as
from app.offers import OfferCatalog


@dataclass
class Sync:
    scheduler: JobScheduler
    importers: dict[str, OrderImporter]
    delivery: ActionDelivery
    clients: dict[str, MiraklClient]
    store: SyncStore
    feeds: dict[str, OfferFeed] = field(default_factory=dict)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        for client in self.clients.values():
            client.close()

    def wake_delivery(self) -> None:
        self.scheduler.jobs["deliver"].wake()

    def import_now(self, channel: str) -> None:
        self.scheduler.jobs[f"import:{channel}"].wake()

    def send_offers_now(self, channel: str) -> FeedRound:
        """The channel's pending offers sent now, whatever the hour (KeyError if the channel
        is not configured)."""
        return self.feeds[channel].send_now()

    def send_operation(self, channel: str, skus: Sequence[str], name: str) -> str:
        """These offers sent now for a special operation; the import id (its batch id)."""
        return self.feeds[channel].send_operation(skus, name)


def as_worker(job: str, run: Callable[[Callable[[], None]], object]) -> Callable[[Callable[[], None]], object]:
    """The job's rounds record the sync worker as the actor of their events, each round
    under a correlation id of its own."""

    def round_as_worker(heartbeat: Callable[[], None]) -> object:
        with acting_as(Actor(f"sync:{job}", "worker"), f"{job}:{uuid.uuid4().hex[:12]}"):
            return run(heartbeat)

    return round_as_worker


def build_sync(
    settings: Settings,
    db: SQLiteDatabase | PostgresDatabase,
    service: OrderService,
    *,
    clock: Callable[[], float] = time.time,
) -> Sync | None:
    """The sync for the channels `settings` configures; None when there is none."""
    channels = settings.channels()
    if not channels:
        return None
    store = SyncStore(db)
    timeout = httpx.Timeout(settings.marketplace_timeout, connect=min(3.0, settings.marketplace_timeout))
    clients = {
        ch.name: MiraklClient(ch.base_url, ch.api_key, ch.shop_id, timeout=timeout)
        for ch in channels
    }
    importers = {
        ch.name: OrderImporter(
            service, store, clients[ch.name], ch.name,
            auto_accept=ch.auto_accept,
            overlap=settings.import_overlap,
            page_size=settings.import_page_size,
            clock=clock,
        )
        for ch in channels
    }
    delivery = ActionDelivery(
        service, store, clients, clock=clock,
        expiry_seconds=settings.action_expiry_hours * 3600,
    )
    jobs = [
        PeriodicJob(f"import:{name}", settings.import_interval, as_worker(f"import:{name}", importer.run))
        for name, importer in importers.items()
    ]
    jobs.append(PeriodicJob("deliver", settings.action_interval, as_worker("deliver", delivery.run)))
    leases = JobLeases(db, clock=clock)
    catalog = OfferCatalog(service, db)
    feeds = {
        ch.name: OfferFeed(
            ch.name, clients[ch.name], db, catalog,
            hours=settings.offer_feed_hours,
            timezone=settings.offer_feed_timezone,
            clock=clock,
            leases=leases,
        )
        for ch in channels
    }
    jobs.extend(
        PeriodicJob(feed.job_name, FEED_INTERVAL, as_worker(feed.job_name, feed.run))
        for feed in feeds.values()
    )
    scheduler = JobScheduler(leases, jobs)
    return Sync(scheduler, importers, delivery, clients, store, feeds)


__all__ = ["Sync", "build_sync"]
