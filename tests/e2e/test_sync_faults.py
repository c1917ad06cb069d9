"""Every fault the sandbox can inject, and the sync coming through it with nothing lost or doubled.

Each test checks our side (order states, events, action states) and the marketplace's side
(the sandbox's call log and its raw order): an action is applied once on the marketplace
whatever happened to the calls that carried it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import Settings
from app.domain.order import OrderStatus, RefundStatus
from tests.e2e.harness import Harness, eventually, with_channels
from tests.support import LiveServer, assert_problem, bearer, make_api_key

TIMEOUT = 2.0  # the harness's marketplace_timeout


def _faults(market: Harness, operation: str, mid: str | None = None) -> list[tuple[Any, Any]]:
    """(fault, status) of each call of `operation`, oldest first."""
    return [(c["fault"], c["status"]) for c in market.calls(mid, operation)]


def _ops(market: Harness, mid: str) -> list[str]:
    return [c["operation"] for c in market.calls(mid)]


@pytest.fixture
def api(market: Harness) -> Iterator[TestClient]:
    """Our HTTP API over the same store (its sync is off: the tests drive the rounds)."""
    headers = bearer(make_api_key(market.settings))
    with TestClient(create_app(market.settings), raise_server_exceptions=False,
                    headers=headers) as client:
        yield client


def _imported(market: Harness, count: int = 1, **options: Any) -> list[str]:
    mids = market.generate(count, **options)
    run = market.import_round()
    assert (run.imported, run.errors) == (count, 0)
    return mids


def _to_ship(market: Harness, mid: str) -> None:
    """Accepted, delivered and paid: TOSHIP on our side, SHIPPING on the marketplace."""
    market.service.accept(market.order(mid).id)
    market.deliver_until_settled()
    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.TOSHIP


# ==================================================================== import


@pytest.mark.parametrize(
    ("kind", "options", "status"),
    [
        ("rate_limit", {"times": 1, "retry_after": 1}, 429),
        ("error_500", {"times": 2}, 500),
        ("error_503", {"times": 2}, 503),
        ("slow", {"times": 1, "delay": TIMEOUT + 0.5}, 200),
        ("drop", {"times": 2}, None),
    ],
)
def test_an_import_round_comes_through_a_failing_order_list(
    market: Harness, kind: str, options: dict[str, Any], status: int | None
) -> None:
    mids = market.generate(4, lines=2)
    market.fault(kind, method="GET", path_contains="/api/orders", **options)

    started = time.monotonic()
    run = market.import_round()
    elapsed = time.monotonic() - started

    assert (run.imported, run.errors, run.pages) == (4, 0, 1)
    assert sorted(run.imported_ids) == sorted(mids)
    for mid in mids:
        assert market.event_types(mid) == ["Imported"]
        assert market.order(mid).status == OrderStatus.CREATED
    # The faulty answers, then one good one, and nothing else.
    times = options["times"]
    if kind == "slow":
        # The held answer is logged when the sandbox finally sends it, after our timeout.
        eventually(lambda: len(market.calls(operation="OR11")) == times + 1, timeout=5)
    calls = _faults(market, "OR11")
    expected = [(kind, status)] * times + [(None, 200)]
    if kind == "slow":
        # Logged when answered: the late answer comes after the retry's.
        expected.reverse()
    assert calls == expected
    if kind == "rate_limit":
        assert elapsed >= options["retry_after"]  # the jittered backoff alone stays under 0.5 s
    if kind == "slow":
        assert elapsed >= TIMEOUT

    # A second round finds nothing new and imports nothing twice.
    again = market.import_round()
    assert (again.imported, again.updated, again.errors) == (0, 0, 0)
    assert all(market.event_types(mid) == ["Imported"] for mid in mids)
    (cursor,) = [c for c in market.sync.store.cursors() if c["channel"] == "laredoute"]
    assert cursor["last_error"] is None and cursor["last_update_date"] is not None


def test_overlapping_pages_import_each_order_once(settings: Settings, sandbox: LiveServer) -> None:
    market = Harness(with_channels(settings, sandbox.url, import_page_size=10), sandbox.url)
    try:
        mids = market.generate(25, lines=1)
        # Pages after the first start one order early: the order before them is read twice.
        market.fault("duplicate_pages", times=2)
        run = market.import_round()
        assert (run.pages, run.fetched, run.unchanged) == (3, 26, 1)
        assert (run.imported, run.errors) == (25, 0)
        assert sorted(run.imported_ids) == sorted(mids)
        assert all(market.event_types(mid) == ["Imported"] for mid in mids)
        assert [c["fault"] for c in market.calls(operation="OR11")] == [
            None, "duplicate_pages", "duplicate_pages"
        ]
        assert market.sync.store.errors(include_resolved=True, limit=10) == []
        assert market.import_round().imported == 0
    finally:
        market.close()


# ==================================================================== actions


def test_an_accept_answered_500_is_read_back_then_sent_again_once(market: Harness) -> None:
    (mid,) = _imported(market)
    market.service.accept(market.order(mid).id)
    market.fault("error_500", method="PUT", path_contains=f"/{mid}/accept")

    first = market.deliver()
    assert (first.sent, first.retried, first.confirmed) == (1, 1, 0)
    (action,) = market.actions(mid)
    assert action.state == "sent"  # a 500 may come after the change: outcome unknown
    assert "500" in (action.last_error or "")
    assert market.raw(mid)["order_state"] == "WAITING_ACCEPTANCE"

    second = market.deliver()
    assert (second.sent, second.confirmed) == (1, 1)
    assert [a.state for a in market.actions(mid)] == ["confirmed"]
    # Read back (not applied), then sent again.
    assert _ops(market, mid) == ["OR21", "OR11", "OR21"]
    assert _faults(market, "OR21", mid) == [("error_500", 500), (None, 204)]
    assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"
    market.import_round()
    assert market.event_types(mid) == ["Imported", "Accepted"]


def test_an_accept_answered_503_was_not_applied_and_is_sent_again(market: Harness) -> None:
    (mid,) = _imported(market)
    market.service.accept(market.order(mid).id)
    market.fault("error_503", method="PUT", path_contains=f"/{mid}/accept")

    first = market.deliver()
    assert (first.sent, first.retried) == (1, 1)
    (action,) = market.actions(mid)
    assert action.state == "pending"  # 503 turns the request away: nothing was applied
    assert action.attempts == 1

    market.deliver_until_settled()
    (action,) = market.actions(mid)
    assert (action.state, action.attempts) == ("confirmed", 2)
    assert _ops(market, mid) == ["OR21", "OR21"]  # no read-back needed
    assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"


def test_a_rate_limited_tracking_update_waits_for_retry_after(market: Harness) -> None:
    (mid,) = _imported(market)
    _to_ship(market, mid)
    market.service.ship(market.order(mid).id, tracking_number="6A99887766", carrier="Colissimo")
    market.fault("rate_limit", method="PUT", path_contains=f"/{mid}/tracking", retry_after=1)

    started = time.time()
    first = market.deliver()
    assert first.retried == 1
    ship = market.actions(mid)[-1]
    assert (ship.kind, ship.state) == ("ship", "pending")
    assert ship.next_attempt_at >= started + 1  # Retry-After, not our (zero) backoff

    assert market.deliver().sent == 0  # not due yet
    market.deliver_until_settled()
    assert market.actions(mid)[-1].state == "confirmed"
    ops = [op for op in _ops(market, mid) if op != "OR11"]
    assert ops == ["OR21", "OR23", "OR23", "OR24"]
    assert _faults(market, "OR23", mid)[0] == ("rate_limit", 429)
    raw = market.raw(mid)
    assert (raw["order_state"], raw["shipping_tracking"]) == ("SHIPPED", "6A99887766")


def test_an_accept_whose_answer_comes_too_late_is_confirmed_without_resending(
    market: Harness,
) -> None:
    (mid,) = _imported(market)
    market.service.accept(market.order(mid).id)
    market.fault("slow", method="PUT", path_contains=f"/{mid}/accept", delay=TIMEOUT + 0.5)

    first = market.deliver()
    assert (first.sent, first.retried, first.confirmed) == (1, 1, 0)
    assert market.actions(mid)[0].state == "sent"
    # The marketplace applied it; only the answer is late.
    assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"

    second = market.deliver()
    assert (second.sent, second.confirmed) == (0, 1)
    assert market.actions(mid)[0].state == "confirmed"
    eventually(lambda: market.calls(mid, "OR21"), timeout=5)
    assert _faults(market, "OR21", mid) == [("slow", 204)]
    assert _ops(market, mid).count("OR21") == 1
    market.import_round()
    assert market.event_types(mid) == ["Imported", "Accepted"]


def test_a_shipment_confirmed_then_dropped_is_not_sent_twice(market: Harness) -> None:
    (mid,) = _imported(market)
    _to_ship(market, mid)
    market.service.ship(market.order(mid).id, tracking_number="XY0001", carrier="Chronopost")
    market.fault("drop_after_apply", method="PUT", path_contains=f"/{mid}/ship")

    first = market.deliver()
    assert (first.sent, first.retried) == (1, 1)
    assert market.actions(mid)[-1].state == "sent"
    assert market.raw(mid)["order_state"] == "SHIPPED"

    market.deliver_until_settled()
    assert [a.state for a in market.actions(mid)] == ["confirmed", "confirmed"]
    ops = [op for op in _ops(market, mid) if op != "OR11"]
    assert ops == ["OR21", "OR23", "OR24"]
    assert _faults(market, "OR24", mid) == [("drop_after_apply", 204)]
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.SHIPPED
    assert market.event_types(mid).count("Shipped") == 1


def test_a_refund_confirmed_then_dropped_is_linked_and_followed(market: Harness) -> None:
    (mid,) = _imported(market, lines=2)
    _to_ship(market, mid)
    order = market.order(mid)
    market.service.ship(order.id, tracking_number="XY0002", carrier="Chronopost")
    market.deliver_until_settled()
    market.post(f"/orders/{mid}/close")
    market.import_round()
    assert market.order(mid).status == OrderStatus.PAID

    first_line = order.lines[0]
    market.service.request_refund(order.id, reason="DAMAGED_PRODUCT", refund_shipping=False,
                                  lines=[(first_line.line_id, 1)])
    market.fault("drop_after_apply", method="PUT", path_contains="/api/orders/refund")
    round_ = market.deliver()
    assert round_.retried == 1
    assert market.actions(mid)[-1].state == "sent"

    market.deliver_until_settled()
    refund_action = market.actions(mid)[-1]
    assert (refund_action.kind, refund_action.state) == ("refund", "confirmed")
    (marketplace_refund,) = [r for line in market.raw(mid)["order_lines"] for r in line["refunds"]]
    assert refund_action.result is not None
    assert refund_action.result["marketplace_refund_ids"] == [marketplace_refund["id"]]
    assert _faults(market, "OR28") == [("drop_after_apply", 200)]
    assert market.order(mid).refunds[-1].status == RefundStatus.TO_APPROVE

    market.post(f"/refunds/{marketplace_refund['id']}", {"action": "advance"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.REFUNDING
    assert market.event_types(mid)[-3:] == ["RefundRequested", "RefundSubmitted", "RefundApproved"]
    assert len(market.calls(operation="OR28")) == 1


def test_a_cancel_whose_connection_dropped_before_it_arrived_is_sent_again(
    market: Harness,
) -> None:
    (mid,) = _imported(market, lines=2)
    _to_ship(market, mid)
    market.service.cancel(market.order(mid).id, reason="OUT_OF_STOCK")
    market.fault("drop", method="PUT", path_contains=f"/{mid}/cancel")

    first = market.deliver()
    assert (first.sent, first.retried) == (1, 1)
    assert market.actions(mid)[-1].state == "sent"  # a dropped connection: outcome unknown
    assert market.raw(mid)["order_state"] == "SHIPPING"

    market.deliver_until_settled()
    assert [a.state for a in market.actions(mid)] == ["confirmed", "confirmed"]
    assert _faults(market, "OR29", mid) == [("drop", None), (None, 204)]
    assert _ops(market, mid)[-3:] == ["OR29", "OR11", "OR29"]  # read back, then sent again
    assert market.raw(mid)["order_state"] == "CANCELED"
    market.import_round()
    assert market.order(mid).status == OrderStatus.OUT_OF_STOCK
    assert market.event_types(mid) == ["Imported", "Accepted", "PaymentValidated", "LinesCanceled"]


# ==================================================================== refused and expired actions


def test_a_refused_accept_fails_with_the_marketplace_reason_and_can_be_retried(
    market: Harness, api: TestClient
) -> None:
    late, on_time = _imported(market, 2)
    market.service.accept(market.order(on_time).id)
    market.deliver_until_settled()
    # 73 hours pass on the marketplace: the order not accepted in time is cancelled there.
    market.post("/clock", {"advance_seconds": 73 * 3600})
    assert market.raw(late)["order_state"] == "CANCELED"

    order = market.order(late)
    market.service.accept(order.id)  # our side does not know yet
    round_ = market.deliver()
    assert (round_.sent, round_.failed) == (1, 1)

    body = api.get(f"/v1/orders/{order.id}/actions").json()
    (action,) = body["actions"]
    assert action["kind"] == "accept"
    assert action["state"] == "failed"
    assert action["error_code"] == "ORDER_INVALID_STATE"
    assert "CANCELED" in action["error"] and late in action["error"]
    assert action["attempts"] == 1
    assert action["next_attempt_at"] is None

    # A failed action is not sent again on its own.
    assert market.deliver().sent == 0
    assert len(market.calls(late, "OR21")) == 1

    retried = api.post(f"/v1/orders/{order.id}/actions/{action['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    assert market.actions(late)[0].state == "pending"

    # Retrying what is not failed or expired, or what does not exist.
    confirmed = api.get(f"/v1/orders/{market.order(on_time).id}/actions").json()["actions"][0]
    assert confirmed["state"] == "confirmed"
    assert_problem(
        api.post(f"/v1/orders/{market.order(on_time).id}/actions/{confirmed['id']}/retry"),
        409, "/problems/invalid-status", field="state", rule="retryable_state",
    )
    assert_problem(api.post(f"/v1/orders/{order.id}/actions/999999/retry"), 404,
                   "/problems/not-found")
    assert_problem(api.post(f"/v1/orders/{order.id}/actions/{confirmed['id']}/retry"), 404,
                   "/problems/not-found")

    # Sent again, refused again: the marketplace still says no.
    market.deliver()
    assert market.actions(late)[0].state == "failed"
    assert len(market.calls(late, "OR21")) == 2

    # The import brings the marketplace's cancellation home.
    market.import_round()
    assert market.order(late).status == OrderStatus.CANCELED
    assert market.event_types(late) == ["Imported", "Accepted", "CanceledByMarketplace"]
    assert market.order(on_time).status == OrderStatus.ACCEPTED


def test_an_action_undeliverable_for_72_hours_expires_and_is_delivered_when_retried(
    market: Harness,
) -> None:
    (mid,) = _imported(market)
    order = market.order(mid)
    market.service.accept(order.id)
    market.fault("error_503", method="PUT", path_contains=f"/{mid}/accept", times=50)

    market.deliver()
    market.deliver()
    assert market.actions(mid)[0].state == "pending"
    assert market.raw(mid)["order_state"] == "WAITING_ACCEPTANCE"

    # Four days later, for the delivery and for the operator alike.
    later = 4 * 86400
    market.sync.delivery.clock = lambda: time.time() + later
    round_ = market.deliver()
    assert (round_.expired, round_.sent) == (1, 0)
    (action,) = market.actions(mid)
    assert action.state == "expired"
    attempts = len(market.calls(mid, "OR21"))
    assert attempts >= 2
    assert market.deliver().sent == 0
    assert len(market.calls(mid, "OR21")) == attempts

    operator_app = create_app(market.settings,
                              clock=lambda: datetime.now(UTC) + timedelta(seconds=later))
    with TestClient(operator_app, raise_server_exceptions=False,
                    headers=bearer(make_api_key(market.settings))) as api:
        shown = api.get(f"/v1/orders/{order.id}/actions").json()["actions"][0]
        assert (shown["state"], shown["next_attempt_at"]) == ("expired", None)
        assert "expiry" in shown["error"]

        # The marketplace is back; the operator sends it again.
        market.clear_faults()
        retried = api.post(f"/v1/orders/{order.id}/actions/{action.id}/retry")
        assert retried.status_code == 200, retried.text
        assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)

    # Its expiry delay starts again from the retry: it goes out, it is not expired again.
    round_ = market.deliver()
    assert (round_.expired, round_.confirmed) == (0, 1)
    assert market.actions(mid)[0].state == "confirmed"
    assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"
    assert [f for f, _ in _faults(market, "OR21", mid)] == ["error_503"] * attempts + [None]
    market.import_round()
    assert market.event_types(mid) == ["Imported", "Accepted"]


# ==================================================================== unreadable orders


def test_unreadable_orders_are_listed_once_each_and_resolved_when_fixed(
    market: Harness, api: TestClient
) -> None:
    good = market.generate(3)
    no_lines = market.generate(1, corrupt="no_lines")[0]
    bad_price = market.generate(1, corrupt="bad_price")[0]
    unknown = market.generate(1, corrupt="unknown_state")[0]

    run = market.import_round()
    assert (run.imported, run.errors) == (3, 3)
    assert all(market.event_types(mid) == ["Imported"] for mid in good)
    for mid in (no_lines, bad_price, unknown):
        assert market.service.find_order("laredoute", mid) is None

    listed = api.get("/v1/import-errors")
    assert listed.status_code == 200, listed.text
    items = {e["marketplace_order_id"]: e for e in listed.json()["items"]}
    assert set(items) == {no_lines, bad_price, unknown}
    assert items[no_lines]["kind"] == "unparsable"
    assert items[no_lines]["field"] and "line" in items[no_lines]["field"]
    assert items[bad_price]["kind"] == "unparsable"
    assert items[bad_price]["field"] and "price" in items[bad_price]["field"]
    assert items[unknown]["kind"] == "unknown_state"
    assert items[unknown]["field"] == "order_state"
    assert items[unknown]["marketplace_state"] == "WAITING_SCORING"
    assert "WAITING_SCORING" in items[unknown]["reason"]
    for item in items.values():
        assert item["reason"] and item["channel"] == "laredoute"
        assert (item["occurrences"], item["resolved_at"]) == (1, None)

    # A second round reads them again: the same rows, seen twice.
    again = market.import_round()
    assert (again.imported, again.errors) == (0, 3)
    listed = api.get("/v1/import-errors").json()["items"]
    assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in items.values())
    assert {e["occurrences"] for e in listed} == {2}
    by_kind = api.get("/v1/import-errors", params={"kind": "unknown_state"}).json()["items"]
    assert [e["marketplace_order_id"] for e in by_kind] == [unknown]

    # The marketplace puts the unknown-state order back in a state we know: it imports.
    market.post(f"/orders/{unknown}/state", {"state": "WAITING_ACCEPTANCE"})
    run = market.import_round()
    assert (run.imported, run.errors) == (1, 2)
    assert market.event_types(unknown) == ["Imported"]
    assert market.order(unknown).status == OrderStatus.CREATED
    open_ = {e["marketplace_order_id"] for e in api.get("/v1/import-errors").json()["items"]}
    assert open_ == {no_lines, bad_price}
    everything = api.get("/v1/import-errors", params={"include_resolved": "true"}).json()["items"]
    resolved = {e["marketplace_order_id"]: e for e in everything}
    assert set(resolved) == {no_lines, bad_price, unknown}
    assert resolved[unknown]["resolved_at"] is not None
    assert resolved[no_lines]["resolved_at"] is None
