"""The sandbox marketplace and our sync, wired together over loopback for end-to-end tests.

The sandbox is a real HTTP server (uvicorn on a free port). The sync's jobs are run one round
at a time by the tests, exactly as the scheduler runs them, so that each step is observable;
one test runs them on the scheduler's own threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from app.adapters.db import open_database
from app.application.action_delivery import DeliveryRound
from app.application.order_import import ImportRun
from app.ports.stores import Action
from app.bootstrap import build_sync
from app.bootstrap import open_service
from app.config import Settings
from app.domain.order import Order
from app.projections.marketplace_actions import MarketplaceActionsProjection
from app.projections.runner import ProjectionRunner
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, Timings
from tests.support import LiveServer

LAREDOUTE_KEY = "sandbox-laredoute-key"
LABRANDBOUTIQUE_KEY = "sandbox-labrandboutique-key"


def manual_timings() -> Timings:
    """The marketplace moves only when a test tells it to."""
    return Timings(payment_delay=None, payment_refusal_rate=0.0, receive_delay=None,
                   close_delay=None, refund_delay=None, demo_orders_per_minute=0.0)


@contextmanager
def sandbox_server(seed: int = 7, timings: Timings | None = None) -> Iterator[LiveServer]:
    app = create_sandbox_app(SandboxConfig(seed=seed, timings=timings or manual_timings()))
    with LiveServer(app) as server:
        yield server


def with_channels(settings: Settings, sandbox_url: str, **overrides: Any) -> Settings:
    """`settings` with both channels pointing at the sandbox (its two shops)."""
    return settings.model_copy(update={
        "laredoute_base_url": sandbox_url,
        "laredoute_api_key": SecretStr(LAREDOUTE_KEY),
        "laredoute_shop_id": 2001,
        "labrandboutique_base_url": sandbox_url,
        "labrandboutique_api_key": SecretStr(LABRANDBOUTIQUE_KEY),
        "labrandboutique_shop_id": 2002,
        "marketplace_timeout": 2.0,
        "sync_mode": "off",
        **overrides,
    })


class Harness:
    """Our side (store, service, sync jobs) and the sandbox's control API."""

    def __init__(self, settings: Settings, sandbox_url: str) -> None:
        self.settings = settings
        self.url = sandbox_url
        self.db = open_database(settings)
        self.service = open_service(settings)
        sync = build_sync(settings, self.db, self.service)
        assert sync is not None
        self.sync = sync
        self.sync.delivery.backoff_base = 0.0
        self.outbox = ProjectionRunner(self.db, MarketplaceActionsProjection(self.db.dialect))
        self.control = httpx.Client(base_url=sandbox_url + "/control", timeout=10)

    def close(self) -> None:
        self.control.close()
        self.sync.stop()
        self.service.close()
        self.db.close()

    # ---------------------------------------------------------------- the sandbox

    def generate(self, count: int = 1, **options: Any) -> list[str]:
        """New orders in the sandbox; La Redoute's shop unless `shop_id` says otherwise."""
        options.setdefault("shop_id", 2001)
        response = self.control.post("/orders", json={"count": count, **options})
        response.raise_for_status()
        return list(response.json()["orders"])

    def raw(self, marketplace_order_id: str) -> dict[str, Any]:
        response = self.control.get(f"/orders/{marketplace_order_id}")
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(path, json=body or {})
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}

    def fault(self, kind: str, **options: Any) -> None:
        self.post("/faults", {"kind": kind, **options})

    def clear_faults(self) -> None:
        self.control.delete("/faults").raise_for_status()

    def calls(self, marketplace_order_id: str | None = None, operation: str | None = None
              ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"order_id": marketplace_order_id,
                                    "operation": operation}.items() if v}
        response = self.control.get("/calls", params=params)
        response.raise_for_status()
        body = response.json()
        return list(body["calls"] if isinstance(body, dict) else body)

    # ---------------------------------------------------------------- our side

    def import_round(self, channel: str = "laredoute") -> ImportRun:
        return self.sync.importers[channel].run()

    def deliver(self) -> DeliveryRound:
        self.outbox.catch_up()
        return self.sync.delivery.run()

    def deliver_until_settled(self, timeout: float = 15.0) -> list[DeliveryRound]:
        """Delivery rounds until no action is pending or sent (retries waited for)."""
        rounds = []
        deadline = time.monotonic() + timeout
        while True:
            rounds.append(self.deliver())
            counts = self.sync.store.counts()
            if not counts.get("pending") and not counts.get("sent"):
                return rounds
            assert time.monotonic() < deadline, f"actions still open: {counts}"
            time.sleep(0.05)

    def to_ship(self, **options: Any) -> Order:
        """A new order, imported, accepted, paid on the marketplace: waiting for shipment."""
        (mid,) = self.generate(1, **options)
        self.import_round()
        self.service.accept(self.order(mid).id)
        self.deliver_until_settled()
        self.post(f"/orders/{mid}/payment", {"outcome": "validate"})
        self.import_round()
        return self.order(mid)

    def order(self, marketplace_order_id: str, channel: str = "laredoute") -> Order:
        order = self.service.find_order(channel, marketplace_order_id)
        assert order is not None, f"{marketplace_order_id} is not imported"
        return order

    def actions(self, marketplace_order_id: str, channel: str = "laredoute") -> list[Action]:
        return self.sync.store.actions_of(self.order(marketplace_order_id, channel).id)

    def event_types(self, marketplace_order_id: str, channel: str = "laredoute") -> list[str]:
        """The order's events that move it, without what the marketplace only tells of it
        (its flags, the customer's details): see all_event_types for every one."""
        return [t for t in self.all_event_types(marketplace_order_id, channel)
                if t not in INFORMATION_EVENTS]

    def all_event_types(self, marketplace_order_id: str, channel: str = "laredoute") -> list[str]:
        return [e.type for e in self.service.history(self.order(marketplace_order_id, channel).id)]


# Events that record what the marketplace tells of an order without moving it.
INFORMATION_EVENTS = frozenset({"MarketplaceFlagsChanged", "CustomerDetailsReceived"})


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """The first truthy result of `check`, polled until `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)
