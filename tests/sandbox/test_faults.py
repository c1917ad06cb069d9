"""Injected faults do to the client what a real network and marketplace do."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import Sandbox, assert_mirakl_error


def test_rate_limit_answers_429_with_retry_after_then_clears(sandbox: Sandbox) -> None:
    sandbox.fault("rate_limit", retry_after=3, times=2)
    for _ in range(2):
        response = sandbox.lr.get("/api/orders")
        assert_mirakl_error(response, 429)
        assert response.headers["Retry-After"] == "3"
    assert sandbox.lr.get("/api/orders").status_code == 200
    assert sandbox.control.get("/faults").json() == {"faults": []}


@pytest.mark.parametrize("kind,status", [("error_500", 500), ("error_503", 503)])
def test_server_errors_leave_the_state_unchanged(sandbox: Sandbox, kind: str, status: int
                                                 ) -> None:
    order_id = sandbox.order()
    sandbox.fault(kind, method="PUT", path_contains="/accept")
    assert_mirakl_error(sandbox.accept(order_id), status)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_ACCEPTANCE"
    assert sandbox.accept(order_id).status_code == 204
    assert sandbox.raw(order_id)["order_state"] == "WAITING_DEBIT_PAYMENT"


def test_faults_hit_only_matching_requests(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.fault("error_503", method="PUT")
    sandbox.fault("error_500", path_contains="/shipping/carriers")
    assert sandbox.lr.get("/api/orders").status_code == 200  # GET: the PUT fault waits
    assert sandbox.lr.get("/api/reasons").status_code == 200
    assert sandbox.lr.get("/api/shipping/carriers").status_code == 500
    assert sandbox.control.get("/clock").status_code == 200  # never the control API
    assert sandbox.accept(order_id).status_code == 503
    assert sandbox.control.get("/faults").json()["faults"] == []


def test_slow_applies_the_change_and_answers_too_late(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    lines = sandbox.raw(order_id)["order_lines"]
    sandbox.fault("slow", delay=0.6, method="PUT")
    with pytest.raises(httpx.ReadTimeout):
        sandbox.lr.put(f"/api/orders/{order_id}/accept", timeout=0.2, json={
            "order_lines": [{"id": ln["order_line_id"], "accepted": True} for ln in lines]})
    assert sandbox.raw(order_id)["order_state"] == "WAITING_DEBIT_PAYMENT"


def test_slow_with_a_patient_client_gets_the_answer(sandbox: Sandbox) -> None:
    sandbox.fault("slow", delay=0.2)
    response = sandbox.lr.get("/api/reasons")
    assert response.status_code == 200 and response.json()["reasons"]
    assert response.elapsed.total_seconds() >= 0.2


def test_drop_closes_the_connection_without_applying(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.fault("drop", method="PUT")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        sandbox.accept(order_id)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_ACCEPTANCE"
    [call] = sandbox.calls(order_id=order_id, operation="OR21")
    assert call["status"] is None and call["fault"] == "drop"
    assert sandbox.accept(order_id).status_code == 204  # the next call goes through


def test_drop_after_apply_loses_the_answer_to_an_applied_change(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.to_shipping(order_id)
    sandbox.fault("drop_after_apply", path_contains="/ship")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        sandbox.lr.put(f"/api/orders/{order_id}/ship")
    assert sandbox.raw(order_id)["order_state"] == "SHIPPED"
    [call] = sandbox.calls(order_id=order_id, operation="OR24")
    assert call["fault"] == "drop_after_apply" and call["status"] == 204
    # A retry now meets the applied state.
    assert_mirakl_error(sandbox.lr.put(f"/api/orders/{order_id}/ship"), 400,
                        "ORDER_INVALID_STATE")


def test_duplicate_pages_start_a_later_page_one_order_early(sandbox: Sandbox) -> None:
    ids = sorted(sandbox.orders(4))
    sandbox.fault("duplicate_pages")
    first = sandbox.lr.get("/api/orders", params={"max": 2}).json()
    assert [o["order_id"] for o in first["orders"]] == ids[:2]  # the first page is untouched
    second = sandbox.lr.get("/api/orders", params={"max": 2, "offset": 2}).json()
    assert [o["order_id"] for o in second["orders"]] == ids[1:3]
    assert second["total_count"] == 4
    again = sandbox.lr.get("/api/orders", params={"max": 2, "offset": 2}).json()
    assert [o["order_id"] for o in again["orders"]] == ids[2:4]


def test_faults_are_listed_and_disarmed(sandbox: Sandbox) -> None:
    armed = sandbox.fault("rate_limit", times=5, method="GET", retry_after=2)
    assert armed["kind"] == "rate_limit" and armed["times"] == 5
    assert sandbox.lr.get("/api/orders").status_code == 429
    [listed] = sandbox.control.get("/faults").json()["faults"]
    assert listed["id"] == armed["id"] and listed["times"] == 4
    assert sandbox.control.delete("/faults").json() == {"faults": []}
    assert sandbox.lr.get("/api/orders").status_code == 200
    assert sandbox.control.post("/faults", json={"kind": "meteor"}).status_code == 400
