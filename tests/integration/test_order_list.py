"""GET /v1/orders and GET /v1/orders/tabs on each store: every filter, the tab counts, the New
tab's acceptance countdown, keyset pagination under inserts, read-your-writes with
min_position, invalid queries, and /readyz naming a failed projection."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.application.orders import OrderService
from app.bootstrap import open_service
from app.config import Settings
from app.projections.runner import ProjectionRunner
from tests.integration.projections_support import (
    RecordingProjection,
    create_applied_table,
    head,
)
from tests.support import (
    CLOCK_START,
    FakeClock,
    at,
    bearer,
    order_fields,
    order_payload,
    utc_text,
)

PROBLEM_JSON = "application/problem+json"


def lines(*skus: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"line_id": f"L{i}", "sku": sku, "ean": ean, "title": "Article", "quantity": 1,
         "unit_price": "20.00"}
        for i, (sku, ean) in enumerate(skus, start=1)
    ]


PLUS_ONE = timezone(timedelta(hours=1))
ZOE = {"firstname": "Zoé", "lastname": "Martin", "email": "zoe.martin@example.fr"}


@pytest.fixture
def shop(app: FastAPI, client: TestClient) -> OrderService:
    """Eight orders, one or more in each tab, on both channels, created so many hours before
    the test clock's start (CLOCK_START, 09:00 UTC)."""
    service: OrderService = app.state.service

    def imported(mid: str, hours_ago: float, **overrides: Any):
        created_at = at(hours=-hours_ago).isoformat()
        return service.import_order(**order_fields(mid, created_at=created_at, **overrides)).order

    imported("LR-TUNIC-001", 0.5)
    service.accept(imported("LR-TUNIC-002", 23).id)
    robe = imported("LBB-ROBE-003", 45, channel="labrandboutique",
                    customer=ZOE, lines=lines(("ROBE-SOIE-40", "3600000000031")))
    service.accept(robe.id)
    service.validate_payment(robe.id)
    shipped = imported("LR-TUNIC-004", 54)
    service.accept(shipped.id)
    service.validate_payment(shipped.id)
    service.ship(shipped.id, tracking_number="6A12345678901", carrier="Colissimo")
    service.refuse(imported("LR-TUNIC-005", 61).id, reason="No stock")
    imported("LR-PROMO-006", 51,
             lines=lines(("PROMO-50%_OFF", "3600000000048")))
    paid = imported("LBB-ROBE-007", 63, channel="labrandboutique",
                    customer=ZOE)
    service.accept(paid.id)
    service.validate_payment(paid.id)
    service.ship(paid.id, tracking_number="1Z999AA10123456784", carrier="UPS")
    service.mark_paid(paid.id)
    imported("LR-TUNIC-008", 146)  # its 72 hours are over
    return service


def listed(client: TestClient, service: OrderService, **params: Any) -> dict[str, Any]:
    """The list once it includes every write so far."""
    params.setdefault("min_position", head(service))
    response = client.get("/v1/orders", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["caught_up"] is True, body
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["marketplace_order_id"] for item in body["items"]]


