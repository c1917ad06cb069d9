"""The sandbox's offer routes answer as the published Mirakl seller API says.

Every request these tests send (the OF01 multipart upload included) is checked against the spec
before it leaves, and every 2xx answer after it arrives: imports waiting, complete, half in error
and failed (OF01, OF02, OF03), and offers of every kind in the listing (OF21).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, Timings
from tests.contract.spec import ContractError, validate_request, validate_response
from tests.sandbox.conftest import ean_for, offer_csv, offer_line
from tests.support import LiveServer

KEYS = {2001: "sandbox-laredoute-key", 2002: "sandbox-labrandboutique-key"}


class CheckedShop:
    """A shop's API client whose requests and 2xx answers must all keep to the spec."""

    def __init__(self, url: str, shop_id: int) -> None:
        self.checked = 0
        self.shop_id = shop_id
        self.client = httpx.Client(
            base_url=url, timeout=10, params={"shop_id": shop_id},
            headers={"Authorization": KEYS[shop_id]},
            event_hooks={"request": [validate_request], "response": [self._check]},
        )

    def _check(self, response: httpx.Response) -> None:
        if response.is_success:
            response.read()
            validate_response(response)
            self.checked += 1

    def upload(self, content: bytes, mode: str = "NORMAL") -> int:
        response = self.client.post(
            "/api/offers/imports", files={"file": ("offers.csv", content, "text/csv")},
            data={"import_mode": mode, "with_products": "false"})
        assert response.status_code == 201, response.text
        return int(response.json()["import_id"])

    def get(self, path: str, **params: Any) -> httpx.Response:
        response = self.client.get(path, params={"shop_id": self.shop_id, **params})
        assert response.status_code == 200, response.text
        return response


class Offers:
    """Imports in every status and offers of every kind, for both shops."""

    def __init__(self, url: str) -> None:
        self.control = httpx.Client(base_url=f"{url}/control", timeout=10)
        self.lr = CheckedShop(url, 2001)
        self.lbb = CheckedShop(url, 2002)
        self.imports: dict[str, int] = {}

    def complete(self, import_id: int) -> None:
        response = self.control.post(f"/offer-imports/{import_id}/complete")
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def offers() -> Iterator[Offers]:
    manual = Timings(payment_delay=None, receive_delay=None, close_delay=None,
                     refund_delay=None, offer_import_delay=None)
    with LiveServer(create_sandbox_app(SandboxConfig(seed=2026, timings=manual))) as server:
        book = Offers(server.url)
        book.control.post("/catalogue/unknown-products", json={"eans": [ean_for("GHOST")]})
        book.imports["complete"] = book.lr.upload(offer_csv(
            offer_line("PLAIN"),
            offer_line("PROMO", price="49.99", discount_price="39.99",
                       discount_start_date="2020-01-01T00:00:00",
                       discount_end_date="2099-01-01T00:00:00", ecotax="0.30"),
            offer_line("PROMO-LATER", discount_price="19.99",
                       discount_start_date="2099-01-01T00:00:00"),
            offer_line("OPEN-PROMO", discount_price="19.99"),
            offer_line("SOLD-OUT", quantity="0"),
            offer_line("NOT-YET", available_start_date="2099-01-01T00:00:00"),
            offer_line("NO-DATES", available_start_date="", available_end_date="",
                       leadtime_to_ship="", delivery_days_range_min="",
                       delivery_days_range_max=""),
            offer_line("LEADTIME-0", leadtime_to_ship="0"),
            offer_line("RELAY", relay_fee="2.90", relay_delay="3", relay_days_range_min="3",
                       relay_days_range_max="5"),
            offer_line("PARENT", product_id="PARENT", product_id_type="SHOP_SKU",
                       partner_product_parent="PARENT"),
            offer_line("CHILD", partner_product_parent="PARENT"),
        ))
        book.complete(book.imports["complete"])
        book.imports["half"] = book.lr.upload(offer_csv(
            offer_line("GHOST"), offer_line("HALF-OK"), offer_line("HALF-KO", delivery_fee="")))
        book.complete(book.imports["half"])
        book.imports["failed"] = book.lr.upload(b"\xff\xfe not a csv")
        book.complete(book.imports["failed"])
        book.imports["replace"] = book.lbb.upload(offer_csv(offer_line("LBB-1")), "REPLACE")
        book.complete(book.imports["replace"])
        book.imports["waiting"] = book.lr.upload(offer_csv(offer_line("LATER")))
        yield book


