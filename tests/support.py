"""Test helpers shared by the suites: a clock to move by hand, sample orders, a live server."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def order_payload(marketplace_order_id: str = "LR-TUNIC-001", **overrides: Any) -> dict[str, Any]:
    """An order as POST /v1/orders takes it: two lines, home delivery."""
    payload: dict[str, Any] = {
        "channel": "laredoute",
        "marketplace_order_id": marketplace_order_id,
        "created_at": "2026-11-26T08:30:00+00:00",
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


def order_fields(marketplace_order_id: str = "LR-TUNIC-001", **overrides: Any) -> dict[str, Any]:
    """The same order as OrderService.import_order takes it (Decimal money, datetime)."""
    from decimal import Decimal

    payload = order_payload(marketplace_order_id, **overrides)
    return {
        **payload,
        "created_at": datetime.fromisoformat(payload["created_at"]),
        "shipping_price": Decimal(payload["shipping_price"]),
        "lines": [{**ln, "unit_price": Decimal(ln["unit_price"])} for ln in payload["lines"]],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """Serves an ASGI app with uvicorn on a loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
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