def assert_invalid(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["type"] == "/problems/invalid-request"
    assert problem["status"] == 422 and problem["detail"]
    assert problem["field"] == field, problem
    return problem


# ---------------------------------------------------------------- tabs and filters


TABS = {
    "new": ["LR-TUNIC-001", "LR-TUNIC-002", "LR-PROMO-006", "LR-TUNIC-008"],
    "waiting_shipment": ["LBB-ROBE-003"],
    "sent": ["LR-TUNIC-004", "LBB-ROBE-007"],
    "canceled": ["LR-TUNIC-005"],
}


def test_each_tab_lists_the_orders_of_its_statuses_newest_first(
    client: TestClient, shop: OrderService
) -> None:
    """New holds CREATED and ACCEPTED, Sent holds SHIPPED and PAID, and so on."""
    for tab, expected in TABS.items():
        body = listed(client, shop, tab=tab)
        assert ids(body) == expected, tab
        assert {item["tab"] for item in body["items"]} == {tab}
        assert body["has_more"] is False and body["next_cursor"] is None


FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({}, ["LR-TUNIC-001", "LR-TUNIC-002", "LBB-ROBE-003", "LR-PROMO-006", "LR-TUNIC-004",
          "LR-TUNIC-005", "LBB-ROBE-007", "LR-TUNIC-008"]),
    ({"status": "CREATED"}, ["LR-TUNIC-001", "LR-PROMO-006", "LR-TUNIC-008"]),
    ({"status": "PAID"}, ["LBB-ROBE-007"]),
    ({"status": "REFUNDED"}, []),
    ({"channel": "labrandboutique"}, ["LBB-ROBE-003", "LBB-ROBE-007"]),
    ({"channel": "laredoute", "tab": "sent"}, ["LR-TUNIC-004"]),
    ({"tab": "new", "status": "TOSHIP"}, []),
    # created_from is inclusive, created_to exclusive; any offset is understood.
    ({"created_from": utc_text(at(hours=-51))},
     ["LR-TUNIC-001", "LR-TUNIC-002", "LBB-ROBE-003", "LR-PROMO-006"]),
    ({"created_to": utc_text(at(hours=-51))},
     ["LR-TUNIC-004", "LR-TUNIC-005", "LBB-ROBE-007", "LR-TUNIC-008"]),
    ({"created_from": at(hours=-45).astimezone(PLUS_ONE).isoformat(),
      "created_to": at(hours=-23).astimezone(PLUS_ONE).isoformat()},
     ["LBB-ROBE-003"]),
    ({"created_from": utc_text(at(hours=-61)), "created_to": utc_text(at(hours=-61))}, []),
    # q: marketplace id, customer, SKU or EAN, whatever the case.
    ({"q": "durand"}, ["LR-TUNIC-001", "LR-TUNIC-002", "LR-PROMO-006", "LR-TUNIC-004",
                       "LR-TUNIC-005", "LR-TUNIC-008"]),
    ({"q": "ZOÉ MARTIN"}, ["LBB-ROBE-003", "LBB-ROBE-007"]),
    ({"q": "robe-soie"}, ["LBB-ROBE-003"]),
    ({"q": "3600000000031"}, ["LBB-ROBE-003"]),
    ({"q": "lr-tunic-00"}, ["LR-TUNIC-001", "LR-TUNIC-002", "LR-TUNIC-004", "LR-TUNIC-005",
                            "LR-TUNIC-008"]),
    ({"q": "Colissimo"}, []),
    # % and _ are letters to search for, not wildcards.
    ({"q": "50%_off"}, ["LR-PROMO-006"]),
    ({"q": "%"}, ["LR-PROMO-006"]),
    ({"q": "_"}, ["LR-PROMO-006"]),
    ({"q": "tunic_"}, []),
    ({"tab": "new", "channel": "laredoute", "q": "tunic",
      "created_from": utc_text(at(hours=-33))},
     ["LR-TUNIC-001", "LR-TUNIC-002"]),
]


def test_each_filter_narrows_the_list(client: TestClient, shop: OrderService) -> None:
    """Every filter alone and some together, each answer checked in its order."""
    wrong = {
        json.dumps(params): got
        for params, expected in FILTERS
        if (got := ids(listed(client, shop, **params))) != expected
    }
    assert wrong == {}


def test_an_order_in_the_list_carries_its_totals_tracking_and_version(
    client: TestClient, shop: OrderService
) -> None:
    """The shipped tunic order: two tunics and a scarf, Colissimo tracking, version 4."""
    (item,) = listed(client, shop, q="LR-TUNIC-004")["items"]
    order = shop.find_order("laredoute", "LR-TUNIC-004")
    assert item == {
        "id": str(order.id),
        "channel": "laredoute",
        "marketplace_order_id": "LR-TUNIC-004",
        "status": "SHIPPED",
        "tab": "sent",
        "customer_name": "Amélie Durand",
        "goods_total": "74.98",
        "shipping_price": "4.90",
        "order_total": "79.88",
        "refunded_amount": "0.00",
        "line_count": 2,
        "created_at": utc_text(at(hours=-54)),
        "acceptance_deadline": utc_text(at(hours=18)),
        "time_left_to_accept_seconds": None,
        "deadline_near": False,
        "shipped_at": utc_text(CLOCK_START),
        "tracking": {
            "carrier": "Colissimo",
            "tracking_number": "6A12345678901",
            "tracking_url": order.shipment.tracking_url,
        },
        "last_event_at": item["last_event_at"],
        "version": 4,
        "ship_by": None,
        "late": False,
        "has_customer_message": False,
        "has_incident": False,
        "can_cancel": False,
        "can_refund": False,
    }


