"""The OF01 file's columns: the spec's standard offer columns, then the additional fields the
shop declares (AF01) that the field mapping targets; nothing else is ever sent."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.adapters.laredoute.offer_files import (
    COLUMNS,
    DEFAULT_FIELD_MAP,
    MAPPABLE_VALUES,
    STANDARD_COLUMNS,
    build_offer_file,
    check_field_map,
    offer_columns,
)
from app.config import Settings
from app.projections.offers import OfferRow
from sandbox import offer_file as sandbox_offer_file
from tests.contract.spec import SPEC_PATH

NOW = datetime.now(UTC)
LA_REDOUTE_CODES = tuple(DEFAULT_FIELD_MAP.values())


def row(sku: str = "SKU-1", **values: Any) -> OfferRow:
    start = NOW - timedelta(days=1)
    base: dict[str, Any] = {
        "ean": "3601234567894", "parent_sku": "PARENT-1", "price": "19.90",
        "crossed_price": "19.90", "eco_fee": "0.50", "quantity": 5, "delivery_fee": "4.90",
        "shipment_delay": 2, "delivery_days_min": 2, "delivery_days_max": 4, "relay": True,
        "relay_fee": "2.90", "relay_delay": 3, "relay_days_min": 3, "relay_days_max": 5,
        "period_start": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "period_end": (start + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    base.update(values)
    return OfferRow(offer_id=uuid4(), channel="laredoute", sku=sku, values=base, errors=[],
                    promotion=None, operation=None, version=1, sync_state="pending",
                    sent_version=None, import_id=None, marketplace_message=None)


def read(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content.decode("utf-8")), delimiter=";")
    lines = list(reader)
    return list(reader.fieldnames or []), lines


def test_the_standard_columns_are_the_specs_of01_file_columns() -> None:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    of01 = spec["paths"]["/api/offers/imports"]["post"]["requestBody"]["content"][
        "multipart/form-data"]
    described = of01["schema"]["properties"]["file"]["description"]
    example = of01["examples"]["multipart/form-data-0"]["value"]["file"].splitlines()[0]
    spec_text = described + ";" + example
    for column in STANDARD_COLUMNS:
        assert column in spec_text, column
    assert set(COLUMNS) <= STANDARD_COLUMNS
    # The sandbox takes the same standard columns as the ones we may send.
    assert sandbox_offer_file.STANDARD_COLUMNS == STANDARD_COLUMNS
    # None of the guide's delivery terms is a standard column.
    assert not set(LA_REDOUTE_CODES) & STANDARD_COLUMNS


def test_a_shop_declaring_nothing_gets_the_standard_columns_only() -> None:
    columns = offer_columns(())
    header, (line,) = read(build_offer_file([row()], NOW, columns))
    assert header == list(COLUMNS)
    assert set(header) <= STANDARD_COLUMNS
    assert (line["ecotax"], line["leadtime-to-ship"]) == ("0.50", "2")
    assert dict(columns.left_out) == DEFAULT_FIELD_MAP


def test_the_declared_mapped_fields_follow_the_standard_columns() -> None:
    columns = offer_columns(["delivery-fee", "delivery-days-range-max", "gift-message"])
    header, (line,) = read(build_offer_file([row()], NOW, columns))
    # Mapping order, not the order declared; a declared field we map nothing to is not sent.
    assert header == [*COLUMNS, "delivery-fee", "delivery-days-range-max"]
    assert (line["delivery-fee"], line["delivery-days-range-max"]) == ("4.90", "4")
    assert columns.fields == (("delivery_fee", "delivery-fee"),
                              ("delivery_days_max", "delivery-days-range-max"))


def test_an_undeclared_mapping_target_is_not_sent_and_is_said_left_out() -> None:
    declared = [code for code in LA_REDOUTE_CODES if code != "relay-fee"]
    columns = offer_columns(declared)
    header, _ = read(build_offer_file([row()], NOW, columns))
    assert "relay-fee" not in header
    assert "relay-delay" in header
    assert columns.left_out == (("relay_fee", "relay-fee"),)


def test_every_la_redoute_field_declared_carries_the_guides_terms() -> None:
    columns = offer_columns(LA_REDOUTE_CODES)
    _, (relay, home) = read(build_offer_file([row("R"), row("H", relay=False)], NOW, columns))
    assert columns.left_out == ()
    assert {k: relay[k] for k in LA_REDOUTE_CODES} == {
        "delivery-fee": "4.90", "delivery-days-range-min": "2", "delivery-days-range-max": "4",
        "relay-fee": "2.90", "relay-delay": "3", "relay-days-range-min": "3",
        "relay-days-range-max": "5", "partner-product-parent": "PARENT-1"}
    # Relay terms go only with an offer delivered to relays.
    assert [home[k] for k in ("relay-fee", "relay-delay", "relay-days-range-min",
                              "relay-days-range-max")] == ["", "", "", ""]


def test_a_mapping_to_other_codes_sends_under_those_codes() -> None:
    mapping = check_field_map({"delivery_fee": "frais-de-port", "parent_sku": "parent"})
    columns = offer_columns(["frais-de-port", "delivery-fee"], mapping)
    header, (line,) = read(build_offer_file([row()], NOW, columns))
    assert header == [*COLUMNS, "frais-de-port"]
    assert line["frais-de-port"] == "4.90"
    left = dict(columns.left_out)
    assert left["parent_sku"] == "parent"
    assert left["relay_fee"] is None  # mapped to nothing
    assert set(left) == set(MAPPABLE_VALUES) - {"delivery_fee"}


@pytest.mark.parametrize("mapping,message", [
    ({"colour": "colour"}, "not an offer value"),
    ({"eco_fee": "eco"}, "not an offer value"),
    ({"delivery_fee": "price"}, "standard offer column"),
    ({"delivery_fee": " "}, "empty"),
    ({"delivery_fee": "fee", "relay_fee": "fee"}, "mapped twice"),
])
def test_a_wrong_mapping_is_refused(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_field_map(mapping)


def test_the_setting_defaults_to_la_redoutes_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_OFFER_FIELD_MAP", raising=False)
    assert Settings().offer_field_map == DEFAULT_FIELD_MAP
    monkeypatch.setenv("OMS_OFFER_FIELD_MAP", json.dumps({"delivery_fee": " frais-de-port "}))
    assert Settings().offer_field_map == {"delivery_fee": "frais-de-port"}
    monkeypatch.setenv("OMS_OFFER_FIELD_MAP", json.dumps({"delivery_fee": ""}))
    with pytest.raises(ValueError, match="offer_field_map"):
        Settings()
