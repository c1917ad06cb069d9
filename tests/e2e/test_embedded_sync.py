"""The service as the README runs it: one process serving the API with the sync embedded.

Nothing here drives a round by hand: the import and delivery jobs run on the service's own
scheduler, against a sandbox that settles payments by itself half a second after acceptance.
Everything is seen over HTTP, as an operator or a front end would see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.config import Settings
from sandbox.config import Timings
from tests.e2e.harness import (
    LABRANDBOUTIQUE_KEY,
    LAREDOUTE_KEY,
    eventually,
    sandbox_server,
    with_channels,
)
from tests.support import LiveServer, bearer, make_api_key

SECRETS = (LAREDOUTE_KEY, LABRANDBOUTIQUE_KEY)


@pytest.fixture
def quick_sandbox() -> Iterator[LiveServer]:
    """A sandbox that validates payments 0.5 s after acceptance and does nothing else alone."""
    timings = Timings(payment_delay=0.5, payment_refusal_rate=0.0, receive_delay=None,
                      close_delay=None, refund_delay=None, demo_orders_per_minute=0.0)
    with sandbox_server(timings=timings) as server:
        yield server


class Http:
    """Our service over real HTTP; keeps every body it received, to look for secrets."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10, headers=headers)
        self.bodies: list[str] = []

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.bodies.append(response.text)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def in_tab(self, tab: str, marketplace_order_id: str) -> dict[str, Any] | None:
        response = self.get("/v1/orders", params={"tab": tab})
        assert response.status_code == 200, response.text
        return next((o for o in response.json()["items"]
                     if o["marketplace_order_id"] == marketplace_order_id), None)


def _service(settings: Settings, sandbox: LiveServer, **overrides: Any) -> LiveServer:
    app = create_app(with_channels(settings, sandbox.url, sync_mode="embedded",
                                   import_interval=0.2, action_interval=0.1, **overrides))
    return LiveServer(app, headers=bearer(make_api_key(settings)))


def _generate(sandbox: LiveServer, shop_id: int = 2001) -> str:
    response = httpx.post(f"{sandbox.url}/control/orders",
                          json={"count": 1, "shop_id": shop_id, "lines": 2})
    response.raise_for_status()
    (mid,) = response.json()["orders"]
    return mid


def _raw(sandbox: LiveServer, mid: str) -> dict[str, Any]:
    response = httpx.get(f"{sandbox.url}/control/orders/{mid}")
    response.raise_for_status()
    return response.json()


def _operations(sandbox: LiveServer, mid: str) -> list[str]:
    response = httpx.get(f"{sandbox.url}/control/calls", params={"order_id": mid})
    response.raise_for_status()
    return [c["operation"] for c in response.json()["calls"] if c["operation"] != "OR11"]


def test_an_order_is_imported_accepted_delivered_and_paid_by_the_running_service(
    settings: Settings, quick_sandbox: LiveServer
) -> None:
    with _service(settings, quick_sandbox) as service, Http(service.url, service.headers) as http:
        mid = _generate(quick_sandbox)

        new = eventually(lambda: http.in_tab("new", mid))
        assert (new["status"], new["channel"], new["line_count"]) == ("CREATED", "laredoute", 2)
        order_id = new["id"]
        current = http.get(f"/v1/orders/{order_id}")
        assert current.status_code == 200
        etag = current.headers["ETag"]
        assert etag == f'"{new["version"]}"'

        accepted = http.post(f"/v1/orders/{order_id}/accept", headers={"If-Match": etag})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "ACCEPTED"

        # Delivered by the action job, paid by the marketplace, brought home by the import job.
        shipping = eventually(lambda: http.in_tab("waiting_shipment", mid))
        assert shipping["status"] == "TOSHIP"
        assert _raw(quick_sandbox, mid)["order_state"] == "SHIPPING"

        sync = http.get(f"/v1/orders/{order_id}/actions")
        assert sync.status_code == 200, sync.text
        body = sync.json()
        assert [(a["kind"], a["state"], a["attempts"]) for a in body["actions"]] == [
            ("accept", "confirmed", 1)
        ]
        assert body["marketplace"]["state"] == "SHIPPING"
        assert _operations(quick_sandbox, mid) == ["OR21"]

        status = http.get("/v1/sync/status")
        assert status.status_code == 200, status.text
        state = status.json()
        assert state["mode"] == "embedded"
        channels = {c["channel"]: c for c in state["channels"]}
        assert set(channels) == {"laredoute", "labrandboutique"}
        assert all(c["configured"] for c in channels.values())
        assert not any(c["auto_accept"] for c in channels.values())
        # Both import jobs ran, and without error.
        assert all(c["last_run_at"] and c["last_error"] is None for c in channels.values())
        assert state["actions"] == {"confirmed": 1}

        errors = http.get("/v1/import-errors")
        assert (errors.status_code, errors.json()["items"]) == (200, [])
        assert http.get("/healthz").status_code == 200
        for text in http.bodies:
            for secret in SECRETS:
                assert secret not in text


def test_with_auto_accept_a_new_order_is_accepted_on_the_marketplace_without_a_call(
    settings: Settings, quick_sandbox: LiveServer
) -> None:
    with (_service(settings, quick_sandbox, laredoute_auto_accept=True) as service,
          Http(service.url, service.headers) as http):
        mid = _generate(quick_sandbox)
        other = _generate(quick_sandbox, shop_id=2002)  # La Brand Boutique: not auto-accepted

        eventually(lambda: _raw(quick_sandbox, mid)["order_state"] == "SHIPPING")
        order = eventually(lambda: http.in_tab("waiting_shipment", mid))
        assert order["status"] == "TOSHIP"
        actions = http.get(f"/v1/orders/{order['id']}/actions").json()["actions"]
        assert [(a["kind"], a["state"]) for a in actions] == [("accept", "confirmed")]
        assert _operations(quick_sandbox, mid) == ["OR21"]

        untouched = eventually(lambda: http.in_tab("new", other))
        assert untouched["channel"] == "labrandboutique"
        assert _raw(quick_sandbox, other)["order_state"] == "WAITING_ACCEPTANCE"
        assert _operations(quick_sandbox, other) == []

        status = {c["channel"]: c for c in http.get("/v1/sync/status").json()["channels"]}
        assert (status["laredoute"]["auto_accept"], status["labrandboutique"]["auto_accept"]) == (
            True, False
        )
        for text in http.bodies:
            for secret in SECRETS:
                assert secret not in text
