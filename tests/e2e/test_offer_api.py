"""Offers through the API over HTTP, sent to the sandbox: the feed on demand, the imports'
outcomes, and a special operation whose batch id is the marketplace's import id."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.api.app import create_app
from app.config import Settings
from tests.e2e.harness import eventually, sandbox_server, with_channels
from tests.support import LiveServer, bearer, make_api_key

VALID = {"ean": "4006381333931", "price": "19.90", "crossed_price": "24.90", "quantity": 5,
         "delivery_fee": "4.90"}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Our API (sync jobs off: each send is asked for) and the sandbox's control API."""
    with sandbox_server() as sandbox:
        synced = with_channels(settings, sandbox.url, projection_poll_interval=0.05)
        server = LiveServer(create_app(synced), headers=bearer(make_api_key(synced)))
        with server, httpx.Client(base_url=server.url, headers=server.headers, timeout=20) as ours, \
                httpx.Client(base_url=sandbox.url + "/control", timeout=20) as control:
            yield ours, control


def _pending(ours: httpx.Client, count: int) -> None:
    eventually(lambda: len(ours.get("/v1/offers", params={"sync_state": "pending"})
                       .json()["items"]) == count, timeout=15)


def test_the_feed_sends_valid_offers_and_reports_the_marketplace_outcome(api) -> None:
    ours, control = api
    for sku in ("TUNIC-38", "TUNIC-40"):
        assert ours.put(f"/v1/offers/laredoute/{sku}", json=VALID).status_code == 201
    bad = {**VALID, "delivery_fee": None}
    assert ours.put("/v1/offers/laredoute/NO-FEE", json=bad).status_code == 201
    _pending(ours, 2)  # the invalid offer is blocked: the feed leaves it out
    blocked = ours.get("/v1/offers", params={"sync_state": "blocked"}).json()["items"]
    assert [o["sku"] for o in blocked] == ["NO-FEE"]

    sent = ours.post("/v1/offers/laredoute/feed")
    assert sent.status_code == 200, sent.text
    import_id = sent.json()["sent"]
    assert import_id and sent.json()["offers"] == 2
    (running,) = ours.get("/v1/offer-imports/laredoute").json()
    assert (running["import_id"], running["state"], running["reason"]) == (import_id, "running", "feed")
    assert {o["sku"]: o["sync_state"] for o in ours.get("/v1/offers").json()["items"]} == {
        "NO-FEE": "blocked", "TUNIC-38": "sent", "TUNIC-40": "sent"}

    control.post(f"/offer-imports/{import_id}/complete").raise_for_status()
    assert ours.post("/v1/offers/laredoute/feed").json()["completed"] == [import_id]
    states = {o["sku"]: o["sync_state"] for o in ours.get("/v1/offers").json()["items"]}
    assert states == {"NO-FEE": "blocked", "TUNIC-38": "live", "TUNIC-40": "live"}
    assert ours.get("/v1/offer-imports/laredoute", params={"state": "complete"}).json()[0][
        "import_id"] == import_id
    report = ours.get("/v1/offer-reports/offers").json()
    assert [(line["sku"], [e["field"] for e in line["errors"]]) for line in report] == [
        ("NO-FEE", ["delivery_fee"])]
    # The single-offer read tells the same.
    for sku, state in (("NO-FEE", "blocked"), ("TUNIC-38", "live")):
        offer = ours.get(f"/v1/offers/laredoute/{sku}").json()
        assert (offer["sync_state"], offer["marketplace_message"]) == (state, None)


def test_the_single_offer_read_gives_the_marketplace_refusal(api) -> None:
    ours, control = api
    ours.put("/v1/offers/laredoute/NEW", json=VALID).raise_for_status()
    control.post("/catalogue/unknown-products", json={"eans": [VALID["ean"]]}).raise_for_status()
    assert ours.get("/v1/offers/laredoute/NEW").json()["sync_state"] == "pending"
    _pending(ours, 1)
    import_id = ours.post("/v1/offers/laredoute/feed").json()["sent"]
    assert ours.get("/v1/offers/laredoute/NEW").json()["sync_state"] == "sent"
    control.post(f"/offer-imports/{import_id}/complete").raise_for_status()
    ours.post("/v1/offers/laredoute/feed").raise_for_status()
    offer = ours.get("/v1/offers/laredoute/NEW").json()
    assert (offer["sync_state"], offer["marketplace_message"]) == ("rejected", "product not found")
    (listed,) = ours.get("/v1/offers", params={"sync_state": "rejected"}).json()["items"]
    assert (listed["sku"], listed["marketplace_message"]) == ("NEW", "product not found")


def test_an_operation_sends_its_segment_at_once_and_keeps_the_batch_id(api) -> None:
    ours, control = api
    for sku in ("BF-1", "BF-2", "OTHER"):
        ours.put(f"/v1/offers/laredoute/{sku}", json=VALID).raise_for_status()
    _pending(ours, 3)
    response = ours.post("/v1/offers/laredoute/operations",
                         json={"name": "Black Friday", "skus": ["BF-1", "BF-2"]})
    assert response.status_code == 201, response.text
    batch_id = response.json()["batch_id"]
    for sku in ("BF-1", "BF-2"):
        offer = ours.get(f"/v1/offers/laredoute/{sku}").json()
        assert offer["operation"] == {"name": "Black Friday", "batch_id": batch_id}
    (record,) = ours.get("/v1/offer-imports/laredoute").json()
    assert (record["reason"], record["operation"], record["offers"]) == (
        "operation", "Black Friday", 2)
    sent = control.get("/offers", params={"shop_id": 2001}).json()
    skus = {o["sku"] for o in (sent["offers"] if isinstance(sent, dict) else sent)}
    assert skus <= {"BF-1", "BF-2"}  # the segment only (once the import is processed)
    missing = ours.post("/v1/offers/laredoute/operations",
                        json={"name": "Soldes", "skus": ["NOPE"]})
    assert missing.status_code == 404
