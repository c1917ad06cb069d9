"""The marketplace sync of every configured channel, as one object the API and workers drive.

Its jobs (one order import per channel, one offer feed per channel, one delivery of the
merchant's actions) run under a scheduler that holds a lease per job, so with several
processes on one store each job still runs in one place at a time. Each round acts as the
sync worker: its events record that actor and a correlation id of the round's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.application.action_delivery import ActionDelivery
from app.application.offer_feed import FeedRound, OfferFeed
from app.application.order_import import OrderImporter
from app.application.reference_data import ChannelReference
from app.domain.actor import Actor, acting_as
from app.ports.marketplace import Marketplace
from app.ports.stores import SyncStore


class Scheduler(Protocol):
    jobs: Mapping[str, Any]

    def start(self) -> None: ...

    def stop(self, timeout: float = 10) -> None: ...

    def run_once(self, name: str) -> bool: ...


@dataclass
class Sync:
    scheduler: Scheduler
    importers: dict[str, OrderImporter]
    delivery: ActionDelivery
    clients: dict[str, Marketplace]
    store: SyncStore
    feeds: dict[str, OfferFeed] = field(default_factory=dict)
    reference: ChannelReference | None = None

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


Round = Callable[[Callable[[], None]], object]


def as_worker(job: str, run: Round) -> Round:
    """The job's rounds record the sync worker as the actor of their events, each round
    under a correlation id of its own."""

    def round_as_worker(heartbeat: Callable[[], None]) -> object:
        with acting_as(Actor(f"sync:{job}", "worker"), f"{job}:{uuid.uuid4().hex[:12]}"):
            return run(heartbeat)

    return round_as_worker


__all__ = ["Scheduler", "Sync", "as_worker"]
