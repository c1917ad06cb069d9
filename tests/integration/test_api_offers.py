"""The offers API on each store, as an operator: one offer (PUT with ETag, If-Match and
Idempotency-Key, GET, unpublish, promotion, history), the list with its filters and cursor, the
bulk upload of a source (CSV and JSON, full and partial) and the integration reports."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.adapters.recorders import EVENTS_TABLE
from tests.support import assert_problem

EAN = "4006381333931"
EAN_2 = "5901234123457"
BASE = "/v1/offers/laredoute"


def body(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ean": EAN, "price": "29.99", "crossed_price": "39.99", "quantity": 5,
        "delivery_fee": "4.90", "shipment_delay": 2, "delivery_days_min": 2,
        "delivery_days_max": 4,
    }
    payload.update(overrides)
    return payload


def ean(n: int) -> str:
    body_ = f"360{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body_)))
    return body_ + str((10 - total % 10) % 10)


def put(client, sku: str, if_match: str | None = None, key: str | None = None, **overrides: Any):
    headers = {}
    if if_match is not None:
        headers["If-Match"] = if_match
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.put(f"{BASE}/{sku}", json=body(**overrides), headers=headers)


def created(client, sku: str, **overrides: Any) -> dict[str, Any]:
    response = put(client, sku, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def event_count(app) -> int:
    return int(app.state.db.execute(f"SELECT COUNT(*) FROM {EVENTS_TABLE}")[0][0])


def history(client, sku: str) -> list[str]:
    response = client.get(f"{BASE}/{sku}/events")
    assert response.status_code == 200, response.text
    return [e["type"] for e in response.json()["events"]]


def listed(client, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get("/v1/offers", params=params or {})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_list(client, until, params: dict[str, Any] | None = None,
                  timeout: float = 10.0) -> dict[str, Any]:
    """Poll the list (fed by the projection) until `until(page)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        page = listed(client, params)
        if until(page):
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"the offer list did not catch up: {page}")
        time.sleep(0.05)


def version_in_list(client, sku: str, version: int) -> dict[str, Any]:
    page = wait_for_list(
        client,
        lambda p: any(i["sku"] == sku and i["version"] >= version for i in p["items"]),
        {"q": sku},
    )
    return next(i for i in page["items"] if i["sku"] == sku)


# ---------------------------------------------------------------- PUT and GET


def test_put_creates_the_offer_with_etag_1(client) -> None:
    response = put(client, "TUNIC-38")
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    offer = response.json()
    assert offer["channel"] == "laredoute" and offer["sku"] == "TUNIC-38"
    assert offer["version"] == 1 and offer["published"] and offer["valid"]
    assert offer["values"]["price"] == "29.99" and offer["values"]["quantity"] == 5
    assert offer["values"]["crossed_price"] == "39.99"
    assert offer["errors"] == [] and offer["promotion"] is None

    got = client.get(f"{BASE}/TUNIC-38")
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    # The read also tells where the offer stands with the marketplace.
    assert offer["sync_state"] is None
    assert got.json() == {**offer, "sync_state": "pending", "marketplace_message": None}


def test_a_second_put_needs_the_current_etag(client) -> None:
    created(client, "TUNIC-38")
    missing = put(client, "TUNIC-38", price="24.99")
    assert_problem(missing, 428, "/problems/precondition-required", field="If-Match",
                   rule="required")
    stale = put(client, "TUNIC-38", if_match='"7"', price="24.99")
    problem = assert_problem(stale, 412, "/problems/version-conflict", field="If-Match",
                             rule="current_version")
    assert problem["current_version"] == 1
    malformed = put(client, "TUNIC-38", if_match="v1", price="24.99")
    assert_problem(malformed, 400, "/problems/invalid-header", field="If-Match")

    ok = put(client, "TUNIC-38", if_match='"1"', price="24.99")
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    assert ok.json()["values"]["price"] == "24.99"
    assert history(client, "TUNIC-38") == ["Registered", "PriceChanged"]


def test_a_put_with_the_same_values_changes_nothing(client, app) -> None:
    created(client, "TUNIC-38")
    events = event_count(app)
    same = put(client, "TUNIC-38", if_match='"1"', price="29,99")
    assert same.status_code == 200
    assert same.headers["etag"] == '"1"'
    assert event_count(app) == events


def test_if_match_on_an_offer_that_does_not_exist_is_a_conflict(client) -> None:
    response = put(client, "NEW-ONE", if_match='"1"')
    assert_problem(response, 412, "/problems/version-conflict", field="If-Match")
    assert client.get(f"{BASE}/NEW-ONE").status_code == 404


def test_an_offer_that_breaks_rules_is_stored_with_its_errors(client) -> None:
    response = put(client, "BROKEN", price="abc", crossed_price=None, delivery_fee=None,
                   ean="4006381333932")
    assert response.status_code == 201, response.text
    offer = response.json()
    assert not offer["valid"]
    assert [(e["field"], e["rule"]) for e in offer["errors"]] == [
        ("price", "format"), ("delivery_fee", "required"), ("ean", "ean_checksum")]
    assert offer["errors"][1]["message"] == (
        "DeliveryFee is required: without it La Redoute blocks the export")
    assert offer["values"]["price"] is None


def test_an_unknown_field_in_the_body_is_refused(client) -> None:
    response = client.put(f"{BASE}/TUNIC-38", json={**body(), "colour": "red"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{BASE}/TUNIC-38").status_code == 404


def test_an_unknown_sku_is_a_404_problem(client) -> None:
    response = client.get(f"{BASE}/NOPE")
    problem = assert_problem(response, 404, "/problems/offer-not-found")
    assert "NOPE" in problem["detail"]
    assert_problem(client.get(f"{BASE}/NOPE/events"), 404, "/problems/offer-not-found")
    assert_problem(client.post(f"{BASE}/NOPE/unpublish", headers={"If-Match": "*"}), 404,
                   "/problems/offer-not-found")


def test_an_unknown_channel_is_a_422(client) -> None:
    response = client.put("/v1/offers/amazon/TUNIC-38", json=body())
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/offers/amazon/TUNIC-38").status_code == 422
    assert client.post("/v1/offers/amazon/bulk", content=b"sku\nA\n",
                       headers={"Content-Type": "text/csv"}).status_code == 422
    assert client.get("/v1/offers", params={"channel": "amazon"}).status_code == 422


def test_the_other_channel_is_another_offer(client) -> None:
    created(client, "TUNIC-38")
    response = client.put("/v1/offers/labrandboutique/TUNIC-38", json=body(price="19.99"))
    assert response.status_code == 201
    assert response.json()["id"] != client.get(f"{BASE}/TUNIC-38").json()["id"]


# ---------------------------------------------------------------- Idempotency-Key


def test_an_idempotent_create_is_replayed(client, app) -> None:
    first = put(client, "TUNIC-38", key="create-tunic-38")
    assert first.status_code == 201, first.text
    events = event_count(app)
    retry = put(client, "TUNIC-38", key="create-tunic-38")
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == '"1"'
    assert retry.json() == first.json()
    assert event_count(app) == events

    other = put(client, "TUNIC-38", key="create-tunic-38", price="1.00")
    assert_problem(other, 422, "/problems/idempotency-key-reused", field="Idempotency-Key",
                   rule="same_request")
    assert event_count(app) == events


def test_an_idempotent_update_is_replayed(client, app) -> None:
    created(client, "TUNIC-38")
    first = put(client, "TUNIC-38", if_match='"1"', key="price-2499", price="24.99")
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    events = event_count(app)
    retry = put(client, "TUNIC-38", if_match='"1"', key="price-2499", price="24.99")
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == '"2"'
    assert retry.json() == first.json()
    assert event_count(app) == events
    other = put(client, "TUNIC-38", if_match='"2"', key="price-2499", price="19.99")
    assert_problem(other, 422, "/problems/idempotency-key-reused", field="Idempotency-Key")
    assert client.get(f"{BASE}/TUNIC-38").json()["values"]["price"] == "24.99"


# ---------------------------------------------------------------- unpublish and promotion


def test_unpublish_sets_quantity_0_and_keeps_the_offer(client) -> None:
    created(client, "TUNIC-38")
    assert_problem(client.post(f"{BASE}/TUNIC-38/unpublish"), 428,
                   "/problems/precondition-required")
    assert_problem(client.post(f"{BASE}/TUNIC-38/unpublish", headers={"If-Match": '"3"'}), 412,
                   "/problems/version-conflict")
    response = client.post(f"{BASE}/TUNIC-38/unpublish", headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    offer = response.json()
    assert not offer["published"] and offer["values"]["quantity"] == 0
    assert offer["values"]["price"] == "29.99"
    again = client.post(f"{BASE}/TUNIC-38/unpublish", headers={"If-Match": '"2"'})
    assert again.status_code == 200 and again.headers["etag"] == '"2"'
    assert history(client, "TUNIC-38") == ["Registered", "Unpublished"]

    back = put(client, "TUNIC-38", if_match='"2"', quantity=3)
    assert back.json()["published"]
    assert history(client, "TUNIC-38") == ["Registered", "Unpublished", "Republished"]


def test_a_promotion_is_set_and_ended(client) -> None:
    created(client, "TUNIC-38")
    promotion = {"price": "19.99", "crossed_price": "39.99", "start": "2026-11-27T00:00:00",
                 "end": "2026-11-30T23:59:59"}
    response = client.put(f"{BASE}/TUNIC-38/promotion", json=promotion,
                          headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json()["promotion"] == promotion

    ended = client.delete(f"{BASE}/TUNIC-38/promotion", headers={"If-Match": '"2"'})
    assert ended.status_code == 200, ended.text
    assert ended.json()["promotion"] is None
    assert history(client, "TUNIC-38") == ["Registered", "PromotionSet", "PromotionEnded"]

    none = client.delete(f"{BASE}/TUNIC-38/promotion", headers={"If-Match": '"3"'})
    assert_problem(none, 422, "/problems/rule-violation", field="promotion", rule="none")


@pytest.mark.parametrize("price, crossed", [("39.99", "39.99"), ("40.00", "39.99")])
def test_a_promotional_price_not_below_the_crossed_price_is_refused(
    client, price: str, crossed: str
) -> None:
    created(client, "TUNIC-38")
    response = client.put(f"{BASE}/TUNIC-38/promotion",
                          json={"price": price, "crossed_price": crossed},
                          headers={"If-Match": '"1"'})
    problem = assert_problem(response, 422, "/problems/rule-violation", field="crossed_price",
                             rule="above_price")
    assert "PrixBarre" in problem["detail"]
    assert history(client, "TUNIC-38") == ["Registered"]


@pytest.mark.parametrize("dates, field", [
    ({"start": "2026-12-02T00:00:00", "end": "2026-12-01T00:00:00"}, "end"),
    ({"start": "2026-12-01"}, "start"),
    ({"end": "2026-02-30T00:00:00"}, "end"),
])
def test_promotion_dates_are_checked(client, dates: dict[str, str], field: str) -> None:
    created(client, "TUNIC-38")
    response = client.put(f"{BASE}/TUNIC-38/promotion",
                          json={"price": "19.99", "crossed_price": "39.99", **dates},
                          headers={"If-Match": '"1"'})
    assert_problem(response, 422, "/problems/rule-violation", field=field)


def test_a_promotion_amount_must_be_a_plain_amount(client) -> None:
    created(client, "TUNIC-38")
    response = client.put(f"{BASE}/TUNIC-38/promotion",
                          json={"price": "19.999", "crossed_price": "39.99"},
                          headers={"If-Match": '"1"'})
    assert response.status_code == 422


def test_the_history_names_the_operator(client) -> None:
    created(client, "TUNIC-38")
    put(client, "TUNIC-38", if_match='"1"', price="24.99", delivery_fee="0")
    response = client.get(f"{BASE}/TUNIC-38/events")
    assert response.status_code == 200
    events = response.json()["events"]
    assert [(e["type"], e["version"]) for e in events] == [
        ("Registered", 1), ("PriceChanged", 2), ("DeliveryTermsChanged", 3)]
    assert all(e["actor"] == {"name": "test-operator", "role": "operator"} for e in events)
    assert all(e["correlation_id"] for e in events)
    assert events[1]["data"] == {"price": "24.99", "crossed_price": "39.99", "eco_fee": None}
    assert events[0]["data"]["sku"] == "TUNIC-38"


# ---------------------------------------------------------------- the list


def test_the_list_shows_the_offers_once_projected(client) -> None:
    created(client, "TUNIC-38")
    created(client, "TUNIC-40", quantity=0)
    created(client, "SCARF", delivery_fee=None, ean=EAN_2)
    page = wait_for_list(client, lambda p: len(p["items"]) == 3)
    assert [i["sku"] for i in page["items"]] == ["SCARF", "TUNIC-38", "TUNIC-40"]
    assert page["next_cursor"] is None
    tunic = page["items"][1]
    assert tunic["channel"] == "laredoute" and tunic["version"] == 1
    assert tunic["published"] and tunic["values"]["price"] == "29.99"
    assert tunic["sync_state"] == "pending" and tunic["errors"] == []

    def skus(params: dict[str, Any]) -> list[str]:
        return [i["sku"] for i in listed(client, params)["items"]]

    assert skus({"published": "false"}) == ["TUNIC-40"]
    assert skus({"published": "true"}) == ["SCARF", "TUNIC-38"]
    assert skus({"has_errors": "true"}) == ["SCARF"]
    assert skus({"has_errors": "false", "published": "true"}) == ["TUNIC-38"]
    assert skus({"q": "tunic"}) == ["TUNIC-38", "TUNIC-40"]
    assert skus({"q": EAN_2}) == ["SCARF"]
    assert skus({"sync_state": "pending"}) == ["TUNIC-38", "TUNIC-40"]
    assert skus({"sync_state": "blocked"}) == ["SCARF"]
    assert page["items"][0]["sync_state"] == "blocked"
    assert skus({"sync_state": "live"}) == []
    assert skus({"channel": "labrandboutique"}) == []
    assert skus({"channel": "laredoute", "q": "scarf"}) == ["SCARF"]


def test_the_list_follows_changes(client) -> None:
    created(client, "TUNIC-38")
    version_in_list(client, "TUNIC-38", 1)
    client.post(f"{BASE}/TUNIC-38/unpublish", headers={"If-Match": '"1"'})
    item = version_in_list(client, "TUNIC-38", 2)
    assert not item["published"] and item["values"]["quantity"] == 0
    client.put(f"{BASE}/TUNIC-38/promotion", json={"price": "9.99", "crossed_price": "29.99"},
               headers={"If-Match": '"2"'})
    item = version_in_list(client, "TUNIC-38", 3)
    assert item["promotion"] == {"price": "9.99", "crossed_price": "29.99", "start": None,
                                 "end": None}


def test_the_list_pages_with_a_cursor(client) -> None:
    for n in range(7):
        created(client, f"SKU-{n}", ean=ean(n))
    wait_for_list(client, lambda p: len(p["items"]) == 7)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        page = listed(client, params)
        pages += 1
        seen.extend(i["sku"] for i in page["items"])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}
    assert pages == 3
    assert seen == [f"SKU-{n}" for n in range(7)]
    exact = listed(client, {"limit": 7})
    assert exact["next_cursor"] is None and len(exact["items"]) == 7


@pytest.mark.parametrize("params, field", [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "WzEsMl0="}, "cursor"),  # [1,2]: JSON, but not one of ours
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"sync_state": "lost"}, "sync_state"),
    ({"published": "perhaps"}, "published"),
])
def test_bad_list_parameters_are_a_422(client, params: dict[str, Any], field: str) -> None:
    response = client.get("/v1/offers", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem.get("field") == field or any(
        e.get("field") == field for e in problem.get("errors", [])), problem


# ---------------------------------------------------------------- bulk upload


GUIDE_CSV = (
    "PartnerProductReference;ProductIdentifier;SellingPriceAmount;PrixBarre;quantity;"
    "DeliveryFee;ShipmentDelay;DeliveryDaysRangeMin;DeliveryDaysRangeMax;SellingPriceWEEEFee;"
    "OfferPeriodStartDate;OfferPeriodEndDate\n"
    f"TUNIC-38;{EAN};29,99;39,99;5;4,90;2;2;4;0,50;2026-12-01T00:00:00;2027-12-01T00:00:00\n"
    f"TUNIC-40;{EAN_2};29,99;;0;4,90;2;2;4;;;\n"
    f"SCARF;{ean(7)};15,00;15,00;3;;1;1;3;;;\n"
)


def bulk(client, content: bytes | str, content_type: str = "text/csv", mode: str | None = None,
         channel: str = "laredoute"):
    params = {"mode": mode} if mode else {}
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"/v1/offers/{channel}/bulk", content=data, params=params,
                       headers={"Content-Type": content_type})


def test_a_csv_with_the_guide_columns_and_semicolons(client, app) -> None:
    response = bulk(client, GUIDE_CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0,
                               "unpublished": 0, "invalid": 1, "rejected": []}
    tunic = client.get(f"{BASE}/TUNIC-38").json()
    assert tunic["values"]["price"] == "29.99" and tunic["values"]["crossed_price"] == "39.99"
    assert tunic["values"]["eco_fee"] == "0.50" and tunic["values"]["quantity"] == 5
    assert tunic["values"]["period_end"] == "2027-12-01T00:00:00"
    tunic_40 = client.get(f"{BASE}/TUNIC-40").json()
    assert not tunic_40["published"] and tunic_40["values"]["crossed_price"] == "29.99"
    scarf = client.get(f"{BASE}/SCARF").json()
    assert [(e["field"], e["rule"]) for e in scarf["errors"]] == [("delivery_fee", "required")]

    events = event_count(app)
    again = bulk(client, GUIDE_CSV)
    assert again.json()["unchanged"] == 3 and again.json()["created"] == 0
    assert event_count(app) == events
    assert "x-event-position" not in again.headers  # nothing written


def test_an_upload_tells_where_its_events_are_in_the_log(client, app) -> None:
    first = put(client, "FIRST")
    response = bulk(client, GUIDE_CSV)
    position = int(response.headers["x-event-position"])
    assert position > int(first.headers["x-event-position"])
    assert position == app.state.service.store.recorder.max_notification_id()


def test_a_csv_with_our_columns_and_commas(client) -> None:
    csv = ("sku,ean,price,crossed_price,quantity,delivery_fee\n"
           f"TUNIC-38,{EAN},29.99,39.99,5,4.90\n"
           f'TUNIC-40,{EAN_2},"24,50",,2,0\n')
    response = bulk(client, csv.encode("utf-8-sig"), "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2 and response.json()["invalid"] == 0
    assert client.get(f"{BASE}/TUNIC-40").json()["values"]["price"] == "24.50"


def test_a_json_array(client) -> None:
    rows = [{"sku": "TUNIC-38", **body()}, {"sku": "TUNIC-40", **body(ean=EAN_2, quantity="0")},
            {"sku": "", **body()}, {"sku": "TUNIC-38", **body(price="1.00")}]
    response = client.post(f"{BASE}/bulk", json=rows)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["created"]) == (4, 2)
    assert [(r["line"], r["sku"], r["rule"]) for r in result["rejected"]] == [
        (3, None, "required"), (4, "TUNIC-38", "unique")]
    assert client.get(f"{BASE}/TUNIC-38").json()["values"]["price"] == "29.99"


@pytest.mark.parametrize("content, content_type, rule", [
    (b"<offers/>", "application/xml", "csv_or_json"),
    (b"sku;price\nA;1\n", "application/octet-stream", "csv_or_json"),
])
def test_another_content_type_is_a_415(client, content: bytes, content_type: str,
                                       rule: str) -> None:
    response = bulk(client, content, content_type)
    assert_problem(response, 415, "/problems/unsupported-media-type", rule=rule)


@pytest.mark.parametrize("content, content_type, rule", [
    ("ean;price;quantity\n4006381333931;10;1\n".encode(), "text/csv", "sku_column"),
    (b"", "text/csv", "sku_column"),
    ("sku;price\nCAF\xc9;1\n".encode("latin-1"), "text/csv", "utf8"),
    (b"{not json", "application/json", "json"),
    (b'{"sku": "A"}', "application/json", "array_of_objects"),
    (b'["A"]', "application/json", "array_of_objects"),
])
def test_a_source_that_cannot_be_read_is_a_422(client, app, content: bytes, content_type: str,
                                               rule: str) -> None:
    events = event_count(app)
    response = bulk(client, content, content_type)
    assert_problem(response, 422, "/problems/invalid-request", rule=rule)
    assert event_count(app) == events


def test_mode_full_unpublishes_what_the_source_no_longer_lists(client, app) -> None:
    assert bulk(client, GUIDE_CSV).status_code == 200
    only_scarf = GUIDE_CSV.split("\n")[0] + "\n" + GUIDE_CSV.split("\n")[3] + "\n"
    partial = bulk(client, only_scarf)
    assert partial.json()["unchanged"] == 1 and partial.json()["unpublished"] == 0
    assert client.get(f"{BASE}/TUNIC-38").json()["published"]

    full = bulk(client, only_scarf, mode="full")
    assert full.status_code == 200, full.text
    assert full.json()["unpublished"] == 1  # TUNIC-40 already had quantity 0
    tunic = client.get(f"{BASE}/TUNIC-38").json()
    assert not tunic["published"] and tunic["values"]["quantity"] == 0
    assert history(client, "TUNIC-38") == ["Registered", "Unpublished"]
    assert history(client, "TUNIC-40") == ["Registered"]
    assert bulk(client, only_scarf, mode="everything").status_code == 422


# ---------------------------------------------------------------- reports


def test_the_offers_report_lists_the_invalid_offers_with_their_errors(client) -> None:
    assert bulk(client, GUIDE_CSV).status_code == 200
    created(client, "BROKEN", price="0", ean="123")
    client.put("/v1/offers/labrandboutique/OTHER", json=body(delivery_fee=None))
    wait_for_list(client, lambda p: len(p["items"]) == 5)

    response = client.get("/v1/offer-reports/offers")
    assert response.status_code == 200, response.text
    report = {(line["channel"], line["sku"]): line["errors"] for line in response.json()}
    assert set(report) == {("laredoute", "SCARF"), ("laredoute", "BROKEN"),
                           ("labrandboutique", "OTHER")}
    assert [(e["field"], e["rule"]) for e in report[("laredoute", "BROKEN")]] == [
        ("price", "positive"), ("ean", "ean_checksum")]
    assert report[("laredoute", "SCARF")] == [{
        "field": "delivery_fee", "rule": "required",
        "message": "DeliveryFee is required: without it La Redoute blocks the export"}]

    one_channel = client.get("/v1/offer-reports/offers", params={"channel": "labrandboutique"})
    assert [line["sku"] for line in one_channel.json()] == ["OTHER"]

    marketplace = client.get("/v1/offer-reports/offers_laredoute")
    assert marketplace.status_code == 200 and marketplace.json() == []


def test_a_fixed_offer_leaves_the_report(client) -> None:
    created(client, "SCARF", delivery_fee=None)
    wait_for_list(client, lambda p: len(p["items"]) == 1)
    assert [line["sku"] for line in client.get("/v1/offer-reports/offers").json()] == ["SCARF"]
    put(client, "SCARF", if_match='"1"')
    version_in_list(client, "SCARF", 3)
    assert client.get("/v1/offer-reports/offers").json() == []
