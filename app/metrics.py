"""Prometheus metrics: the counters and histograms every layer may record into, and the gauges
read from the store when a scrape comes.

Counters and histograms live in this process (prometheus_client's default registry); each
process that serves `/metrics` (the API) or its own metrics port (`oms worker`) shows what it
did itself. Gauges of state that outlives a process (projection positions and lag, the outbox,
the last import round, the orders near their deadline) are read from the store at each scrape
(`StoreGauges`), so every process shows the same values.

Labels never carry an id: routes are their templates, commands their route names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

HTTP_REQUEST_SECONDS = Histogram(
    "oms_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COMMANDS = Counter(
    "oms_commands",
    "Commands received over the API (order and offer changes), by command and outcome: "
    "succeeded, replayed (an Idempotency-Key retry), refused (the domain said no), conflict "
    "(If-Match no longer current), rejected (a malformed or reused request), error",
    ["command", "outcome"],
)
RATE_LIMITED = Counter(
    "oms_rate_limited",
    "Requests refused with 429 because their API key went past its rate",
)
IMPORT_ROUNDS = Counter(
    "oms_import_rounds",
    "Order import rounds run in this process, by channel and outcome (succeeded, failed)",
    ["channel", "outcome"],
)
IMPORT_ROUND_SECONDS = Histogram(
    "oms_import_round_duration_seconds",
    "Time an order import round took, by channel",
    ["channel"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
IMPORT_ORDERS = Counter(
    "oms_import_orders",
    "Orders read by the import rounds run in this process, by channel and result "
    "(imported, updated, unchanged, error)",
    ["channel", "result"],
)
FEED_IMPORTS = Counter(
    "oms_feed_imports",
    "Offer files (OF01) the marketplace finished processing, as seen by the feed rounds of "
    "this process, by channel and outcome (completed, failed)",
    ["channel", "outcome"],
)
FEED_FILES_SENT = Counter(
    "oms_feed_files_sent",
    "Offer files sent by the feed rounds of this process, by channel and reason (feed, stockout)",
    ["channel", "reason"],
)
FEED_OFFERS_REJECTED = Counter(
    "oms_feed_offers_rejected",
    "Offer lines the marketplace rejected in a completed offer file, by channel",
    ["channel"],
)
FEED_ROUND_ERRORS = Counter(
    "oms_feed_round_errors",
    "Feed rounds that could not send a due offer file, or that failed, by channel",
    ["channel"],
)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    # Whatever a client sends as its method, the label keeps to a few values.
    method = method if method in _METHODS else "other"
    HTTP_REQUEST_SECONDS.labels(route, method, str(status)).observe(seconds)


def count_command(command: str, outcome: str) -> None:
    COMMANDS.labels(command, outcome).inc()


def count_rate_limited() -> None:
    RATE_LIMITED.inc()


# ------------------------------------------------------------------------ gauges from the store


@dataclass(frozen=True)
class ProjectionReading:
    name: str
    position: int
    head: int
    stopped: bool

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


@dataclass(frozen=True)
class StoreReading:
    """What the store holds at one moment, as the gauges show it."""

    projections: list[ProjectionReading] = field(default_factory=list)
    # Outbox actions by state: how many, and the age in seconds of the oldest.
    actions: Mapping[str, int] = field(default_factory=dict)
    oldest_action_age: Mapping[str, float] = field(default_factory=dict)
    # Per channel: when the last import round ended (epoch seconds) and whether it failed.
    last_import_round: Mapping[str, float] = field(default_factory=dict)
    last_import_failed: Mapping[str, bool] = field(default_factory=dict)
    # Orders still to accept within the warning window of their acceptance deadline.
    orders_near_deadline: Mapping[str, int] = field(default_factory=dict)


# Every outbox state is shown, at 0 when none is in it, so that alerts see a series.
ACTION_STATES = ("pending", "sent", "confirmed", "failed", "expired", "canceled")


class StoreGauges(Collector):
    """The gauges read from the store at each scrape; a store that does not answer gives
    oms_store_up 0 and no other gauge (the counters are still served)."""

    def __init__(self, read: Callable[[], StoreReading]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("oms_store_up", "1 when the store answered this scrape")
        try:
            reading = self.read()
        except Exception:  # noqa: BLE001 - a scrape must answer even with the store down
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        position = GaugeMetricFamily("oms_projection_position",
                                     "The last event position applied by each projection",
                                     labels=["projection"])
        lag = GaugeMetricFamily("oms_projection_lag_events",
                                "Events in the log not yet applied by each projection",
                                labels=["projection"])
        stopped = GaugeMetricFamily("oms_projection_stopped",
                                    "1 when a projection stopped on a failing event",
                                    labels=["projection"])
        head = GaugeMetricFamily("oms_event_log_head", "The position of the last event in the log")
        for p in reading.projections:
            position.add_metric([p.name], p.position)
            lag.add_metric([p.name], p.lag)
            stopped.add_metric([p.name], 1 if p.stopped else 0)
        if reading.projections:
            head.add_metric([], reading.projections[0].head)
            yield head
        yield from (position, lag, stopped)
        actions = GaugeMetricFamily("oms_outbox_actions",
                                    "Marketplace actions in the outbox, by state",
                                    labels=["state"])
        oldest = GaugeMetricFamily("oms_outbox_oldest_action_age_seconds",
                                   "Age of the oldest marketplace action in each state "
                                   "(0 when there is none)",
                                   labels=["state"])
        for state in sorted(set(ACTION_STATES) | set(reading.actions)):
            actions.add_metric([state], reading.actions.get(state, 0))
            oldest.add_metric([state], reading.oldest_action_age.get(state, 0.0))
        yield actions
        yield oldest
        last = GaugeMetricFamily("oms_import_last_round_timestamp_seconds",
                                 "When the last order import round of each channel ended "
                                 "(epoch seconds), whether it succeeded or not",
                                 labels=["channel"])
        failed = GaugeMetricFamily("oms_import_last_round_failed",
                                   "1 when the last order import round of the channel failed",
                                   labels=["channel"])
        for channel, at in sorted(reading.last_import_round.items()):
            last.add_metric([channel], at)
            failed.add_metric([channel], 1 if reading.last_import_failed.get(channel) else 0)
        yield last
        yield failed
        near = GaugeMetricFamily("oms_orders_near_deadline",
                                 "Orders still to accept within the warning window of their "
                                 "acceptance deadline (or past it), by channel",
                                 labels=["channel"])
        for channel, count in sorted(reading.orders_near_deadline.items()):
            near.add_metric([channel], count)
        yield near


class _ProcessMetrics(Collector):
    """This process's counters and histograms; with PROMETHEUS_MULTIPROC_DIR set (several
    API processes on one port), those of every process sharing the directory."""

    def collect(self) -> Iterator[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            shared = CollectorRegistry()
            multiprocess.MultiProcessCollector(shared)
            yield from shared.collect()
            return
        yield from REGISTRY.collect()


def registry_with(*collectors: Collector) -> CollectorRegistry:
    """A registry of the process's metrics and these collectors (the store's gauges)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type (0.0.4, which every
    Prometheus version reads)."""
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


__all__ = [
    "ACTION_STATES", "COMMANDS", "FEED_FILES_SENT", "FEED_IMPORTS", "FEED_OFFERS_REJECTED",
    "FEED_ROUND_ERRORS", "HTTP_REQUEST_SECONDS", "IMPORT_ORDERS", "IMPORT_ROUNDS",
    "IMPORT_ROUND_SECONDS", "RATE_LIMITED", "ProjectionReading", "StoreGauges", "StoreReading",
    "count_command", "count_rate_limited", "exposition", "observe_request", "registry_with",
]