def test_the_new_tab_shows_the_time_left_to_accept_each_created_order(
    client: TestClient, shop: OrderService, clock: FakeClock
) -> None:
    """Seconds until the 72-hour deadline, 0 once it passed, none once accepted."""
    left = {item["marketplace_order_id"]: item["time_left_to_accept_seconds"]
            for item in listed(client, shop, tab="new")["items"]}
    assert left == {
        "LR-TUNIC-001": 71 * 3600 + 1800,  # created half an hour ago
        "LR-TUNIC-002": None,  # accepted
        "LR-PROMO-006": 21 * 3600,  # created 51 hours ago
        "LR-TUNIC-008": 0,  # its deadline passed three days ago
    }
    clock.advance(hours=20, minutes=30)
    left = {item["marketplace_order_id"]: item["time_left_to_accept_seconds"]
            for item in listed(client, shop, tab="new")["items"]}
    assert left["LR-TUNIC-001"] == 51 * 3600
    assert left["LR-PROMO-006"] == 1800


def test_orders_close_to_their_acceptance_deadline_are_flagged(
    client: TestClient, shop: OrderService, clock: FakeClock
) -> None:
    """Within 12 hours (OMS_DEADLINE_WARNING_HOURS) of the deadline, or past it, and still to accept."""
    def near() -> dict[str, bool]:
        return {item["marketplace_order_id"]: item["deadline_near"]
                for item in listed(client, shop, tab="new")["items"]}

    assert near() == {"LR-TUNIC-001": False, "LR-TUNIC-002": False,
                      "LR-PROMO-006": False, "LR-TUNIC-008": True}
    clock.advance(hours=9)  # LR-PROMO-006 now has 12 hours left
    assert near() == {"LR-TUNIC-001": False, "LR-TUNIC-002": False,
                      "LR-PROMO-006": True, "LR-TUNIC-008": True}


def test_sorting_by_deadline_lists_the_most_urgent_orders_first(
    client: TestClient, shop: OrderService
) -> None:
    """sort=deadline puts the overdue order first, then the soonest acceptance deadlines."""
    body = listed(client, shop, tab="new", sort="deadline")
    assert ids(body) == ["LR-TUNIC-008", "LR-PROMO-006", "LR-TUNIC-002", "LR-TUNIC-001"]
    deadlines = [item["acceptance_deadline"] for item in body["items"]]
    assert deadlines == sorted(deadlines)


# ---------------------------------------------------------------- tab counts


def test_the_tab_counts_give_each_tab_its_total_and_statuses(
    client: TestClient, shop: OrderService
) -> None:
    """Each tab's total is the sum of its statuses' counts, at the position they were read."""
    position = listed(client, shop)["position"]
    response = client.get("/v1/orders/tabs")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tabs": {
            "new": {"total": 4, "by_status": {"CREATED": 3, "ACCEPTED": 1}},
            "waiting_shipment": {"total": 1, "by_status": {"TOSHIP": 1}},
            "sent": {"total": 2, "by_status": {"SHIPPED": 1, "PAID": 1}},
            "canceled": {"total": 1, "by_status": {"REFUSED": 1}},
        },
        "position": position,
    }


def test_the_tab_counts_of_an_empty_shop_list_every_tab_at_zero(client: TestClient) -> None:
    """A new seller sees the four tabs, each empty."""
    response = client.get("/v1/orders/tabs")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tabs": {tab: {"total": 0, "by_status": {}}
                 for tab in ("new", "waiting_shipment", "sent", "canceled")},
        "position": 0,
    }


