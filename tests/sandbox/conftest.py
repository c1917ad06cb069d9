"""A fresh sandbox marketplace per test, on a real loopback port, moving only when told to."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from sandbox.app import create_sandbox_app
from sandbox.catalog import ean13
from sandbox.config import SandboxConfig, Timings
from tests.support import LiveServer

LR_KEY = "sandbox-laredoute-key"
LBB_KEY = "sandbox-labrandboutique-key"

# The OF01 file our service sends, columns in this order.
OFFER_COLUMNS: tuple[str, ...] = (
    "sku", "product-id", "product-id-type", "price", "discount-price", "discount-start-date",
    "discount-end-date", "quantity", "state", "available-start-date", "available-end-date",
    "leadtime-to-ship", "ecotax", "update-delete", "delivery-fee", "delivery-days-range-min",
    "delivery-days-range-max", "relay-fee", "relay-delay", "relay-days-range-min",
    "relay-days-range-max", "partner-product-parent",
)


def ean_for(sku: str) -> str:
    """A valid EAN-13 of its own for each test SKU."""
    return ean13("360" + f"{zlib.crc32(sku.encode()) % 10**9:09d}")


def offer_line(sku: str = "TUNIC-LIN-38", **cells: str) -> dict[str, str]:
    """A valid line of our file; keyword cells use _ for - (discount_price=...)."""
    line = {
        "sku": sku, "product-id": ean_for(sku), "product-id-type": "EAN", "price": "39.99",
        "discount-price": "", "discount-start-date": "", "discount-end-date": "",
        "quantity": "5", "state": "11", "available-start-date": "2020-01-01T00:00:00",
        "available-end-date": "2099-12-31T23:59:59", "leadtime-to-ship": "2", "ecotax": "",
        "update-delete": "update", "delivery-fee": "4.90", "delivery-days-range-min": "2",
        "delivery-days-range-max": "4", "relay-fee": "", "relay-delay": "",
        "relay-days-range-min": "", "relay-days-range-max": "", "partner-product-parent": "",
    }
    line.update({name.replace("_", "-"): value for name, value in cells.items()})
    return line


def offer_csv(*lines: dict[str, str], columns: tuple[str, ...] = OFFER_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(columns)
    for line in lines:
        writer.writerow([line.get(name, "") for name in columns])
    return out.getvalue().encode("utf-8")


def upload(client: httpx.Client, content: bytes, mode: str = "NORMAL",
           **form: str) -> httpx.Response:
    """OF01 as our service sends it: multipart with `file` (offers.csv) and `import_mode`."""
    return client.post("/api/offers/imports", files={"file": ("offers.csv", content, "text/csv")},
                       data={"import_mode": mode, **form})


def _share(items: list[dict[str, Any]], part: float, whole: float) -> list[dict[str, Any]]:
    """Each tax of `items` in the proportion part / whole, to the cent."""
    ratio = Decimal(str(part)) / Decimal(str(whole)) if whole else Decimal(0)
    return [{"code": item["code"], "amount": float(
        (Decimal(str(item["amount"])) * ratio).quantize(Decimal("0.01"), ROUND_HALF_UP))}
        for item in items]


def taxes_for(line: dict[str, Any], amount: float, shipping: float = 0.0) -> dict[str, Any]:
    """taxes and shipping_taxes of a refund or cancelation of these amounts of the line: each
    of the line's taxes in the same proportion (all of them for the whole amounts); empty
    lists for a line without taxes."""
    return {"taxes": _share(line["taxes"], amount, line["price"]),
            "shipping_taxes": _share(line["shipping_taxes"], shipping, line["shipping_price"])}


def manual_timings(**overrides: Any) -> Timings:
    values: dict[str, Any] = {"payment_delay": None, "payment_refusal_rate": 0.0,
                              "receive_delay": None, "close_delay": None, "refund_delay": None,
                              "demo_orders_per_minute": 0.0, "offer_import_delay": None}
    return Timings(**{**values, **overrides})


class Sandbox:
    """A running sandbox with a control client and one API client per shop."""

    def __init__(self, server: LiveServer, app: Any) -> None:
        self.url = server.url
        self.app = app
        self.control = httpx.Client(base_url=f"{server.url}/control", timeout=10)
        self.lr = httpx.Client(base_url=server.url, headers={"Authorization": LR_KEY}, timeout=10)
        self.lbb = httpx.Client(base_url=server.url, headers={"Authorization": LBB_KEY},
                                timeout=10)

    def close(self) -> None:
        for client in (self.control, self.lr, self.lbb):
            client.close()

    # control helpers
    def orders(self, count: int = 1, **options: Any) -> list[str]:
        response = self.control.post("/orders", json={"count": count, "shop_id": 2001, **options})
        assert response.status_code == 200, response.text
        return list(response.json()["orders"])

    def order(self, **options: Any) -> str:
        return self.orders(1, **options)[0]

    def raw(self, order_id: str) -> dict[str, Any]:
        response = self.control.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(path, json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        self.post("/clock", {"advance_seconds": seconds})

    def settings(self, **changes: Any) -> dict[str, Any]:
        response = self.control.put("/settings", json=changes)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, kind: str, **options: Any) -> dict[str, Any]:
        return self.post("/faults", {"kind": kind, **options})

    def calls(self, **params: str) -> list[dict[str, Any]]:
        return list(self.control.get("/calls", params=params).json()["calls"])

    # seller helpers (La Redoute shop)
    def accept(self, order_id: str, accepted: bool = True) -> httpx.Response:
        lines = self.raw(order_id)["order_lines"]
        return self.lr.put(f"/api/orders/{order_id}/accept", json={
            "order_lines": [{"id": ln["order_line_id"], "accepted": accepted} for ln in lines]})

    def to_shipping(self, order_id: str) -> dict[str, Any]:
        assert self.accept(order_id).status_code == 204
        return self.post(f"/orders/{order_id}/payment", {"outcome": "validate"})

    def shipped(self, order_id: str) -> dict[str, Any]:
        self.to_shipping(order_id)
        tracked = self.lr.put(f"/api/orders/{order_id}/tracking",
                              json={"carrier_code": "COLISSIMO",
                                    "tracking_number": "6A12345678901"})
        assert tracked.status_code == 204, tracked.text
        assert self.lr.put(f"/api/orders/{order_id}/ship").status_code == 204
        return self.raw(order_id)

    def refund(self, *refunds: dict[str, Any]) -> httpx.Response:
        return self.lr.put("/api/orders/refund", json={"refunds": list(refunds)})

    # offers (La Redoute shop unless told)
    def send_offers(self, content: bytes, mode: str = "NORMAL",
                    client: httpx.Client | None = None) -> int:
        response = upload(client or self.lr, content, mode)
        assert response.status_code == 201, response.text
        return int(response.json()["import_id"])

    def complete_import(self, import_id: int) -> dict[str, Any]:
        return self.post(f"/offer-imports/{import_id}/complete")

    def offer_import(self, import_id: int, client: httpx.Client | None = None) -> dict[str, Any]:
        response = (client or self.lr).get(f"/api/offers/imports/{import_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def imported(self, content: bytes, mode: str = "NORMAL",
                 client: httpx.Client | None = None) -> dict[str, Any]:
        """Send a file and have it processed at once; OF02's answer afterwards."""
        import_id = self.send_offers(content, mode, client)
        self.complete_import(import_id)
        return self.offer_import(import_id, client)

    def offers(self, client: httpx.Client | None = None, **params: Any) -> dict[str, Any]:
        response = (client or self.lr).get("/api/offers", params={"max": 100, **params})
        assert response.status_code == 200, response.text
        return response.json()


def start_sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    app = create_sandbox_app(config)
    with LiveServer(app) as server:
        sandbox = Sandbox(server, app)
        try:
            yield sandbox
        finally:
            sandbox.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield from start_sandbox(SandboxConfig(seed=42, timings=manual_timings(), tick_interval=0.05))


def assert_mirakl_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["message"], body
    if code is not None:
        assert body.get("code") == code, body
    return body
