"""Test helpers shared by the suites: a clock to move by hand, sample orders, a live server."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn


def _latest_nine_utc(now: datetime) -> datetime:
    nine = now.astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine <= now else nine - timedelta(days=1)


# Where every FakeClock starts: 09:00 UTC on the latest day that reached it, taken once when
# the tests start, so that every test clock and every sample order agree on one instant. It
# follows real time: the sample orders are never more than a day old, their 72 hours to accept
# still running on a real clock too.
CLOCK_START = _latest_nine_utc(datetime.now(UTC))


def at(**delta: float) -> datetime:
    """CLOCK_START moved by `delta` (timedelta's arguments): `at(hours=-23)`."""
    return CLOCK_START + timedelta(**delta)


def utc_text(moment: datetime) -> str:
    """A whole-second instant as the API writes it: `2026-11-26T08:30:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeClock:
    """A clock the test moves by hand; it starts at CLOCK_START unless told."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or CLOCK_START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def order_payload(
    marketplace_order_id: str = "LR-TUNIC-001", *, now: datetime | None = None, **overrides: Any
) -> dict[str, Any]:
    """An order as POST /v1/orders takes it: two lines, home delivery, created 30 minutes
    before `now` (CLOCK_START unless told)."""
    payload: dict[str, Any] = {
        "channel": "laredoute",
        "marketplace_order_id": marketplace_order_id,
        "created_at": ((now or CLOCK_START) - timedelta(minutes=30)).isoformat(),
        "customer": {"firstname": "Amélie", "lastname": "Durand", "email": "amelie.durand@example.fr"},
        "shipping_address": {
            "street": "12 rue de la Gare",
            "zip_code": "59100",
            "city": "Roubaix",
            "country": "FR",
        },
        "delivery": {"mode": "home"},
        "shipping_price": "4.90",
        "lines": [
            {
                "line_id": "L1",
                "sku": "TUNIC-LIN-38",
                "ean": "3600000000017",
                "title": "Tunique en lin",
                "quantity": 2,
                "unit_price": "29.99",
            },
            {
                "line_id": "L2",
                "sku": "SCARF-SILK",
                "ean": "3600000000024",
                "title": "Foulard en soie",
                "quantity": 1,
                "unit_price": "15.00",
            },
        ],
    }
    payload.update(overrides)
    return payload


def order_fields(
    marketplace_order_id: str = "LR-TUNIC-001", *, now: datetime | None = None, **overrides: Any
) -> dict[str, Any]:
    """The same order as OrderService.import_order takes it (the domain's values, Decimal money,
    datetime)."""
    from decimal import Decimal

    from app.domain.order import Address, Customer, Delivery, NewLine

    payload = order_payload(marketplace_order_id, now=now, **overrides)
    return {
        **payload,
        "created_at": datetime.fromisoformat(payload["created_at"]),
        "customer": Customer(**payload["customer"]),
        "shipping_address": Address(**payload["shipping_address"]),
        "delivery": Delivery(**payload["delivery"]),
        "shipping_price": Decimal(payload["shipping_price"]),
        "lines": [
            NewLine(**{**ln, "unit_price": Decimal(ln["unit_price"])}) for ln in payload["lines"]
        ],
    }


def make_api_key(settings: Any, role: str = "operator", name: str | None = None) -> str:
    """A new API key of `role` in the store `settings` names; returns the key itself."""
    import uuid as _uuid

    from app.adapters.api_keys import ApiKeyStore
    from app.adapters.db import open_database

    db = open_database(settings)
    try:
        _, key = ApiKeyStore(db).create(name or f"test-{role}-{_uuid.uuid4().hex[:8]}", role)
    finally:
        db.close()
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """Serves an ASGI app with uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any, headers: dict[str, str] | None = None) -> None:
        # Headers its clients send (an API key): `httpx.Client(..., headers=server.headers)`.
        self.headers = headers or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# ---------------------------------------------------------------- API helpers

PROBLEM_JSON = "application/problem+json"


def imported_order(
    client: Any, marketplace_order_id: str = "LR-TUNIC-001", **overrides: Any
) -> dict[str, Any]:
    """POST the sample order and return the order it answers with (status 201)."""
    response = client.post("/v1/orders", json=order_payload(marketplace_order_id, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def order_to_ship(
    client: Any, app: Any, marketplace_order_id: str = "LR-TUNIC-001"
) -> dict[str, Any]:
    """An order accepted over HTTP whose payment the marketplace validated: TOSHIP, version 3."""
    from uuid import UUID

    order = imported_order(client, marketplace_order_id)
    accepted = client.post(f"/v1/orders/{order['id']}/accept", headers={"If-Match": '"1"'})
    assert accepted.status_code == 200, accepted.text
    app.state.service.validate_payment(UUID(order["id"]))
    return client.get(f"/v1/orders/{order['id']}").json()


def paid_order(
    client: Any, app: Any, marketplace_order_id: str = "LR-TUNIC-001"
) -> dict[str, Any]:
    """An order shipped with Colissimo and paid by the marketplace: PAID, version 5."""
    from uuid import UUID

    order = order_to_ship(client, app, marketplace_order_id)
    shipped = client.post(
        f"/v1/orders/{order['id']}/ship",
        headers={"If-Match": f'"{order["version"]}"'},
        json={"tracking_number": "6A12345678901", "carrier": "Colissimo"},
    )
    assert shipped.status_code == 200, shipped.text
    app.state.service.mark_paid(UUID(order["id"]))
    return client.get(f"/v1/orders/{order['id']}").json()


def assert_problem(
    response: Any,
    status: int,
    type_: str,
    *,
    field: str | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    """Check an RFC 9457 answer: status, media type, type, and field and rule when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem = response.json()
    assert problem["type"] == type_, problem
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert problem["field"] == field, problem
    if rule is not None:
        assert problem["rule"] == rule, problem
    return problem