def test_every_import_status_keeps_to_the_spec(offers: Offers) -> None:
    statuses = {}
    for name, import_id in offers.imports.items():
        shop = offers.lbb if name == "replace" else offers.lr
        statuses[name] = shop.get(f"/api/offers/imports/{import_id}").json()["status"]
    assert statuses == {"complete": "COMPLETE", "half": "COMPLETE", "failed": "FAILED",
                        "replace": "COMPLETE", "waiting": "WAITING"}


def test_a_running_import_keeps_to_the_spec(offers: Offers) -> None:
    offers.control.put("/settings", json={"offer_import_delay": 3600})
    try:
        import_id = offers.lr.upload(offer_csv(offer_line("RUNNING")))
        offers.control.post("/clock", json={"advance_seconds": 1800})
        body = offers.lr.get(f"/api/offers/imports/{import_id}").json()
        assert body["status"] == "RUNNING"
    finally:
        offers.control.put("/settings", json={"offer_import_delay": None})


def test_the_error_report_keeps_to_the_spec(offers: Offers) -> None:
    report = offers.lr.get(f"/api/offers/imports/{offers.imports['half']}/error_report")
    assert report.headers["content-type"] == "application/octet-stream"
    assert report.text.splitlines()[0].endswith(";error-line;error-message")
    assert len(report.text.splitlines()) == 3


def test_every_offer_in_the_listing_keeps_to_the_spec(offers: Offers) -> None:
    before = offers.lr.checked
    page = offers.lr.get("/api/offers", max=100).json()
    skus = {o["shop_sku"] for o in page["offers"]}
    assert {"PLAIN", "PROMO", "SOLD-OUT", "NOT-YET", "PARENT", "HALF-OK"} <= skus
    assert "GHOST" not in skus and "HALF-KO" not in skus and "LBB-1" not in skus
    assert page["total_count"] == len(page["offers"]) == 12
    assert offers.lr.checked == before + 1  # the hook validated it
    assert {o["active"] for o in page["offers"]} == {True, False}


def test_filtered_paged_and_sorted_listings_keep_to_the_spec(offers: Offers) -> None:
    assert offers.lr.get("/api/offers", sku="PROMO").json()["offers"][0]["discount"]
    assert offers.lr.get("/api/offers", product_id=ean_for("PLAIN")).json()["total_count"] == 1
    assert offers.lr.get("/api/offers", offer_state_codes="11").json()["total_count"] == 12
    seen = []
    for offset in range(0, 12, 5):
        seen += [o["offer_id"] for o in offers.lr.get("/api/offers", max=5, offset=offset)
                 .json()["offers"]]
    assert len(seen) == len(set(seen)) == 12
    assert offers.lr.get("/api/offers", sort="productTitle", order="desc").json()["offers"]
    assert offers.lbb.get("/api/offers").json()["total_count"] == 1
    assert offers.lr.get("/api/offers", sku="NOTHING").json() == {"offers": [],
                                                                 "total_count": 0}


def test_the_validator_would_catch_a_broken_offer_or_import(offers: Offers) -> None:
    """Guard against a validator that passes everything."""
    offer = offers.lr.get("/api/offers", sku="PLAIN").json()["offers"][0]
    request = httpx.Request("GET", "http://127.0.0.1/api/offers",
                            headers={"Authorization": KEYS[2001]})
    for broken in ({**offer, "discount": None},
                   {k: v for k, v in offer.items() if k != "shop_sku"},
                   {**offer, "quantity": "many"}):
        response = httpx.Response(200, json={"offers": [broken], "total_count": 1},
                                  request=request)
        with pytest.raises(ContractError):
            validate_response(response)
    status = offers.lr.get(f"/api/offers/imports/{offers.imports['complete']}").json()
    request = httpx.Request("GET", "http://127.0.0.1/api/offers/imports/1",
                            headers={"Authorization": KEYS[2001]})
    with pytest.raises(ContractError):
        validate_response(httpx.Response(200, json={**status, "lines_read": None},
                                         request=request))


def test_the_validator_checks_the_upload_itself() -> None:
    """OF01 requests: import_mode is required, with_products a boolean."""
    def upload(data: dict[str, str]) -> httpx.Request:
        request = httpx.Request("POST", "http://127.0.0.1/api/offers/imports",
                                headers={"Authorization": KEYS[2001]},
                                files={"file": ("offers.csv", offer_csv(offer_line("A")))},
                                data=data)
        request.read()
        return request

    validate_request(upload({"import_mode": "NORMAL", "with_products": "false"}))
    for data in ({"with_products": "false"}, {"import_mode": "NORMAL", "with_products": "x"}):
        with pytest.raises(ContractError):
            validate_request(upload(data))
