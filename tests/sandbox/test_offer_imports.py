"""Offer imports (OF01, OF02, OF03) and the shop's offers (OF21), as the marketplace runs them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import (
    OFFER_COLUMNS,
    Sandbox,
    assert_mirakl_error,
    ean_for,
    offer_csv,
    offer_line,
    upload,
)


def report_rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8")), delimiter=";"))


def by_sku(sandbox: Sandbox, **params: Any) -> dict[str, dict[str, Any]]:
    return {o["shop_sku"]: o for o in sandbox.offers(**params)["offers"]}


# ---------------------------------------------------------------- OF01 -> OF02 -> OF21


def test_a_valid_file_inserts_offers_then_updates_them(sandbox: Sandbox) -> None:
    response = upload(sandbox.lr, offer_csv(offer_line("TUNIC-38"), offer_line("SCARF-RED")))
    assert response.status_code == 201, response.text
    import_id = response.json()["import_id"]
    assert response.json() == {"import_id": import_id}
    assert response.headers["Location"].endswith(f"/api/offers/imports/{import_id}")
    assert sandbox.lr.get(response.headers["Location"]).status_code == 200

    waiting = sandbox.offer_import(import_id)
    assert waiting["status"] == "WAITING" and waiting["lines_read"] == 0
    assert waiting["mode"] == "NORMAL" and waiting["has_error_report"] is False
    assert sandbox.offers()["total_count"] == 0  # nothing applied before it is processed

    sandbox.complete_import(import_id)
    done = sandbox.offer_import(import_id)
    assert {k: done[k] for k in ("status", "lines_read", "lines_in_success", "lines_in_error",
                                 "lines_in_pending", "offer_inserted", "offer_updated",
                                 "offer_deleted", "has_error_report")} == {
        "status": "COMPLETE", "lines_read": 2, "lines_in_success": 2, "lines_in_error": 0,
        "lines_in_pending": 0, "offer_inserted": 2, "offer_updated": 0, "offer_deleted": 0,
        "has_error_report": False}
    first = by_sku(sandbox)
    assert set(first) == {"TUNIC-38", "SCARF-RED"}

    again = sandbox.imported(offer_csv(offer_line("TUNIC-38", price="35.00", quantity="0")))
    assert (again["offer_inserted"], again["offer_updated"]) == (0, 1)
    offers = by_sku(sandbox)
    assert offers["TUNIC-38"]["offer_id"] == first["TUNIC-38"]["offer_id"]
    assert offers["TUNIC-38"]["price"] == 35.0 and offers["TUNIC-38"]["quantity"] == 0
    unchanged = {k: v for k, v in offers["SCARF-RED"].items() if k != "shipping_deadline"}
    assert unchanged == {k: v for k, v in first["SCARF-RED"].items() if k != "shipping_deadline"}


def test_an_offer_shows_what_the_line_said(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(
        offer_line("TUNIC-38", price="39.99", discount_price="29.99",
                   discount_start_date="2020-01-01T00:00:00",
                   discount_end_date="2099-01-01T00:00:00", quantity="7", leadtime_to_ship="3",
                   ecotax="0.50", delivery_fee="4.90"),
        offer_line("PLAIN", price="15.00", delivery_fee="0.00", leadtime_to_ship=""),
        offer_line("PARENT", product_id="PARENT", product_id_type="SHOP_SKU",
                   partner_product_parent="PARENT"),
    ))
    offers = by_sku(sandbox)
    promo = offers["TUNIC-38"]
    assert promo["product_references"] == [{"reference": ean_for("TUNIC-38"),
                                            "reference_type": "EAN"}]
    assert promo["price"] == 29.99 and promo["total_price"] == 34.89
    assert promo["discount"] == {"discount_price": 29.99, "origin_price": 39.99,
                                 "start_date": "2019-12-31T23:00:00.000Z",
                                 "end_date": "2098-12-31T23:00:00.000Z"}
    assert promo["all_prices"][0]["unit_origin_price"] == 39.99
    assert promo["all_prices"][0]["unit_discount_price"] == 29.99
    assert promo["min_shipping_price"] == 4.9 and promo["leadtime_to_ship"] == 3
    assert promo["quantity"] == 7 and promo["active"] is True and promo["state_code"] == "11"
    assert promo["eco_contributions"] == [{"epr_category_code": "FR-DEEE",
                                           "eco_contribution_amount": 0.5}]
    assert promo["currency_iso_code"] == "EUR"
    plain = offers["PLAIN"]
    assert "discount" not in plain and "eco_contributions" not in plain
    assert plain["price"] == plain["total_price"] == 15.0
    assert plain["leadtime_to_ship"] == 2  # the platform's default
    assert None not in plain.values()
    assert offers["PARENT"]["product_references"] == [{"reference": "PARENT",
                                                      "reference_type": "SHOP_SKU"}]


def test_a_discount_outside_its_dates_leaves_the_price(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(offer_line(
        "LATER", price="20.00", discount_price="10.00",
        discount_start_date="2099-01-01T00:00:00", discount_end_date="2099-02-01T00:00:00")))
    offer = by_sku(sandbox)["LATER"]
    assert offer["price"] == 20.0 and offer["discount"]["discount_price"] == 10.0


def test_active_needs_stock_and_the_availability_period(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(
        offer_line("IN-STOCK"),
        offer_line("NO-STOCK", quantity="0"),
        offer_line("NOT-YET", available_start_date="2099-01-01T00:00:00"),
        offer_line("OVER", available_start_date="2020-01-01T00:00:00",
                   available_end_date="2021-01-01T00:00:00"),
        offer_line("NO-DATES", available_start_date="", available_end_date=""),
    ))
    offers = by_sku(sandbox)
    assert {sku: o["active"] for sku, o in offers.items()} == {
        "IN-STOCK": True, "NO-STOCK": False, "NOT-YET": False, "OVER": False, "NO-DATES": True}
    assert offers["NO-STOCK"]["inactivity_reasons"] == ["ZERO_QUANTITY"]
    assert offers["NOT-YET"]["inactivity_reasons"] == ["NOT_IN_AVAILABILITY_PERIOD"]
    assert "inactivity_reasons" not in offers["IN-STOCK"]
    assert "available_start_date" not in offers["NO-DATES"]


def test_offers_are_paged_filtered_and_kept_per_shop(sandbox: Sandbox) -> None:
    skus = [f"SKU-{i}" for i in range(5)]
    sandbox.imported(offer_csv(*(offer_line(s, price=f"{10 + i}.00")
                                 for i, s in enumerate(skus))))
    sandbox.imported(offer_csv(offer_line("LBB-ONLY")), client=sandbox.lbb)
    seen = []
    for offset in (0, 2, 4):
        page = sandbox.offers(max=2, offset=offset)
        assert page["total_count"] == 5
        seen += [o["shop_sku"] for o in page["offers"]]
    assert seen == skus  # by total price
    assert [o["shop_sku"] for o in sandbox.offers(sort="price", order="desc")["offers"]] == (
        skus[::-1])
    assert [o["shop_sku"] for o in sandbox.offers(sku="SKU-3")["offers"]] == ["SKU-3"]
    assert [o["shop_sku"] for o in sandbox.offers(product_id=ean_for("SKU-1"))["offers"]] == [
        "SKU-1"]
    assert sandbox.offers(sku="LBB-ONLY")["total_count"] == 0
    assert [o["shop_sku"] for o in sandbox.offers(client=sandbox.lbb)["offers"]] == ["LBB-ONLY"]
    assert sandbox.lr.get("/api/offers", params={"max": 0}).status_code == 400


# ---------------------------------------------------------------- the rules of a line


BROKEN_LINES: list[tuple[dict[str, str], str]] = [
    ({"sku": ""}, "sku is required"),
    ({"sku": "X" * 33}, "sku is longer than 32 characters"),
    ({"product_id": "3600000000018"}, "product-id is not a valid EAN-13"),
    ({"product_id": "360000000001"}, "product-id is not a valid EAN-13"),
    ({"product_id": ""}, "product-id is required"),
    ({"product_id_type": "UPC"}, "product-id-type must be EAN or SHOP_SKU"),
    ({"price": ""}, "price is required"),
    ({"price": "0.00"}, "price must be a number greater than 0"),
    ({"price": "abc"}, "price must be a number greater than 0"),
    ({"price": "29,99"}, "price must be a number greater than 0"),
    ({"price": "-5.00"}, "price must be a number greater than 0"),
    ({"discount_price": "39.99"}, "discount price must be lower than the price"),
    ({"discount_price": "45.00"}, "discount price must be lower than the price"),
    ({"quantity": "-1"}, "quantity must be a whole number >= 0"),
    ({"quantity": "1.5"}, "quantity must be a whole number >= 0"),
    ({"quantity": ""}, "quantity must be a whole number >= 0"),
    ({"delivery_fee": ""}, "DeliveryFee is required"),
    ({"delivery_fee": "gratuit"}, "delivery-fee must be a number >= 0"),
    ({"available_start_date": "2030-01-01T00:00:00", "available_end_date": "2029-01-01T00:00:00"},
     "available-start-date is after available-end-date"),
    ({"available_start_date": "2026-01-01 00:00:00"},
     "available-start-date must be a date written YYYY-MM-DDTHH:mm:ss"),
    ({"available_end_date": "2026-13-01T00:00:00"},
     "available-end-date must be a date written YYYY-MM-DDTHH:mm:ss"),
    ({"available_end_date": "2026-01-01T00:00:00Z"},
     "available-end-date must be a date written YYYY-MM-DDTHH:mm:ss"),
    ({"discount_price": "20.00", "discount_start_date": "2026-02-01T00:00:00",
      "discount_end_date": "2026-01-01T00:00:00"},
     "discount-start-date is after discount-end-date"),
    ({"discount_end_date": "01/02/2026"},
     "discount-end-date must be a date written YYYY-MM-DDTHH:mm:ss"),
    ({"state": "1"}, "state must be 11 (new)"),
    ({"leadtime_to_ship": "deux"}, "leadtime-to-ship must be a whole number >= 0"),
    ({"ecotax": "-0.10"}, "ecotax must be a number >= 0"),
    ({"delivery_days_range_min": "5", "delivery_days_range_max": "2"},
     "delivery-days-range-min is above delivery-days-range-max"),
    ({"relay_fee": "x"}, "relay-fee must be a number >= 0"),
    ({"relay_days_range_min": "4", "relay_days_range_max": "3"},
     "relay-days-range-min is above relay-days-range-max"),
    ({"partner_product_parent": "P" * 33}, "partner-product-parent is longer than 32 characters"),
    ({"update_delete": "upsert"}, "update-delete must be update or delete"),
]


@pytest.mark.parametrize("cells,message", BROKEN_LINES,
                         ids=[message for _, message in BROKEN_LINES])
def test_each_rule_puts_the_line_in_error_and_keeps_the_others(
        sandbox: Sandbox, cells: dict[str, str], message: str) -> None:
    broken = {**offer_line("BROKEN"), **{k.replace("_", "-"): v for k, v in cells.items()}}
    done = sandbox.imported(offer_csv(offer_line("GOOD"), broken))
    assert (done["status"], done["lines_read"], done["lines_in_success"],
            done["lines_in_error"], done["has_error_report"]) == ("COMPLETE", 2, 1, 1, True)
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert len(rows) == 2
    assert rows[1][-2] == "2"
    assert message in rows[1][-1].split(" | "), rows[1][-1]
    assert set(by_sku(sandbox)) == {"GOOD"}


def test_an_ean_the_catalogue_does_not_know_is_product_not_found(sandbox: Sandbox) -> None:
    unknown = ean_for("GHOST")
    assert sandbox.post("/catalogue/unknown-products", {"eans": [unknown]}) == {
        "eans": [unknown]}
    assert sandbox.control.get("/catalogue/unknown-products").json() == {"eans": [unknown]}
    done = sandbox.imported(offer_csv(offer_line("GHOST"), offer_line("REAL")))
    assert (done["lines_in_success"], done["lines_in_error"]) == (1, 1)
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert rows[1][0] == "GHOST" and rows[1][-1] == "product not found"
    # The list replaces the last one: an empty list makes every EAN known again.
    sandbox.post("/catalogue/unknown-products", {"eans": []})
    assert sandbox.imported(offer_csv(offer_line("GHOST")))["offer_inserted"] == 1


def test_a_sku_twice_in_a_file_is_an_error_on_the_second(sandbox: Sandbox) -> None:
    done = sandbox.imported(offer_csv(offer_line("TWICE"), offer_line("TWICE", price="9.99")))
    assert (done["offer_inserted"], done["lines_in_error"]) == (1, 1)
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert rows[1][-2:] == ["2", "sku appears more than once in the file"]
    assert by_sku(sandbox)["TWICE"]["price"] == 39.99


def test_every_broken_rule_of_a_line_is_reported(sandbox: Sandbox) -> None:
    done = sandbox.imported(offer_csv(offer_line("BAD", price="10.00", discount_price="12.00",
                                                 quantity="x", delivery_fee="")))
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert rows[1][-1].split(" | ") == ["discount price must be lower than the price",
                                        "quantity must be a whole number >= 0",
                                        "DeliveryFee is required"]


# ---------------------------------------------------------------- OF03


def test_a_half_failing_import_reports_its_bad_lines_in_the_format_sent(
        sandbox: Sandbox) -> None:
    lines = [
        offer_line("OK-1"),
        offer_line("KO-PRICE", price="0"),
        offer_line("OK-2", discount_price="30.00", discount_start_date="2026-01-01T00:00:00",
                   discount_end_date="2026-12-31T23:59:59"),
        offer_line("KO-FEE;SEMI", delivery_fee=""),
    ]
    content = offer_csv(*lines)
    done = sandbox.imported(content)
    assert (done["lines_read"], done["lines_in_success"], done["lines_in_error"],
            done["offer_inserted"], done["has_error_report"]) == (4, 2, 2, 2, True)

    response = sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report")
    assert response.status_code == 200
    assert response.headers["content-type"] in ("application/octet-stream", "text/csv")
    rows = report_rows(response)
    assert rows[0] == [*OFFER_COLUMNS, "error-line", "error-message"]
    sent = list(csv.reader(io.StringIO(content.decode()), delimiter=";"))
    assert rows[1] == [*sent[2], "2", "price must be a number greater than 0"]
    assert rows[2] == [*sent[4], "4", "DeliveryFee is required"]
    assert rows[2][0] == "KO-FEE;SEMI"  # quoted as CSV, as it was sent
    assert response.content.decode().count("\n") == 3
    assert set(by_sku(sandbox)) == {"OK-1", "OK-2"}


def test_a_report_keeps_the_columns_and_order_sent(sandbox: Sandbox) -> None:
    columns = ("price", "sku", "quantity", "product-id-type", "product-id", "delivery-fee")
    done = sandbox.imported(offer_csv(offer_line("A"), offer_line("B", quantity="many"),
                                      columns=columns))
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert rows == [[*columns, "error-line", "error-message"],
                    ["39.99", "B", "many", "EAN", ean_for("B"), "4.90", "2",
                     "quantity must be a whole number >= 0"]]


def test_no_error_report_until_there_is_one(sandbox: Sandbox) -> None:
    import_id = sandbox.send_offers(offer_csv(offer_line("A", price="")))
    assert_mirakl_error(sandbox.lr.get(f"/api/offers/imports/{import_id}/error_report"), 404,
                        "ERROR_REPORT_NOT_FOUND")  # not processed yet
    sandbox.complete_import(import_id)
    assert sandbox.lr.get(f"/api/offers/imports/{import_id}/error_report").status_code == 200

    clean = sandbox.imported(offer_csv(offer_line("B")))
    assert_mirakl_error(sandbox.lr.get(f"/api/offers/imports/{clean['import_id']}/error_report"),
                        404, "ERROR_REPORT_NOT_FOUND")
    assert_mirakl_error(sandbox.lr.get("/api/offers/imports/999/error_report"), 404,
                        "IMPORT_NOT_FOUND")
    assert_mirakl_error(sandbox.lr.get("/api/offers/imports/999"), 404, "IMPORT_NOT_FOUND")


# ---------------------------------------------------------------- modes


def test_normal_mode_never_deletes(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(offer_line("A"), offer_line("B"), offer_line("C")))
    done = sandbox.imported(offer_csv(offer_line("B", quantity="0")))
    assert (done["offer_updated"], done["offer_deleted"]) == (1, 0)
    assert set(by_sku(sandbox)) == {"A", "B", "C"}
    header_only = sandbox.imported(offer_csv())
    assert (header_only["status"], header_only["lines_read"]) == ("COMPLETE", 0)
    assert set(by_sku(sandbox)) == {"A", "B", "C"}


def test_replace_mode_deletes_the_offers_absent_from_the_file(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(offer_line("A"), offer_line("B"), offer_line("C")))
    sandbox.imported(offer_csv(offer_line("OTHER-SHOP")), client=sandbox.lbb)
    done = sandbox.imported(offer_csv(offer_line("B"), offer_line("D"), offer_line("C", price="")),
                            mode="REPLACE")
    assert done["mode"] == "REPLACE"
    assert (done["offer_inserted"], done["offer_updated"], done["offer_deleted"],
            done["lines_in_error"]) == (1, 1, 1, 1)
    assert set(by_sku(sandbox)) == {"B", "C", "D"}  # C's line failed but C is in the file
    assert set(by_sku(sandbox, client=sandbox.lbb)) == {"OTHER-SHOP"}


def test_a_delete_line_deletes_its_offer(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(offer_line("A"), offer_line("B")))
    done = sandbox.imported(offer_csv({"sku": "A", "update-delete": "delete"},
                                      {"sku": "NEVER", "update-delete": "delete"}))
    assert (done["offer_deleted"], done["lines_in_error"]) == (1, 1)
    rows = report_rows(sandbox.lr.get(f"/api/offers/imports/{done['import_id']}/error_report"))
    assert rows[1][-1] == "no offer with this sku to delete"
    assert set(by_sku(sandbox)) == {"B"}


# ---------------------------------------------------------------- progression


def test_an_import_moves_on_with_the_sandbox_clock(sandbox: Sandbox) -> None:
    sandbox.settings(offer_import_delay=10)
    import_id = sandbox.send_offers(offer_csv(offer_line("A")))
    assert sandbox.offer_import(import_id)["status"] == "WAITING"
    sandbox.advance(5)
    assert sandbox.offer_import(import_id)["status"] == "RUNNING"
    assert sandbox.offers()["total_count"] == 0
    sandbox.advance(5)
    done = sandbox.offer_import(import_id)
    assert (done["status"], done["offer_inserted"]) == ("COMPLETE", 1)
    assert sandbox.offers()["total_count"] == 1
    listed = sandbox.control.get("/offer-imports").json()["imports"]
    assert [(i["import_id"], i["shop_id"], i["status"]) for i in listed] == [
        (import_id, 2001, "COMPLETE")]
    created = datetime.fromisoformat(listed[0]["date_created"])
    assert datetime.fromisoformat(listed[0]["date_done"]) == created + timedelta(seconds=10)


def test_the_default_delay_is_five_seconds() -> None:
    from sandbox.config import Timings

    assert Timings().offer_import_delay == 5.0


def test_a_delay_of_zero_processes_the_file_at_once(sandbox: Sandbox) -> None:
    sandbox.settings(offer_import_delay=0)
    import_id = sandbox.send_offers(offer_csv(offer_line("A")))
    assert sandbox.offer_import(import_id)["status"] == "COMPLETE"


def test_without_a_delay_only_the_control_api_completes_it(sandbox: Sandbox) -> None:
    assert sandbox.control.get("/settings").json()["offer_import_delay"] is None
    import_id = sandbox.send_offers(offer_csv(offer_line("A")))
    sandbox.advance(86400)
    assert sandbox.offer_import(import_id)["status"] == "WAITING"
    completed = sandbox.complete_import(import_id)
    assert (completed["status"], completed["offer_inserted"]) == ("COMPLETE", 1)
    assert sandbox.complete_import(import_id) == completed  # once processed, left alone
    assert sandbox.control.post("/offer-imports/999/complete").status_code == 404


def test_the_same_file_sent_again_while_waiting_is_the_same_import(sandbox: Sandbox) -> None:
    content = offer_csv(offer_line("A"))
    first = sandbox.send_offers(content)
    assert sandbox.send_offers(content) == first
    assert sandbox.send_offers(content, mode="REPLACE") != first
    assert sandbox.send_offers(content, client=sandbox.lbb) != first
    sandbox.complete_import(first)
    assert sandbox.send_offers(content) != first  # processed: a new import


def test_raw_offers_keep_the_line_as_sent(sandbox: Sandbox) -> None:
    line = offer_line("A", price="12.50", discount_price="10.00")
    done = sandbox.imported(offer_csv(line))
    sandbox.imported(offer_csv(offer_line("Z")), client=sandbox.lbb)
    raw = sandbox.control.get("/offers", params={"shop_id": 2001}).json()["offers"]
    assert len(raw) == 1
    assert raw[0]["line"] == line
    assert (raw[0]["sku"], raw[0]["shop_id"], raw[0]["import_id"]) == ("A", 2001,
                                                                      done["import_id"])
    assert len(sandbox.control.get("/offers").json()["offers"]) == 2


# ---------------------------------------------------------------- files that cannot be read


UNREADABLE: list[tuple[str, bytes, str]] = [
    ("latin-1", offer_csv(offer_line("Écharpe")).decode().encode("latin-1"), "UTF-8"),
    ("comma separated", offer_csv(offer_line("A")).replace(b";", b","), "separated by ';'"),
    ("empty", b"", "empty"),
    ("blank", b"\n\n", "empty"),
    ("unknown column", offer_csv(offer_line("A"), columns=(*OFFER_COLUMNS, "colour")),
     "Unknown columns in the header: colour"),
    ("missing column", offer_csv(offer_line("A"), columns=OFFER_COLUMNS[1:]),
     "Missing columns in the header: sku"),
    ("column twice", offer_csv(offer_line("A"), columns=(*OFFER_COLUMNS, "price")),
     "Columns given twice in the header: price"),
    ("a spreadsheet", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4", "UTF-8"),
    ("unterminated quote", offer_csv(offer_line("A")) + b'"B;', "cannot be read as CSV"),
]


@pytest.mark.parametrize("content,reason", [(c, r) for _, c, r in UNREADABLE],
                         ids=[name for name, _, _ in UNREADABLE])
def test_a_file_that_cannot_be_read_fails(sandbox: Sandbox, content: bytes, reason: str
                                          ) -> None:
    sandbox.imported(offer_csv(offer_line("KEPT")))
    import_id = sandbox.send_offers(content, mode="REPLACE")
    assert sandbox.offer_import(import_id)["status"] == "WAITING"  # read only when processed
    sandbox.complete_import(import_id)
    failed = sandbox.offer_import(import_id)
    assert failed["status"] == "FAILED" and reason in failed["reason_status"], failed
    assert (failed["lines_read"], failed["lines_in_error"], failed["offer_deleted"],
            failed["has_error_report"]) == (0, 0, 0, False)
    assert_mirakl_error(sandbox.lr.get(f"/api/offers/imports/{import_id}/error_report"), 404)
    assert set(by_sku(sandbox)) == {"KEPT"}


def test_a_bom_and_crlf_lines_are_read(sandbox: Sandbox) -> None:
    content = b"\xef\xbb\xbf" + offer_csv(offer_line("A"), offer_line("B")).replace(b"\n",
                                                                                    b"\r\n")
    done = sandbox.imported(content)
    assert (done["status"], done["offer_inserted"]) == ("COMPLETE", 2)


def test_reason_status_is_empty_unless_the_import_failed(sandbox: Sandbox) -> None:
    assert sandbox.imported(offer_csv(offer_line("A")))["reason_status"] == ""


# ---------------------------------------------------------------- the request itself


def test_offer_routes_need_the_shop_key(sandbox: Sandbox) -> None:
    import_id = sandbox.imported(offer_csv(offer_line("A", price="")))["import_id"]
    paths = ("/api/offers", f"/api/offers/imports/{import_id}",
             f"/api/offers/imports/{import_id}/error_report")
    for headers in ({}, {"Authorization": "nope"}):
        anonymous = httpx.Client(base_url=sandbox.url, headers=headers, timeout=10)
        assert_mirakl_error(upload(anonymous, offer_csv(offer_line("B"))), 401)
        for path in paths:
            assert_mirakl_error(anonymous.get(path), 401)
        anonymous.close()
    assert_mirakl_error(sandbox.lr.get("/api/offers", params={"shop_id": 2002}), 401)
    assert_mirakl_error(sandbox.lr.post("/api/offers/imports", params={"shop_id": 2002},
                                        files={"file": ("offers.csv", b"sku")},
                                        data={"import_mode": "NORMAL"}), 401)
    # Another shop's import is as unknown as a missing one.
    for path in paths[1:]:
        assert_mirakl_error(sandbox.lbb.get(path), 404, "IMPORT_NOT_FOUND")
    assert sandbox.control.get("/offer-imports").json()["imports"][0]["import_id"] == import_id
    assert len(sandbox.control.get("/offer-imports").json()["imports"]) == 1


@pytest.mark.parametrize("kwargs,message", [
    ({"files": {"offers": ("offers.csv", b"sku")}, "data": {"import_mode": "NORMAL"}},
     "file is required"),
    ({"data": {"import_mode": "NORMAL"}}, "multipart"),
    ({"files": {"file": ("offers.csv", b"sku")}}, "import_mode"),
    ({"files": {"file": ("offers.csv", b"sku")}, "data": {"import_mode": "PARTIAL"}},
     "import_mode"),
    ({"files": {"file": ("offers.csv", b"sku")},
      "data": {"import_mode": "NORMAL", "with_products": "true"}}, "products"),
    ({"files": {"file": ("offers.csv", b"sku")},
      "data": {"import_mode": "NORMAL", "with_products": "perhaps"}}, "with_products"),
    ({"content": b"sku;price", "headers": {"Content-Type": "text/csv"}}, "multipart"),
])
def test_a_bad_upload_is_refused_at_once(sandbox: Sandbox, kwargs: dict[str, Any],
                                         message: str) -> None:
    body = assert_mirakl_error(sandbox.lr.post("/api/offers/imports", **kwargs), 400,
                               "VALIDATION_ERROR")
    assert message in body["message"]
    assert sandbox.control.get("/offer-imports").json() == {"imports": []}


def test_with_products_false_is_accepted(sandbox: Sandbox) -> None:
    response = upload(sandbox.lr, offer_csv(offer_line("A")), with_products="false")
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------- faults and the call log


def test_faults_hit_offer_imports_and_calls_are_logged(sandbox: Sandbox) -> None:
    content = offer_csv(offer_line("A"))
    sandbox.fault("error_503", method="POST", path_contains="/offers/imports")
    assert_mirakl_error(upload(sandbox.lr, content), 503)
    assert sandbox.control.get("/offer-imports").json() == {"imports": []}  # nothing received
    sandbox.fault("rate_limit", retry_after=7, path_contains="/offers/imports")
    limited = upload(sandbox.lr, content)
    assert_mirakl_error(limited, 429)
    assert limited.headers["Retry-After"] == "7"
    assert sandbox.control.get("/offer-imports").json() == {"imports": []}

    import_id = sandbox.send_offers(content)
    sandbox.fault("error_500", path_contains=f"/offers/imports/{import_id}")
    assert_mirakl_error(sandbox.lr.get(f"/api/offers/imports/{import_id}"), 500)
    assert sandbox.offer_import(import_id)["status"] == "WAITING"
    sandbox.complete_import(import_id)
    sandbox.offers()
    operations = [(c["operation"], c["status"], c["fault"]) for c in sandbox.calls()]
    assert operations == [("OF01", 503, "error_503"), ("OF01", 429, "rate_limit"),
                          ("OF01", 201, None), ("OF02", 500, "error_500"), ("OF02", 200, None),
                          ("OF21", 200, None)]
    assert [c["path"] for c in sandbox.calls(operation="OF01")] == ["/api/offers/imports"] * 3


def test_a_dropped_upload_is_received_and_a_retry_finds_it(sandbox: Sandbox) -> None:
    content = offer_csv(offer_line("A"))
    sandbox.fault("drop_after_apply", method="POST")
    with pytest.raises(httpx.TransportError):
        upload(sandbox.lr, content)
    received = sandbox.control.get("/offer-imports").json()["imports"]
    assert [i["status"] for i in received] == ["WAITING"]
    assert sandbox.send_offers(content) == received[0]["import_id"]
    assert [c["fault"] for c in sandbox.calls(operation="OF01")] == ["drop_after_apply", None]


def test_duplicate_pages_apply_to_the_offer_listing(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(*(offer_line(f"S{i}", price=f"{10 + i}.00") for i in range(4))))
    sandbox.fault("duplicate_pages")
    first = sandbox.offers(max=2)["offers"]  # the first page is never shifted
    second = sandbox.offers(max=2, offset=2)["offers"]
    assert [o["shop_sku"] for o in first + second] == ["S0", "S1", "S1", "S2"]


def test_offer_dates_are_read_in_the_platform_time_zone(sandbox: Sandbox) -> None:
    sandbox.imported(offer_csv(offer_line("A", available_start_date="2026-07-01T00:00:00",
                                          available_end_date="2026-12-01T00:00:00")))
    offer = by_sku(sandbox)["A"]
    assert offer["available_start_date"] == "2026-06-30T22:00:00.000Z"  # Paris, summer
    assert offer["available_end_date"] == "2026-11-30T23:00:00.000Z"  # Paris, winter
    assert datetime.fromisoformat(offer["shipping_deadline"]) > datetime.now(UTC)
