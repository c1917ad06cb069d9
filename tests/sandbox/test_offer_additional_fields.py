"""The offer additional fields the shops declare (AF01), and OF01 files that use them: a
declared field's value is kept on the offer and shown in OF21; a column neither standard nor
declared fails the import with the columns named, never stored quietly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sandbox.config import SandboxConfig
from sandbox.offer_file import DEFAULT_OFFER_ADDITIONAL_FIELDS, AdditionalField
from sandbox.offers import OfferBook
from tests.sandbox.conftest import (
    OFFER_COLUMNS,
    Sandbox,
    manual_timings,
    offer_csv,
    offer_line,
    start_sandbox,
)

STANDARD = ("sku", "product-id", "product-id-type", "price", "quantity", "state",
            "update-delete")
CUSTOM = (
    AdditionalField("delivery-fee", "Frais de livraison", "NUMERIC", required=True),
    AdditionalField("colour", "Couleur", "LIST", accepted_values=("red", "blue")),
    AdditionalField("weight", "Poids", "NUMERIC"),
    AdditionalField("gift", "Emballage", "BOOLEAN"),
)


@pytest.fixture
def custom() -> Iterator[Sandbox]:
    yield from start_sandbox(SandboxConfig(seed=42, timings=manual_timings(),
                                           tick_interval=0.05, offer_additional_fields=CUSTOM))


def test_af01_lists_the_declared_offer_fields(sandbox: Sandbox) -> None:
    response = sandbox.lr.get("/api/additional_fields", params={"entities": "OFFER"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["code"] for f in body["additional_fields"]] == [
        f.code for f in DEFAULT_OFFER_ADDITIONAL_FIELDS]
    assert body["total_count"] == len(DEFAULT_OFFER_ADDITIONAL_FIELDS)
    fee = body["additional_fields"][0]
    assert fee == {"code": "delivery-fee", "label": "Frais de livraison", "type": "NUMERIC",
                   "required": True, "editable": True, "entity": "OFFER",
                   "description": fee["description"]}
    # Other entities: the shops declare none.
    other = sandbox.lr.get("/api/additional_fields", params={"entities": "SHOP,ORDER"}).json()
    assert other == {"additional_fields": [], "total_count": 0}
    assert sandbox.lr.get("/api/additional_fields").json()["total_count"] == len(
        DEFAULT_OFFER_ADDITIONAL_FIELDS)


def test_af01_needs_the_shops_key(sandbox: Sandbox) -> None:
    response = sandbox.lr.get("/api/additional_fields", headers={"Authorization": "nope"})
    assert response.status_code == 401


def test_an_undeclared_column_fails_the_import_and_stores_nothing(custom: Sandbox) -> None:
    columns = (*STANDARD, "delivery-fee", "relay-fee", "ecotax")
    done = custom.imported(offer_csv(offer_line("A"), columns=columns))
    assert done["status"] == "FAILED"
    assert done["reason_status"].startswith("Unknown columns in the header: relay-fee (")
    assert (done["lines_read"], done["has_error_report"]) == (0, False)
    assert custom.offers()["total_count"] == 0


def test_the_default_shops_take_our_la_redoute_file(sandbox: Sandbox) -> None:
    done = sandbox.imported(offer_csv(offer_line("A")))
    assert (done["status"], done["lines_in_success"]) == ("COMPLETE", 1)
    failed = sandbox.imported(offer_csv(offer_line("B"), columns=(*OFFER_COLUMNS, "colour")))
    assert failed["status"] == "FAILED" and "colour" in failed["reason_status"]


def test_declared_values_are_kept_and_shown_in_of21(custom: Sandbox) -> None:
    columns = (*STANDARD, "delivery-fee", "colour", "weight", "gift")
    done = custom.imported(offer_csv(
        offer_line("A", colour="red", weight="1.25", gift="true"),
        offer_line("B", colour="", weight="", gift=""),
        columns=columns))
    assert (done["status"], done["lines_in_success"]) == ("COMPLETE", 2), done
    offers = {o["shop_sku"]: o for o in custom.offers()["offers"]}
    assert offers["A"]["offer_additional_fields"] == [
        {"code": "delivery-fee", "type": "NUMERIC", "value": "4.90"},
        {"code": "colour", "type": "LIST", "value": "red"},
        {"code": "weight", "type": "NUMERIC", "value": "1.25"},
        {"code": "gift", "type": "BOOLEAN", "value": "true"},
    ]
    assert offers["B"]["offer_additional_fields"] == [
        {"code": "delivery-fee", "type": "NUMERIC", "value": "4.90"}]
    assert offers["A"]["total_price"] == pytest.approx(39.99 + 4.90)


@pytest.mark.parametrize("cells,message", [
    ({"delivery_fee": ""}, "DeliveryFee is required"),
    ({"colour": "green"}, "colour must be one of red, blue"),
    ({"weight": "heavy"}, "weight must be a number"),
    ({"gift": "yes"}, "gift must be true or false"),
])
def test_a_declared_fields_rules_put_the_line_in_error(
        custom: Sandbox, cells: dict[str, str], message: str) -> None:
    columns = (*STANDARD, "delivery-fee", "colour", "weight", "gift")
    broken = offer_line("BROKEN", **cells)
    done = custom.imported(offer_csv(offer_line("GOOD"), broken, columns=columns))
    assert (done["status"], done["lines_in_success"], done["lines_in_error"]) == (
        "COMPLETE", 1, 1)
    report = custom.lr.get(f"/api/offers/imports/{done['import_id']}/error_report").text
    assert message in report.splitlines()[1]


def test_a_required_field_missing_from_the_header_is_a_line_error(custom: Sandbox) -> None:
    done = custom.imported(offer_csv(offer_line("A"), columns=STANDARD))
    assert (done["status"], done["lines_in_error"]) == ("COMPLETE", 1)
    report = custom.lr.get(f"/api/offers/imports/{done['import_id']}/error_report").text
    assert "DeliveryFee is required" in report


def test_kept_values_survive_a_saved_state() -> None:
    now = datetime.now(UTC)
    book = OfferBook(2, CUSTOM)
    columns = (*STANDARD, "delivery-fee", "colour")
    imported = book.new_import(2001, "NORMAL", offer_csv(offer_line("A", colour="blue"),
                                                         columns=columns), "offers.csv", now)
    book.process(imported, now)
    state = json.loads(json.dumps(book.export_state()))
    again = OfferBook(2, CUSTOM)
    again.restore_state(state)
    (offer,) = again.offers(2001)
    assert offer.values.additional == (("delivery-fee", "NUMERIC", "4.90"),
                                       ("colour", "LIST", "blue"))
    # A state saved before additional fields were kept reads as none.
    del state["offers"][0]["values"]["additional"]
    again.restore_state(state)
    assert again.offers(2001)[0].values.additional == ()