def test_the_tab_counts_follow_an_order_from_tab_to_tab(
    client: TestClient, shop: OrderService
) -> None:
    """Shipping the robe moves one order from Waiting for shipment to Sent."""
    robe = shop.find_order("labrandboutique", "LBB-ROBE-003")
    shop.ship(robe.id, tracking_number="6A99999999999", carrier="Colissimo")
    listed(client, shop)
    tabs = client.get("/v1/orders/tabs").json()["tabs"]
    assert tabs["waiting_shipment"] == {"total": 0, "by_status": {}}
    assert tabs["sent"] == {"total": 3, "by_status": {"SHIPPED": 2, "PAID": 1}}


# ---------------------------------------------------------------- pagination


def _page_through(
    client: TestClient, service: OrderService, sort: str, insert: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end, calling `insert(page_number, page)` between pages."""
    seen: list[dict[str, Any]] = []
    cursor = None
    page_number = 0
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 4, "q": "LR-PAGE"}
        if cursor is not None:
            params["cursor"] = cursor
        body = listed(client, service, **params)
        assert body["has_more"] is (body["next_cursor"] is not None)
        assert len(body["items"]) <= 4
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        insert(page_number, body["items"])
        page_number += 1


@pytest.mark.parametrize(
    ("sort", "key", "still_ahead"),
    [("newest", "created_at", 1), ("deadline", "acceptance_deadline", 0)],
)
def test_paging_while_orders_arrive_shows_each_earlier_order_exactly_once(
    client: TestClient, app: FastAPI, sort: str, key: str, still_ahead: int
) -> None:
    """Orders imported between pages (newer, older, or at the instant of the page's last
    order) never make an order that was there from the start repeat or vanish."""
    service: OrderService = app.state.service
    first = [f"LR-PAGE-{i:03d}" for i in range(22)]
    for i, mid in enumerate(first):
        # Three orders per instant, so that the order id breaks the ties.
        created = at(hours=-1 - i // 3).isoformat()
        response = client.post("/v1/orders", json=order_payload(mid, created_at=created))
        assert response.status_code == 201, response.text

    def insert(page_number: int, items: list[dict[str, Any]]) -> None:
        last = items[-1]["created_at"].replace("Z", "+00:00")
        earlier = (at(minutes=-1).isoformat(), at(days=-7, hours=-9).isoformat(), last)
        for n, created in enumerate(earlier):
            response = client.post(
                "/v1/orders",
                json=order_payload(f"LR-PAGE-NEW-{page_number}-{n}", created_at=created),
            )
            assert response.status_code == 201, response.text
            assert int(response.headers["X-Event-Position"]) == head(service)

    seen = _page_through(client, service, sort, insert)
    names = [item["marketplace_order_id"] for item in seen]
    assert len(names) == len(set(names)), "an order was listed twice"
    assert [name for name in names if name in first] == sorted(
        first, key=lambda mid: names.index(mid)
    )
    assert set(first) <= set(names), f"missing: {set(first) - set(names)}"
    keys = [(item[key], item["id"]) for item in seen]
    assert keys == (sorted(keys, reverse=True) if sort == "newest" else sorted(keys))
    # Orders imported on the way whose place is still ahead of the cursor are listed too.
    assert {f"LR-PAGE-NEW-{p}-{still_ahead}" for p in range(3)} <= set(names)
    assert not {f"LR-PAGE-NEW-{p}-{1 - still_ahead}" for p in range(3)} & set(names)


def test_a_page_of_exactly_the_rest_has_no_next_cursor(
    client: TestClient, shop: OrderService
) -> None:
    """The last page says has_more false even when it is full."""
    first = listed(client, shop, limit=5)
    assert ids(first) == ["LR-TUNIC-001", "LR-TUNIC-002", "LBB-ROBE-003", "LR-PROMO-006",
                          "LR-TUNIC-004"]
    assert first["has_more"] is True
    rest = listed(client, shop, limit=3, cursor=first["next_cursor"])
    assert ids(rest) == ["LR-TUNIC-005", "LBB-ROBE-007", "LR-TUNIC-008"]
    assert rest["has_more"] is False and rest["next_cursor"] is None


# ---------------------------------------------------------------- invalid queries


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


NO_ORDER = "00000000-0000-0000-0000-000000000001"
INVALID: list[tuple[dict[str, str], str]] = [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "!!!"}, "cursor"),
    ({"cursor": _cursor("newest", "2026-11-26T08:30:00", NO_ORDER)}, "cursor"),
    ({"cursor": _cursor("newest", "2026-11-26T08:30:00+00:00", "LR-TUNIC-001")}, "cursor"),
    ({"cursor": _cursor("newest", "2026-11-26T08:30:00+00:00", 42)}, "cursor"),
    ({"cursor": _cursor("newest", 20261126, NO_ORDER)}, "cursor"),
    ({"cursor": _cursor("newest")}, "cursor"),
    ({"cursor": _cursor({"sort": "newest"}, 1, 2)}, "cursor"),
    ({"cursor": _cursor("newest", "0001-01-01T00:00:00+05:00", NO_ORDER)}, "cursor"),
    ({"cursor": "x" * 513}, "cursor"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"tab": "archived"}, "tab"),
    ({"tab": "New"}, "tab"),
    ({"status": "SHIPPING"}, "status"),
    ({"channel": "amazon"}, "channel"),
    ({"created_from": "2026-11-26T08:30:00"}, "created_from"),
    ({"created_to": "2026-11-26"}, "created_to"),
    ({"created_from": "yesterday"}, "created_from"),
    # Times that UTC cannot hold.
    ({"created_from": "0001-01-01T00:00:00+05:00"}, "created_from"),
    ({"created_to": "9999-12-31T23:00:00-05:00"}, "created_to"),
    ({"sort": "oldest"}, "sort"),
    ({"q": ""}, "q"),
    ({"q": "x" * 101}, "q"),
    ({"min_position": "-1"}, "min_position"),
]


def test_an_invalid_query_is_a_422_problem_naming_the_parameter(client: TestClient) -> None:
    """Bad cursors, limits out of 1..100, unknown tabs, statuses or channels and times
    without an offset are each refused with the parameter named, never with a 500."""
    wrong = {}
    for params, field in INVALID:
        response = client.get("/v1/orders", params=params)
        problem = response.json()
        answer = (response.status_code, response.headers["content-type"], problem.get("field"))
        if answer != (422, PROBLEM_JSON, field):
            wrong[json.dumps(params)[:80]] = answer
        elif problem["type"] != "/problems/invalid-request" or not problem["detail"]:
            wrong[json.dumps(params)[:80]] = problem
    assert wrong == {}


def test_a_cursor_of_one_sort_order_is_refused_for_the_other(
    client: TestClient, shop: OrderService
) -> None:
    """A newest-first cursor means nothing in deadline order, so it is a 422 there."""
    cursor = listed(client, shop, limit=2)["next_cursor"]
    problem = assert_invalid(
        client.get("/v1/orders", params={"cursor": cursor, "sort": "deadline"}), "cursor"
    )
    assert "another sort order" in problem["detail"]
    assert client.get("/v1/orders", params={"cursor": cursor}).status_code == 200


# ---------------------------------------------------------------- read your writes


def test_a_list_with_min_position_includes_the_write_that_gave_the_position(
    client: TestClient,
) -> None:
    """Each command's X-Event-Position, passed back, gives a list that shows its effect."""
    created = client.post("/v1/orders", json=order_payload("LR-TUNIC-001"))
    position = int(created.headers["X-Event-Position"])
    response = client.get("/v1/orders", params={"min_position": position, "tab": "new"})
    body = response.json()
    assert body["caught_up"] is True and body["position"] >= position
    assert int(response.headers["X-Read-Position"]) == body["position"]
    assert ids(body) == ["LR-TUNIC-001"]

    order = created.json()
    accepted = client.post(f"/v1/orders/{order['id']}/accept", headers={"If-Match": '"1"'})
    assert accepted.status_code == 200, accepted.text
    position = int(accepted.headers["X-Event-Position"])
    assert position > body["position"]
    body = client.get("/v1/orders", params={"min_position": position}).json()
    assert body["caught_up"] is True
    assert [(i["status"], i["version"]) for i in body["items"]] == [("ACCEPTED", 2)]


def test_min_position_waits_for_a_write_made_by_another_process(
    client: TestClient, settings: Settings, clock: FakeClock
) -> None:
    """An import by another service (a sync worker) wakes no runner of this one, yet the
    list with its position waits until it shows."""
    worker = open_service(settings, clock=clock)
    try:
        worker.import_order(**order_fields("LR-TUNIC-SYNC"))
        position = head(worker)
    finally:
        worker.close()
    body = client.get("/v1/orders", params={"min_position": position}).json()
    assert body["caught_up"] is True and body["position"] == position
    assert ids(body) == ["LR-TUNIC-SYNC"]


def test_min_position_answers_caught_up_false_when_no_projection_runs(
    settings: Settings, clock: FakeClock, operator_key: str
) -> None:
    """Without a runner the write never shows: after a short wait the answer says so."""
    quiet = create_app(
        settings.model_copy(update={"run_projections": False, "read_wait_seconds": 0.2}),
        clock=clock,
    )
    with TestClient(quiet, headers=bearer(operator_key)) as client:
        created = client.post("/v1/orders", json=order_payload("LR-TUNIC-001"))
        position = int(created.headers["X-Event-Position"])
        started = time.monotonic()
        response = client.get("/v1/orders", params={"min_position": position})
        waited = time.monotonic() - started
        assert response.status_code == 200, response.text
        body = response.json()
        assert body == {"items": [], "next_cursor": None, "has_more": False, "position": 0,
                        "caught_up": False}
        assert 0.2 <= waited < 2
        # Without min_position nothing is awaited: the list is what the read model has.
        assert client.get("/v1/orders").json()["caught_up"] is True


def test_min_position_beyond_the_log_waits_briefly_then_answers_caught_up_false(
    settings: Settings, clock: FakeClock, operator_key: str
) -> None:
    """A position no write has reached yet gets the list as it is, marked not caught up."""
    app = create_app(settings.model_copy(update={"read_wait_seconds": 0.2}), clock=clock)
    with TestClient(app, headers=bearer(operator_key)) as client:
        client.post("/v1/orders", json=order_payload("LR-TUNIC-001"))
        body = client.get("/v1/orders", params={"min_position": 1_000_000}).json()
        assert body["caught_up"] is False
        assert ids(body) == ["LR-TUNIC-001"]


# ---------------------------------------------------------------- readiness


@pytest.fixture
def picky_app(
    settings: Settings, clock: FakeClock
) -> Iterator[tuple[FastAPI, RecordingProjection]]:
    """The service with a second projection that cannot read the third event."""
    app = create_app(settings.model_copy(update={"projection_poll_interval": 0.05}), clock=clock)
    create_applied_table(app.state.db)
    picky = RecordingProjection("picky", fail_at=3)
    app.state.runners["picky"] = ProjectionRunner(
        app.state.db, picky, batch_size=10, poll_interval=0.05
    )
    yield app, picky


def _ready_within(client: TestClient, seconds: float, status: int) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


def test_readyz_is_503_naming_the_failed_projection_its_position_and_error(
    picky_app: tuple[FastAPI, RecordingProjection], operator_key: str,
) -> None:
    """The picky projection stops at event 3 while the order tabs go on, and after the fix
    and a resume the service is ready again."""
    app, picky = picky_app
    with TestClient(app, headers=bearer(operator_key)) as client:
        assert client.get("/readyz").status_code == 200
        for n in range(1, 6):
            client.post("/v1/orders", json=order_payload(f"LR-TUNIC-{n:03d}"))
        response = _ready_within(client, 20, 503)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["projection:picky"] == (
            "failed at position 3: ValueError: cannot read the event of Imported at 3"
        )
        assert body["checks"]["projection:order_tabs"] == "ok"
        assert body["checks"]["store"] == "ok"
        listing = client.get("/v1/orders", params={"min_position": 5}).json()
        assert listing["caught_up"] is True and len(listing["items"]) == 5

        picky.fail_at = None
        app.state.runners["picky"].resume()
        response = _ready_within(client, 20, 200)
        assert response.status_code == 200, response.text
        assert app.state.runners["picky"].wait_for(5, timeout=5)
