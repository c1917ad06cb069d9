"""The sandbox's AF01 answer, and OF21 offers carrying additional fields, keep to the spec."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, Timings
from sandbox.offer_file import DEFAULT_OFFER_ADDITIONAL_FIELDS, AdditionalField
from tests.contract.spec import ContractError, validate_response
from tests.contract.test_sandbox_offer_responses import KEYS, CheckedShop
from tests.sandbox.conftest import offer_csv, offer_line
from tests.support import LiveServer

FIELDS = (*DEFAULT_OFFER_ADDITIONAL_FIELDS,
          AdditionalField("colour", "Couleur", "LIST", accepted_values=("red", "blue")),
          AdditionalField("sizes", "Tailles", "MULTIPLE_VALUES_LIST",
                          accepted_values=("S", "M")),
          AdditionalField("gift", "Emballage", "BOOLEAN"))


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[CheckedShop, httpx.Client]]:
    manual = Timings(payment_delay=None, receive_delay=None, close_delay=None,
                     refund_delay=None, offer_import_delay=None)
    config = SandboxConfig(seed=2026, timings=manual, offer_additional_fields=FIELDS)
    with LiveServer(create_sandbox_app(config)) as server, \
            httpx.Client(base_url=f"{server.url}/control", timeout=10) as control:
        yield CheckedShop(server.url, 2001), control


def test_af01_keeps_to_the_spec(shop: tuple[CheckedShop, httpx.Client]) -> None:
    lr, _ = shop
    before = lr.checked
    body = lr.get("/api/additional_fields", entities="OFFER").json()
    assert lr.checked == before + 1
    assert [f["code"] for f in body["additional_fields"]] == [f.code for f in FIELDS]
    colour = next(f for f in body["additional_fields"] if f["code"] == "colour")
    assert colour["accepted_values"] == ["red", "blue"]
    assert lr.get("/api/additional_fields", entities="SHOP").json()["additional_fields"] == []


def test_offers_with_additional_fields_keep_to_the_spec(
        shop: tuple[CheckedShop, httpx.Client]) -> None:
    lr, control = shop
    columns = ("sku", "product-id", "product-id-type", "price", "quantity", "state",
               "update-delete", "delivery-fee", "relay-fee", "colour", "sizes", "gift")
    import_id = lr.upload(offer_csv(
        offer_line("DRESS", relay_fee="2.90", colour="red", sizes="S|M", gift="false"),
        columns=columns))
    assert control.post(f"/offer-imports/{import_id}/complete").status_code == 200
    (offer,) = lr.get("/api/offers", sku="DRESS").json()["offers"]
    assert {f["code"]: f["value"] for f in offer["offer_additional_fields"]} == {
        "delivery-fee": "4.90", "relay-fee": "2.90", "colour": "red", "sizes": ["S", "M"],
        "gift": "false"}


def test_the_validator_would_catch_a_broken_af01() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/api/additional_fields",
                            headers={"Authorization": KEYS[2001]})
    field = DEFAULT_OFFER_ADDITIONAL_FIELDS[0].as_af01()
    for broken in ({"additional_fields": [{**field, "required": "yes"}], "total_count": 1},
                   {"additional_fields": [{k: v for k, v in field.items() if k != "code"}],
                    "total_count": 1},
                   {"additional_fields": [field]}):
        with pytest.raises(ContractError):
            validate_response(httpx.Response(200, json=broken, request=request))
