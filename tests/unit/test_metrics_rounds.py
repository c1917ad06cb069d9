"""The import and feed rounds count themselves; the store's gauges survive a store that does
not answer."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.application.offer_feed import FeedRound
from app.application.order_import import ImportRun
from app.bootstrap import measured_feed, measured_import
from app.metrics import (
    FEED_FILES_SENT,
    FEED_IMPORTS,
    FEED_OFFERS_REJECTED,
    FEED_ROUND_ERRORS,
    IMPORT_ORDERS,
    IMPORT_ROUND_SECONDS,
    IMPORT_ROUNDS,
    ProjectionReading,
    StoreGauges,
    StoreReading,
)


def _count(metric, *labels: str) -> float:
    return metric.labels(*labels)._value.get()


def _observations(histogram, *labels: str) -> float:
    child = histogram.labels(*labels)
    return sum(bucket.get() for bucket in child._buckets)


def test_an_import_round_counts_its_outcome_its_time_and_its_orders() -> None:
    channel = "laredoute-ok"
    run = measured_import(channel, lambda _: ImportRun(imported=2, updated=1, unchanged=5))

    result = run(lambda: None)

    assert result.imported == 2
    assert _count(IMPORT_ROUNDS, channel, "succeeded") == 1
    assert _count(IMPORT_ROUNDS, channel, "failed") == 0
    assert _observations(IMPORT_ROUND_SECONDS, channel) == 1
    assert _count(IMPORT_ORDERS, channel, "imported") == 2
    assert _count(IMPORT_ORDERS, channel, "updated") == 1
    assert _count(IMPORT_ORDERS, channel, "unchanged") == 5
    assert _count(IMPORT_ORDERS, channel, "error") == 0


def test_a_failed_import_round_is_counted_failed_and_timed() -> None:
    channel = "laredoute-down"

    def broken(_: object) -> ImportRun:
        raise ConnectionError("marketplace down")

    with pytest.raises(ConnectionError):
        measured_import(channel, broken)(lambda: None)

    assert _count(IMPORT_ROUNDS, channel, "failed") == 1
    assert _count(IMPORT_ROUNDS, channel, "succeeded") == 0
    assert _observations(IMPORT_ROUND_SECONDS, channel) == 1


def test_a_feed_round_counts_files_sent_outcomes_and_rejected_lines() -> None:
    channel = "feed-test"
    round_ = FeedRound(completed=["101", "102"], failed=["103"], sent="104", reason="stockout",
                       rejected=3)

    measured_feed(channel, lambda _: round_)(lambda: None)

    assert _count(FEED_IMPORTS, channel, "completed") == 2
    assert _count(FEED_IMPORTS, channel, "failed") == 1
    assert _count(FEED_OFFERS_REJECTED, channel) == 3
    assert _count(FEED_FILES_SENT, channel, "stockout") == 1
    assert _count(FEED_ROUND_ERRORS, channel) == 0

    measured_feed(channel, lambda _: FeedRound(error="the marketplace refused the file"))(
        lambda: None)
    assert _count(FEED_ROUND_ERRORS, channel) == 1

    def broken(_: object) -> FeedRound:
        raise ConnectionError("marketplace down")

    with pytest.raises(ConnectionError):
        measured_feed(channel, broken)(lambda: None)
    assert _count(FEED_ROUND_ERRORS, channel) == 2
    assert _count(FEED_IMPORTS, channel, "completed") == 2


def _families(collector: StoreGauges) -> dict[str, list]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_store_gauges_show_the_store_down_and_nothing_else() -> None:
    def down() -> StoreReading:
        raise OSError("connection refused")

    families = _families(StoreGauges(down))

    assert [s.value for s in families["oms_store_up"]] == [0.0]
    assert "oms_projection_lag_events" not in families


def test_store_gauges_show_every_outbox_state_and_the_projection_lag() -> None:
    reading = StoreReading(
        projections=[ProjectionReading("order_tabs", 7, 10, False),
                     ProjectionReading("offers", 10, 10, True)],
        actions={"pending": 2, "failed": 1},
        oldest_action_age={"pending": 42.0},
    )

    families = _families(StoreGauges(lambda: reading))

    lag = {s.labels["projection"]: s.value for s in families["oms_projection_lag_events"]}
    assert lag == {"order_tabs": 3.0, "offers": 0.0}
    stopped = {s.labels["projection"]: s.value for s in families["oms_projection_stopped"]}
    assert stopped == {"order_tabs": 0.0, "offers": 1.0}
    actions = {s.labels["state"]: s.value for s in families["oms_outbox_actions"]}
    assert actions == {"pending": 2.0, "sent": 0.0, "confirmed": 0.0, "failed": 1.0,
                       "expired": 0.0, "canceled": 0.0}
    ages = {s.labels["state"]: s.value for s in families["oms_outbox_oldest_action_age_seconds"]}
    assert ages["pending"] == 42.0 and ages["sent"] == 0.0


def test_with_a_shared_directory_every_process_counts_into_one_exposition(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = ("from app.metrics import count_rate_limited, observe_request;"
             "count_rate_limited(); observe_request('/v1/orders', 'GET', 200, 0.01)")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    read = ("from app.metrics import exposition, registry_with;"
            "print(exposition(registry_with())[0].decode())")
    text = subprocess.run([sys.executable, "-c", read], env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout

    samples = {(s.name, frozenset(s.labels.items())): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("oms_rate_limited_total", frozenset())] == 2
    labels = frozenset({("route", "/v1/orders"), ("method", "GET"), ("status", "200")})
    assert samples[("oms_http_request_duration_seconds_count", labels)] == 2
