"""Every route of the API, every role: each gets exactly the status it should.

The table below is the access policy, written from the roles' definitions (not from the
code): admin manages keys and channel settings and may do everything; an operator reads and
changes orders and their marketplace actions; an auditor reads everything, histories
included, and changes nothing; an integrator reads the event stream and the orders' and offers' state.
The marketplace's reasons and carriers of a channel are read by whoever reads the sync status. Offers follow orders:
operators change them, everyone reads them, histories are for operators and auditors.
A route of the OpenAPI document without a row here fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.adapters.db import open_database
from app.application.orders import OrderService
from app.bootstrap import offer_service
from app.config import Settings
from tests.support import bearer, make_api_key, order_fields, order_payload

EVERYONE = frozenset({"admin", "operator", "auditor", "integrator"})
WRITERS = frozenset({"admin", "operator"})
READERS_OF_HISTORY = frozenset({"admin", "operator", "auditor"})
STREAM_READERS = frozenset({"admin", "auditor", "integrator"})
ADMIN = frozenset({"admin"})
OPEN = None  # no key needed

Request = Callable[[str, dict[str, str]], dict[str, Any]]


def _call(method: str, path: str, *, status: int, body: Any = None,
          headers: dict[str, str] | None = None) -> Request:
    """How to call a route (given the role's name and path values) and the status expected
    for a role that may call it."""

    def build(role: str, ids: dict[str, str]) -> dict[str, Any]:
        filled = path.format(**ids)
        payload = body(role) if callable(body) else body
        return {"method": method, "url": filled, "json": payload, "headers": headers or {},
                "expected": status}

    return build


# (method, path) -> (roles allowed, or OPEN; how to call it)
POLICY: dict[tuple[str, str], tuple[frozenset[str] | None, Request]] = {
    ("GET", "/healthz"): (OPEN, _call("GET", "/healthz", status=200)),
    ("GET", "/readyz"): (OPEN, _call("GET", "/readyz", status=200)),
    ("POST", "/v1/orders"): (WRITERS, _call(
        "POST", "/v1/orders", status=201,
        body=lambda role: order_payload(f"LR-MATRIX-{role.upper()}"))),
    ("GET", "/v1/orders"): (EVERYONE, _call("GET", "/v1/orders?tab=new", status=200)),
    ("GET", "/v1/orders/tabs"): (EVERYONE, _call("GET", "/v1/orders/tabs", status=200)),
    ("GET", "/v1/orders/{order_id}"): (EVERYONE, _call("GET", "/v1/orders/{order_id}", status=200)),
    ("GET", "/v1/orders/{order_id}/events"): (
        READERS_OF_HISTORY, _call("GET", "/v1/orders/{order_id}/events", status=200)),
    # Commands without If-Match: past the access check they answer 428, and change nothing.
    ("POST", "/v1/orders/{order_id}/accept"): (
        WRITERS, _call("POST", "/v1/orders/{order_id}/accept", status=428)),
    ("POST", "/v1/orders/{order_id}/refuse"): (
        WRITERS, _call("POST", "/v1/orders/{order_id}/refuse", status=428, body={"reason": "x"})),
    ("POST", "/v1/orders/{order_id}/ship"): (WRITERS, _call(
        "POST", "/v1/orders/{order_id}/ship", status=428,
        body={"tracking_number": "6A1", "carrier": "Colissimo"})),
    ("POST", "/v1/orders/{order_id}/cancel"): (
        WRITERS, _call("POST", "/v1/orders/{order_id}/cancel", status=428, body={"reason": "x"})),
    ("POST", "/v1/orders/{order_id}/refunds"): (WRITERS, _call(
        "POST", "/v1/orders/{order_id}/refunds", status=428,
        body={"reason": "x", "refund_shipping": False})),
    ("GET", "/v1/orders/{order_id}/actions"): (
        READERS_OF_HISTORY, _call("GET", "/v1/orders/{order_id}/actions", status=200)),
    ("POST", "/v1/orders/{order_id}/actions/{action_id}/retry"): (
        WRITERS, _call("POST", "/v1/orders/{order_id}/actions/{action_id}/retry", status=409)),
    ("GET", "/v1/import-errors"): (READERS_OF_HISTORY, _call("GET", "/v1/import-errors", status=200)),
    ("GET", "/v1/sync/status"): (READERS_OF_HISTORY, _call("GET", "/v1/sync/status", status=200)),
    ("GET", "/v1/events"): (STREAM_READERS, _call("GET", "/v1/events?after=0", status=200)),
    ("PUT", "/v1/offers/{channel}/{sku}"): (WRITERS, _call(
        "PUT", "/v1/offers/laredoute/{sku}", status=428, body={"price": "9.99"})),
    ("GET", "/v1/offers/{channel}/{sku}"): (EVERYONE, _call("GET", "/v1/offers/laredoute/{sku}", status=200)),
    ("POST", "/v1/offers/{channel}/{sku}/unpublish"): (
        WRITERS, _call("POST", "/v1/offers/laredoute/{sku}/unpublish", status=428)),
    ("PUT", "/v1/offers/{channel}/{sku}/promotion"): (WRITERS, _call(
        "PUT", "/v1/offers/laredoute/{sku}/promotion", status=428,
        body={"price": "8.00", "crossed_price": "12.00"})),
    ("DELETE", "/v1/offers/{channel}/{sku}/promotion"): (
        WRITERS, _call("DELETE", "/v1/offers/laredoute/{sku}/promotion", status=428)),
    ("GET", "/v1/offers/{channel}/{sku}/events"): (
        READERS_OF_HISTORY, _call("GET", "/v1/offers/laredoute/{sku}/events", status=200)),
    ("GET", "/v1/offers"): (EVERYONE, _call("GET", "/v1/offers?channel=laredoute", status=200)),
    # An empty JSON source: past the access check it answers 200 and changes nothing.
    ("POST", "/v1/offers/{channel}/bulk"): (WRITERS, _call(
        "POST", "/v1/offers/laredoute/bulk", status=200, body=[])),
    ("GET", "/v1/offer-reports/offers"): (EVERYONE, _call("GET", "/v1/offer-reports/offers", status=200)),
    ("GET", "/v1/offer-reports/offers_laredoute"): (
        EVERYONE, _call("GET", "/v1/offer-reports/offers_laredoute", status=200)),
    # No marketplace is configured in these tests: past the access check, 409.
    ("POST", "/v1/offers/{channel}/operations"): (WRITERS, _call(
        "POST", "/v1/offers/laredoute/operations", status=409,
        body={"name": "Black Friday", "skus": ["TUNIC-38"]})),
    ("POST", "/v1/offers/{channel}/feed"): (WRITERS, _call(
        "POST", "/v1/offers/laredoute/feed", status=409)),
    ("GET", "/v1/offer-imports/{channel}"): (EVERYONE, _call(
        "GET", "/v1/offer-imports/laredoute", status=409)),
    ("GET", "/v1/keys"): (ADMIN, _call("GET", "/v1/keys", status=200)),
    ("POST", "/v1/keys"): (ADMIN, _call(
        "POST", "/v1/keys", status=201,
        body=lambda role: {"name": f"made-by-{role}", "role": "auditor"})),
    ("POST", "/v1/keys/{name}/revoke"): (ADMIN, _call("POST", "/v1/keys/{name}/revoke", status=404)),
    ("GET", "/v1/channels"): (ADMIN, _call("GET", "/v1/channels", status=200)),
    ("PUT", "/v1/channels/{channel}"): (ADMIN, _call(
        "PUT", "/v1/channels/{channel}", status=200, body={"auto_accept": False})),
    # The marketplace's reference lists: no marketplace here, so empty lists (200).
    ("GET", "/v1/channels/{channel}/reasons"): (READERS_OF_HISTORY, _call(
        "GET", "/v1/channels/{channel}/reasons?type=REFUND", status=200)),
    ("GET", "/v1/channels/{channel}/carriers"): (READERS_OF_HISTORY, _call(
        "GET", "/v1/channels/{channel}/carriers", status=200)),
}


def _documented(app: Any) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_of_the_api_has_a_policy(app) -> None:
    """A new route fails here until it is given its row in POLICY."""
    documented = _documented(app)
    assert documented - POLICY.keys() == set(), "routes without a policy"
    assert POLICY.keys() - documented == set(), "policy rows for routes that do not exist"


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    return {role: make_api_key(settings, role, f"matrix-{role}") for role in sorted(EVERYONE)}


def _ids(service: OrderService, settings: Settings) -> dict[str, str]:
    order = service.import_order(**order_fields("LR-MATRIX")).order
    service.accept(order.id)
    db = open_database(settings)
    try:
        offer_service(service.store, db).put("laredoute", "TUNIC-38", {
            "ean": "4006381333931", "price": "29.99", "quantity": 3, "delivery_fee": "4.90"})
    finally:
        db.close()
    return {"order_id": str(order.id), "action_id": "1", "name": "nobody", "channel": "laredoute",
            "sku": "TUNIC-38"}


def test_each_role_gets_exactly_the_status_it_should_on_every_route(
    app, service: OrderService, settings: Settings, keys: dict[str, str]
) -> None:
    ids = _ids(service, settings)
    # The accept above put action 1 in the outbox; confirm it so that a retry is refused (409).
    wrong: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        _wait_for_action(client, keys["admin"], ids["order_id"])
        app.state.sync_store.move_action(1, from_states=["pending"], to_state="confirmed", at=0.0)
        for (method, path), (allowed, build) in sorted(POLICY.items()):
            for role in [None, *sorted(EVERYONE)]:
                call = build(role or "anonymous", ids)
                headers = dict(call["headers"])
                if role is not None:
                    headers.update(bearer(keys[role]))
                response = client.request(call["method"], call["url"], json=call["json"],
                                          headers=headers)
                if allowed is OPEN:
                    expected = call["expected"]
                elif role is None:
                    expected = 401
                else:
                    expected = call["expected"] if role in allowed else 403
                if response.status_code != expected:
                    wrong.append(f"{method} {path} as {role or 'anonymous'}: "
                                 f"{response.status_code}, expected {expected}")
                elif expected in (401, 403):
                    assert response.headers["content-type"] == "application/problem+json"
    assert wrong == []


def _wait_for_action(client: TestClient, key: str, order_id: str) -> None:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = client.get(f"/v1/orders/{order_id}/actions", headers=bearer(key)).json()
        if body["actions"]:
            return
        time.sleep(0.02)
    raise AssertionError("the accept never reached the outbox")
