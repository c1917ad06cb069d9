"""How the marketplace moves orders on its own, on the sandbox clock."""

from __future__ import annotations

import time
from datetime import datetime

from sandbox.config import SandboxConfig
from tests.sandbox.conftest import Sandbox, assert_mirakl_error, manual_timings, start_sandbox


def test_payment_is_validated_after_the_payment_delay(sandbox: Sandbox) -> None:
    sandbox.settings(payment_delay=60)
    order_id = sandbox.order(lines=2)
    sandbox.accept(order_id)
    sandbox.advance(59)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_DEBIT_PAYMENT"
    sandbox.advance(2)
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "SHIPPING"
    assert raw["customer_debited_date"]
    assert {ln["order_line_state"] for ln in raw["order_lines"]} == {"SHIPPING"}
    assert raw["can_cancel"] is True


def test_payment_refused_at_the_refusal_rate_cancels_the_order(sandbox: Sandbox) -> None:
    sandbox.settings(payment_delay=10, payment_refusal_rate=1.0)
    order_id = sandbox.order()
    sandbox.accept(order_id)
    sandbox.advance(11)
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "CANCELED"
    assert raw["order_state_reason_code"] == "PAYMENT_REFUSED"
    assert raw["order_state_reason_label"] == "Paiement refusé"


def test_payment_by_hand(sandbox: Sandbox) -> None:
    ok, ko = sandbox.orders(2)
    assert_mirakl_error(sandbox.control.post(f"/orders/{ok}/payment", json={"outcome": "validate"}),
                        400, "ORDER_INVALID_STATE")
    for order_id in (ok, ko):
        sandbox.accept(order_id)
    assert sandbox.post(f"/orders/{ok}/payment", {"outcome": "validate"})["order_state"] == (
        "SHIPPING")
    refused = sandbox.post(f"/orders/{ko}/payment", {"outcome": "refuse"})
    assert refused["order_state"] == "CANCELED"
    assert refused["order_state_reason_code"] == "PAYMENT_REFUSED"
    assert sandbox.control.post(f"/orders/{ok}/payment", json={"outcome": "maybe"}
                                ).status_code == 400


def test_an_order_not_accepted_within_72_hours_is_cancelled(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.advance(72 * 3600 - 1)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_ACCEPTANCE"
    sandbox.advance(2)
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "CANCELED"
    assert raw["order_state_reason_code"] == "ACCEPTANCE_DEADLINE_EXCEEDED"
    assert {ln["order_line_state"] for ln in raw["order_lines"]} == {"CANCELED"}
    assert_mirakl_error(sandbox.accept(order_id), 400, "ORDER_INVALID_STATE")


def test_shipped_orders_are_received_then_closed_after_their_delays(sandbox: Sandbox) -> None:
    sandbox.settings(receive_delay=3600, close_delay=86400)
    order_id = sandbox.order()
    sandbox.shipped(order_id)
    sandbox.advance(3601)
    raw = sandbox.raw(order_id)
    assert raw["order_state"] == "RECEIVED"
    assert all(ln["received_date"] for ln in raw["order_lines"])
    # One long jump runs both steps, each at its due time.
    other = sandbox.order()
    sandbox.shipped(other)
    sandbox.advance(3600 + 86400 + 1)
    assert sandbox.raw(other)["order_state"] == "CLOSED"
    assert {ln["order_line_state"] for ln in sandbox.raw(other)["order_lines"]} == {"CLOSED"}


def test_receive_and_close_by_hand(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    assert_mirakl_error(sandbox.control.post(f"/orders/{order_id}/receive"), 400,
                        "ORDER_INVALID_STATE")
    assert_mirakl_error(sandbox.control.post(f"/orders/{order_id}/close"), 400,
                        "ORDER_INVALID_STATE")
    sandbox.shipped(order_id)
    assert sandbox.post(f"/orders/{order_id}/receive")["order_state"] == "RECEIVED"
    assert sandbox.post(f"/orders/{order_id}/close")["order_state"] == "CLOSED"


def test_null_delays_wait_for_the_control_api(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    sandbox.accept(order_id)
    sandbox.advance(30 * 86400)
    assert sandbox.raw(order_id)["order_state"] == "WAITING_DEBIT_PAYMENT"


def test_every_change_moves_last_updated_date_to_the_sandbox_now(sandbox: Sandbox) -> None:
    order_id = sandbox.order()
    created = sandbox.raw(order_id)["last_updated_date"]
    sandbox.advance(3600)
    sandbox.accept(order_id)
    raw = sandbox.raw(order_id)
    now = sandbox.control.get("/clock").json()["now"]
    assert raw["last_updated_date"] > created
    assert raw["last_updated_date"] <= now
    assert all(ln["last_updated_date"] == raw["last_updated_date"] for ln in raw["order_lines"])


def test_the_clock_only_moves_forward(sandbox: Sandbox) -> None:
    before = datetime.fromisoformat(sandbox.control.get("/clock").json()["now"])
    after = datetime.fromisoformat(sandbox.post("/clock", {"advance_seconds": 7200})["now"])
    assert 7200 <= (after - before).total_seconds() < 7260
    assert sandbox.control.post("/clock", json={"advance_seconds": -1}).status_code == 400


def test_settings_are_read_and_changed_field_by_field(sandbox: Sandbox) -> None:
    assert sandbox.control.get("/settings").json()["payment_delay"] is None
    changed = sandbox.settings(payment_delay=5, payment_refusal_rate=0.25)
    assert changed["payment_delay"] == 5 and changed["payment_refusal_rate"] == 0.25
    assert changed["receive_delay"] is None
    assert sandbox.settings(payment_delay=None)["payment_delay"] is None
    assert sandbox.control.put("/settings", json={"payment_refusal_rate": 2}).status_code == 400
    assert sandbox.control.put("/settings", json={"demo_orders_per_minute": None}
                               ).status_code == 400
    assert sandbox.control.put("/settings", json={"colour": "blue"}).status_code == 400


def test_the_background_ticker_moves_orders_without_any_request() -> None:
    """A transition happens at its due time, not at the next read."""
    config = SandboxConfig(seed=1, timings=manual_timings(payment_delay=0.1), tick_interval=0.02)
    for sandbox in start_sandbox(config):
        order_id = sandbox.order()
        sandbox.accept(order_id)
        time.sleep(0.5)
        raw = sandbox.raw(order_id)
        read_at = datetime.fromisoformat(sandbox.control.get("/clock").json()["now"])
        assert raw["order_state"] == "SHIPPING"
        changed_at = datetime.fromisoformat(raw["last_updated_date"])
        assert (read_at - changed_at).total_seconds() > 0.2
