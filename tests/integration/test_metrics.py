"""GET /metrics and the worker's metrics port: the families a seller alerts on, with values
that follow what the service did and what its store holds (both stores)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.adapters.db import open_database
from app.adapters.sync_store import SyncStore
from app.api.app import create_app
from app.cli import _serve_worker_metrics
from app.config import Settings
from app.projections import runners as projection_runners
from app.projections.positions import PositionStore
from tests.support import FakeClock, bearer, free_port, make_api_key, order_payload

FAMILIES = {
    "oms_http_request_duration_seconds", "oms_commands", "oms_rate_limited",
    "oms_import_rounds", "oms_import_round_duration_seconds", "oms_feed_imports",
    "oms_store_up", "oms_projection_position", "oms_projection_lag_events",
    "oms_projection_stopped", "oms_outbox_actions", "oms_outbox_oldest_action_age_seconds",
    "oms_import_last_round_timestamp_seconds", "oms_orders_near_deadline",
}


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return scrape(response.text)


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """No projection runs in the background: the tests move them by hand."""
    return settings.model_copy(update={"run_projections": False})


@pytest.fixture
def quiet_client(quiet_settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    key = make_api_key(quiet_settings, "operator")
    app = create_app(quiet_settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(key)) as client:
        yield client


@pytest.fixture
def projections(quiet_settings: Settings) -> Iterator[dict[str, Any]]:
    db = open_database(quiet_settings)
    yield projection_runners(db)
    db.close()


def _catch_up(runners: dict[str, Any]) -> None:
    for runner in runners.values():
        runner.catch_up()


def test_metrics_answer_in_prometheus_text_format_with_every_family(client) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert FAMILIES <= names
    assert value(scrape(response.text), "oms_store_up") == 1.0


def test_metrics_need_a_key_that_reads_the_sync_state(app, settings: Settings) -> None:
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        integrator = make_api_key(settings, "integrator")
        assert anonymous.get("/metrics", headers=bearer(integrator)).status_code == 403
        auditor = make_api_key(settings, "auditor")
        assert anonymous.get("/metrics", headers=bearer(auditor)).status_code == 200


def test_public_metrics_answer_without_a_key_and_nothing_else_opens(
        settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings.model_copy(update={"metrics_public": True}), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as anonymous:
        before = scrape(anonymous.get("/metrics").text)
        response = anonymous.get("/metrics")
        assert response.status_code == 200
        assert "oms_outbox_actions" in response.text
        assert anonymous.get("/v1/orders").status_code == 401
    after = scrape(response.text)
    labels = {"route": "/metrics", "method": "GET", "status": "200"}
    assert value(after, "oms_http_request_duration_seconds_count", **labels) == value(
        before, "oms_http_request_duration_seconds_count", **labels) + 1


def test_a_request_is_timed_under_its_route_template_not_its_path(client) -> None:
    labels = {"route": "/v1/orders/{order_id}", "method": "GET", "status": "404"}
    before = value(metrics(client), "oms_http_request_duration_seconds_count", **labels)

    order_id = uuid.uuid4()
    assert client.get(f"/v1/orders/{order_id}").status_code == 404

    samples = metrics(client)
    assert value(samples, "oms_http_request_duration_seconds_count", **labels) == before + 1
    assert not any(str(order_id) in dict(key[1]).get("route", "") for key in samples)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    count = value(samples, "oms_http_request_duration_seconds_count", **unmatched)
    client.get(f"/no/such/path/{order_id}")
    assert value(metrics(client), "oms_http_request_duration_seconds_count",
                 **unmatched) == count + 1


def test_commands_count_their_outcomes(client) -> None:
    def count(outcome: str) -> float:
        return value(metrics(client), "oms_commands_total", command="accept_order",
                     outcome=outcome)

    succeeded, refused, conflict = count("succeeded"), count("refused"), count("conflict")
    order = client.post("/v1/orders", json=order_payload(f"LR-M-{uuid.uuid4().hex[:8]}")).json()
    url = f"/v1/orders/{order['id']}/accept"

    assert client.post(url, headers={"If-Match": '"1"'}).status_code == 200
    assert count("succeeded") == succeeded + 1
    # Accepted already: the domain refuses a second acceptance.
    assert client.post(url, headers={"If-Match": "*"}).status_code == 409
    assert count("refused") == refused + 1
    # An ETag no longer current.
    assert client.post(url, headers={"If-Match": '"1"'}).status_code == 412
    assert count("conflict") == conflict + 1
    assert count("succeeded") == succeeded + 1


def test_projection_lag_shows_an_unprojected_event_then_zero_after_catch_up(
        quiet_client: TestClient, projections: dict[str, Any]) -> None:
    _catch_up(projections)
    caught_up = metrics(quiet_client)
    assert value(caught_up, "oms_projection_lag_events", projection="order_tabs") == 0

    response = quiet_client.post("/v1/orders", json=order_payload())
    assert response.status_code == 201

    behind = metrics(quiet_client)
    head = value(behind, "oms_event_log_head")
    assert head > value(caught_up, "oms_event_log_head")
    for name in ("order_tabs", "marketplace_actions", "offers"):
        assert value(behind, "oms_projection_lag_events", projection=name) >= 1
        assert value(behind, "oms_projection_position", projection=name) < head
        assert value(behind, "oms_projection_stopped", projection=name) == 0

    _catch_up(projections)
    after = metrics(quiet_client)
    for name in ("order_tabs", "marketplace_actions", "offers"):
        assert value(after, "oms_projection_lag_events", projection=name) == 0
        assert value(after, "oms_projection_position", projection=name) == head


def test_a_stopped_projection_shows_as_stopped(
        quiet_client: TestClient, quiet_settings: Settings,
        projections: dict[str, Any]) -> None:
    db = open_database(quiet_settings)
    try:
        PositionStore(db).record_failure("offers", 1, "ValueError: a broken event")
    finally:
        db.close()

    samples = metrics(quiet_client)
    assert value(samples, "oms_projection_stopped", projection="offers") == 1
    assert value(samples, "oms_projection_stopped", projection="order_tabs") == 0


def test_outbox_gauges_count_a_pending_action_and_its_age(
        quiet_client: TestClient, projections: dict[str, Any], clock: FakeClock) -> None:
    assert value(metrics(quiet_client), "oms_outbox_actions", state="pending") == 0
    order = quiet_client.post("/v1/orders", json=order_payload()).json()
    accepted = quiet_client.post(f"/v1/orders/{order['id']}/accept", headers={"If-Match": '"1"'})
    assert accepted.status_code == 200
    # Not projected yet: no action in the outbox.
    assert value(metrics(quiet_client), "oms_outbox_actions", state="pending") == 0

    _catch_up(projections)
    samples = metrics(quiet_client)
    assert value(samples, "oms_outbox_actions", state="pending") == 1
    assert value(samples, "oms_outbox_actions", state="failed") == 0
    # The action dates from its event, written on the wall clock: ten minutes after it, the
    # oldest pending action is ten minutes old.
    clock.now = datetime.now(UTC) + timedelta(minutes=10)
    age = value(metrics(quiet_client), "oms_outbox_oldest_action_age_seconds", state="pending")
    assert 590 <= age <= 660
    assert value(metrics(quiet_client), "oms_outbox_oldest_action_age_seconds",
                 state="confirmed") == 0


def test_orders_near_their_deadline_are_counted_by_channel(
        quiet_client: TestClient, projections: dict[str, Any], clock: FakeClock) -> None:
    quiet_client.post("/v1/orders", json=order_payload(now=clock()))
    _catch_up(projections)
    # Created 30 minutes ago: 71.5 hours left, outside the 12-hour warning.
    assert value(metrics(quiet_client), "oms_orders_near_deadline", channel="laredoute") == 0

    clock.advance(hours=60)
    assert value(metrics(quiet_client), "oms_orders_near_deadline", channel="laredoute") == 1


def test_the_last_import_round_of_each_channel_is_shown_with_its_failure(
        quiet_client: TestClient, quiet_settings: Settings, clock: FakeClock) -> None:
    db = open_database(quiet_settings)
    store = SyncStore(db)
    at = clock().timestamp()
    try:
        store.save_cursor("laredoute", at - 60, at=at, orders=3)
        samples = metrics(quiet_client)
        assert value(samples, "oms_import_last_round_timestamp_seconds",
                     channel="laredoute") == at
        assert value(samples, "oms_import_last_round_failed", channel="laredoute") == 0
        assert value(samples, "oms_orders_near_deadline", channel="laredoute") == 0

        store.record_run_error("laredoute", "UpstreamUnavailable: timed out", at=at + 120)
        samples = metrics(quiet_client)
        assert value(samples, "oms_import_last_round_timestamp_seconds",
                     channel="laredoute") == at + 120
        assert value(samples, "oms_import_last_round_failed", channel="laredoute") == 1
    finally:
        db.close()


def test_rate_limit_refusals_are_counted(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 2}), clock=clock)
    key = make_api_key(settings, "admin")
    with TestClient(app, raise_server_exceptions=False, headers=bearer(key)) as client:
        before = value(scrape(client.get("/metrics").text), "oms_rate_limited_total")
        client.get("/metrics")
        refused = client.get("/v1/orders")
        assert refused.status_code == 429
    other = create_app(settings, clock=clock)
    with TestClient(other, raise_server_exceptions=False, headers=bearer(key)) as client:
        assert value(metrics(client), "oms_rate_limited_total") == before + 1


def test_the_worker_serves_its_own_metrics_on_its_port(settings: Settings) -> None:
    db = open_database(settings)
    port = free_port()
    server = _serve_worker_metrics(
        settings.model_copy(update={"worker_metrics_port": port}), db)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        samples = scrape(response.text)
        assert value(samples, "oms_store_up") == 1
        assert ("oms_outbox_actions", frozenset({("state", "pending")})) in samples
        names = {f.name for f in text_string_to_metric_families(response.text)}
        assert {"oms_import_rounds", "oms_feed_imports", "oms_projection_lag_events"} <= names
    finally:
        server.shutdown()
        server.server_close()
        db.close()
    assert _serve_worker_metrics(settings.model_copy(update={"worker_metrics_port": 0}),
                                 db) is None


def test_a_worker_whose_metrics_port_is_taken_goes_on_without(settings: Settings) -> None:
    import socket

    db = open_database(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            assert _serve_worker_metrics(
                settings.model_copy(update={"worker_metrics_port": port}), db) is None
        finally:
            db.close()
