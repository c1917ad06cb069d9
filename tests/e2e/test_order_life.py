"""The life of orders through every status, between our service and the sandbox marketplace.

Each merchant action is recorded by our service, delivered by the action worker over HTTP,
and each marketplace change is brought back by the import worker.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from app.adapters.laredoute.client import MiraklClient
from app.ports.marketplace import UpstreamRefused
from app.domain.order import OrderStatus, RefundStatus
from app.logs import configure_logging
from tests.e2e.harness import LABRANDBOUTIQUE_KEY, LAREDOUTE_KEY, Harness


def _operations(market: Harness, marketplace_order_id: str) -> list[str]:
    return [call["operation"] for call in market.calls(marketplace_order_id)
            if call["operation"] != "OR11"]


def test_an_order_goes_from_new_to_paid_and_is_refunded_in_part_then_refused(market: Harness) -> None:
    (mid,) = market.generate(1, lines=2, delivery="home")
    run = market.import_round()
    assert (run.imported, run.errors) == (1, 0)
    order = market.order(mid)
    assert order.status == OrderStatus.CREATED
    assert [line.line_id for line in order.lines] == [
        line["order_line_id"] for line in market.raw(mid)["order_lines"]
    ]

    market.service.accept(order.id)
    market.deliver_until_settled()
    assert market.raw(mid)["order_state"] == "WAITING_DEBIT_PAYMENT"
    assert [(a.kind, a.state) for a in market.actions(mid)] == [("accept", "confirmed")]

    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.TOSHIP

    market.service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
    market.deliver_until_settled()
    raw = market.raw(mid)
    assert raw["order_state"] == "SHIPPED"
    assert raw["shipping_tracking"] == "6A12345678901"

    market.post(f"/orders/{mid}/receive")
    market.import_round()
    assert market.order(mid).status == OrderStatus.SHIPPED
    market.post(f"/orders/{mid}/close")
    market.import_round()
    assert market.order(mid).status == OrderStatus.PAID

    # A partial refund: the first line only, without the shipping.
    first = market.order(mid).lines[0]
    market.service.request_refund(order.id, reason="DAMAGED_PRODUCT", refund_shipping=False,
                                  lines=[(first.line_id, 1)])
    market.deliver_until_settled()
    assert market.order(mid).status == OrderStatus.TO_APPROVE
    (marketplace_refund,) = [r for line in market.raw(mid)["order_lines"]
                             for r in line["refunds"]]
    assert Decimal(str(marketplace_refund["amount"])) == first.unit_price
    assert marketplace_refund["shipping_amount"] == 0

    market.post(f"/refunds/{marketplace_refund['id']}", {"action": "advance"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.REFUNDING
    market.post(f"/refunds/{marketplace_refund['id']}", {"action": "advance"})
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_amount == first.unit_price

    # A second refund, with the shipping this time, that La Redoute refuses.
    market.service.request_refund(order.id, reason="DAMAGED_PRODUCT", refund_shipping=True)
    market.deliver_until_settled()
    refunds = [r for line in market.raw(mid)["order_lines"] for r in line["refunds"]]
    second = [r for r in refunds if r["id"] != marketplace_refund["id"]]
    assert sum(Decimal(str(r["shipping_amount"])) for r in second) == order.shipping_price
    for refund in second:
        market.post(f"/refunds/{refund['id']}", {"action": "refuse", "reason": "EXPIRED_CARD"})
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.REFUND_REFUSED
    assert order.refunds[-1].refusal_reason == "EXPIRED_CARD"
    assert order.refunded_amount == first.unit_price

    # Every action went out exactly once.
    assert _operations(market, mid) == ["OR21", "OR23", "OR24", "OR28", "OR28"]
    assert [a.state for a in market.actions(mid)] == ["confirmed"] * 4
    assert market.event_types(mid) == [
        "Imported", "Accepted", "PaymentValidated", "Shipped", "Paid",
        "RefundRequested", "RefundSubmitted", "RefundApproved", "RefundCompleted",
        "RefundRequested", "RefundSubmitted", "RefundRefused",
    ]


def test_a_partial_cancellation_then_the_rest_cancels_the_order(market: Harness) -> None:
    order = market.to_ship(lines=3)
    mid = order.marketplace_order_id

    first = order.lines[0]
    market.service.cancel(order.id, reason="OUT_OF_STOCK", lines=[(first.line_id, first.quantity)])
    market.deliver_until_settled()
    raw = market.raw(mid)
    assert raw["order_state"] == "SHIPPING"
    line = next(x for x in raw["order_lines"] if x["order_line_id"] == first.line_id)
    assert sum(c["quantity"] for c in line["cancelations"]) == first.quantity
    market.import_round()  # the marketplace shows what we sent: nothing new to apply
    assert market.order(mid).status == OrderStatus.TOSHIP
    assert market.event_types(mid).count("LinesCanceled") == 1

    market.service.cancel(order.id, reason="OUT_OF_STOCK")
    market.deliver_until_settled()
    assert market.raw(mid)["order_state"] == "CANCELED"
    market.import_round()
    assert market.order(mid).status == OrderStatus.OUT_OF_STOCK
    assert _operations(market, mid) == ["OR21", "OR30", "OR29"]


def test_a_refused_order_is_refused_on_the_marketplace(market: Harness) -> None:
    (mid,) = market.generate(1, lines=2)
    market.import_round()
    market.service.refuse(market.order(mid).id, reason="Adresse incomplète")
    market.deliver_until_settled()
    raw = market.raw(mid)
    assert raw["order_state"] == "REFUSED"
    assert {line["order_line_state"] for line in raw["order_lines"]} == {"REFUSED"}
    market.import_round()
    assert market.order(mid).status == OrderStatus.REFUSED


def test_an_order_not_accepted_in_72_hours_is_cancelled_by_the_marketplace(market: Harness) -> None:
    (mid,) = market.generate(1)
    market.import_round()
    market.post("/clock", {"advance_seconds": 73 * 3600})
    market.import_round()
    order = market.order(mid)
    assert order.status == OrderStatus.CANCELED
    assert market.event_types(mid) == ["Imported", "AcceptanceExpired"]
    assert market.actions(mid) == []


def test_a_refused_payment_cancels_the_accepted_order(market: Harness) -> None:
    (mid,) = market.generate(1)
    market.import_round()
    market.service.accept(market.order(mid).id)
    market.deliver_until_settled()
    market.post(f"/orders/{mid}/payment", {"outcome": "refuse"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.CANCELED
    assert market.event_types(mid) == ["Imported", "Accepted", "PaymentRefused"]


def test_an_order_moved_on_the_marketplace_is_caught_up_without_sending_anything_back(
    market: Harness,
) -> None:
    """Accepted, paid and shipped elsewhere before our first read: mirrored, nothing sent."""
    (mid,) = market.generate(1, lines=1)
    raw = market.raw(mid)
    headers = {"Authorization": "sandbox-laredoute-key"}
    base = market.url

    lines = [{"id": line["order_line_id"], "accepted": True} for line in raw["order_lines"]]
    httpx.put(f"{base}/api/orders/{mid}/accept", json={"order_lines": lines},
              headers=headers).raise_for_status()
    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    httpx.put(f"{base}/api/orders/{mid}/tracking",
              json={"carrier_code": "DPD", "tracking_number": "DPD123456"},
              headers=headers).raise_for_status()
    httpx.put(f"{base}/api/orders/{mid}/ship", headers=headers).raise_for_status()

    run = market.import_round()
    assert (run.imported, run.errors) == (1, 0)
    order = market.order(mid)
    assert order.status == OrderStatus.SHIPPED
    assert order.shipment is not None and order.shipment.tracking_number == "DPD123456"
    market.deliver_until_settled()
    assert market.actions(mid) == []
    assert market.event_types(mid) == ["Imported", "Accepted", "PaymentValidated", "Shipped"]


def test_both_channels_import_their_own_shop(market: Harness) -> None:
    lr = market.generate(2, shop_id=2001)
    lbb = market.generate(3, shop_id=2002)
    assert market.import_round("laredoute").imported == 2
    assert market.import_round("labrandboutique").imported == 3
    assert all(market.order(mid, "labrandboutique").channel == "labrandboutique" for mid in lbb)
    assert all(market.service.find_order("labrandboutique", mid) is None for mid in lr)


def test_refund_refusal_and_status_of_a_refund_in_flight(market: Harness) -> None:
    """A refund asked for on a shipped (not yet paid) order, refused by La Redoute."""
    order = market.to_ship(lines=1)
    mid = order.marketplace_order_id
    market.service.ship(order.id, tracking_number="XY123", carrier="Chronopost")
    market.deliver_until_settled()
    market.service.request_refund(order.id, reason="NOT_DELIVERED", refund_shipping=True)
    market.deliver_until_settled()
    assert market.order(mid).refunds[-1].status == RefundStatus.TO_APPROVE
    for line in market.raw(mid)["order_lines"]:
        for refund in line["refunds"]:
            market.post(f"/refunds/{refund['id']}", {"action": "refuse", "reason": "FRAUD"})
    market.import_round()
    assert market.order(mid).status == OrderStatus.REFUND_REFUSED


def test_a_refund_gone_from_the_marketplace_stays_open_and_is_reported(market: Harness) -> None:
    """The spec knows no refused refund: a refund of ours that a marketplace shows no more
    is not taken for refused (no reason to record); it stays TO_APPROVE and the import error
    names it until the order shows it again."""
    order = market.to_ship(lines=1)
    mid = order.marketplace_order_id
    market.service.ship(order.id, tracking_number="XY123", carrier="Chronopost")
    market.deliver_until_settled()
    market.service.request_refund(order.id, reason="NOT_DELIVERED", refund_shipping=False)
    market.deliver_until_settled()
    importer = market.sync.importers["laredoute"]
    raw = market.sync.clients["laredoute"].get_order(mid)
    assert raw is not None
    (refund_id,) = [r["id"] for line in raw["order_lines"] for r in line["refunds"]]
    without = {**raw, "order_lines": [{**line, "refunds": []} for line in raw["order_lines"]]}

    importer.sync_page([without])
    ours = market.order(mid).refunds[-1]
    assert ours.status == RefundStatus.TO_APPROVE
    (error,) = market.sync.store.errors(channel="laredoute")
    assert (error.marketplace_order_id, error.kind, error.field) == (
        mid, "unreconciled", "order_lines.refunds")
    assert ours.refund_id in error.reason and refund_id in error.reason

    importer.sync_page([raw])
    assert market.sync.store.errors(channel="laredoute") == []
    assert market.order(mid).refunds[-1].status == RefundStatus.TO_APPROVE


def test_the_shop_api_keys_never_reach_the_logs(market: Harness) -> None:
    """A whole round trip, a refused call and a wrong key: no log entry carries a key."""
    configure_logging("DEBUG", "json")  # every event, debug included, reaches the capture
    try:
        with capture_logs() as entries:
            (mid,) = market.generate(1)
            market.import_round()
            market.import_round("labrandboutique")
            market.service.accept(market.order(mid).id)
            market.post("/clock", {"advance_seconds": 73 * 3600})  # the accept is refused
            market.deliver_until_settled()
            with MiraklClient(market.url, SecretStr(LAREDOUTE_KEY + "-revoked"), 2001) as wrong:
                with pytest.raises(UpstreamRefused) as refused:
                    wrong.list_orders()
    finally:
        configure_logging("WARNING", "console")
    assert [a.state for a in market.actions(mid)] == ["failed"]
    assert refused.value.status == 401
    assert {"mirakl_call", "orders_import_round", "marketplace_action_refused"} <= {
        e["event"] for e in entries
    }
    text = repr(entries) + str(refused.value) + repr(refused.value)
    for key in (LAREDOUTE_KEY, LABRANDBOUTIQUE_KEY):
        assert key not in text


def test_a_refund_made_on_the_marketplace_is_reported_not_taken_for_ours(market: Harness) -> None:
    order = market.to_ship(lines=1)
    mid = order.marketplace_order_id
    market.service.ship(order.id, tracking_number="6A999", carrier="Colissimo")
    market.deliver_until_settled()
    line = market.raw(mid)["order_lines"][0]
    reasons = httpx.get(f"{market.url}/api/reasons",
                        headers={"Authorization": LAREDOUTE_KEY}).json()["reasons"]
    reason = next(r["code"] for r in reasons if r["type"] == "REFUND")
    httpx.put(f"{market.url}/api/orders/refund", headers={"Authorization": LAREDOUTE_KEY},
              json={"refunds": [{"order_line_id": line["order_line_id"], "amount": 1.00,
                                 "shipping_amount": 0, "quantity": 0, "reason_code": reason,
                                 # The line's taxes, in proportion: the marketplace wants them.
                                 "taxes": [{"code": t["code"],
                                            "amount": round(t["amount"] / line["price"], 2)}
                                           for t in line["taxes"]],
                                 "shipping_taxes": [{"code": t["code"], "amount": 0}
                                                    for t in line["shipping_taxes"]]}]},
              ).raise_for_status()
    run = market.import_round()
    assert run.errors == 1
    (error,) = market.sync.store.errors(channel="laredoute")
    assert (error.marketplace_order_id, error.kind, error.field) == (
        mid, "unreconciled", "order_lines.refunds")
    assert "were made on the marketplace" in error.reason
    assert market.order(mid).refunds == []


def test_the_sync_jobs_record_themselves_as_the_actor_of_their_events(market: Harness) -> None:
    """Rounds run by the scheduler act as sync:<job> (role worker), one correlation id a round."""
    (mid,) = market.generate(1)
    assert market.sync.scheduler.run_once("import:laredoute")
    order = market.order(mid)
    market.service.accept(order.id)  # no actor: neither a request nor a job
    market.outbox.catch_up()
    assert market.sync.scheduler.run_once("deliver")
    market.post(f"/orders/{mid}/payment", {"outcome": "validate"})
    assert market.sync.scheduler.run_once("import:laredoute")
    history = market.service.history(order.id)
    assert [(e.type, e.actor) for e in history] == [
        ("Imported", {"name": "sync:import:laredoute", "role": "worker"}),
        ("Accepted", None),
        ("PaymentValidated", {"name": "sync:import:laredoute", "role": "worker"}),
        # Accepted, the customer's address is shown; waiting for shipment, the order can be
        # cancelled (OR11 can_cancel).
        ("CustomerDetailsReceived", {"name": "sync:import:laredoute", "role": "worker"}),
        ("MarketplaceFlagsChanged", {"name": "sync:import:laredoute", "role": "worker"}),
    ]
    first, _, third, *rest = (e.correlation_id for e in history)
    assert first and third and first != third
    assert rest == [third, third]
    assert first.startswith("import:laredoute:")


def test_auto_accept_refuses_the_lines_whose_offer_has_no_stock(
    market: Harness, synced_settings,
) -> None:
    from app.bootstrap import offer_service
    from app.projections.offers import OffersProjection
    from app.projections.runner import ProjectionRunner
    from tests.e2e.harness import Harness as _Harness

    auto = _Harness(synced_settings.model_copy(update={"laredoute_auto_accept": True}), market.url)
    try:
        (partly,) = auto.generate(1, lines=2)
        (empty,) = auto.generate(1, lines=1)
        lines = auto.raw(partly)["order_lines"]
        out, kept = lines[0]["offer_sku"], lines[1]["offer_sku"]
        assert out != kept
        gone = auto.raw(empty)["order_lines"][0]["offer_sku"]
        catalog = offer_service(auto.service.store, auto.db)
        for sku, quantity in ((out, 0), (kept, 4), (gone, 0)):
            catalog.put("laredoute", sku, {"ean": "4006381333931", "price": "10.00",
                                           "quantity": quantity, "delivery_fee": "4.90"})
        ProjectionRunner(auto.db, OffersProjection(auto.db.dialect)).catch_up()
        auto.import_round()
        auto.deliver_until_settled()

        order = auto.order(partly)
        assert order.status == "ACCEPTED"
        assert order.refused_lines == [lines[0]["order_line_id"]]
        states = {line["order_line_id"]: line["order_line_state"]
                  for line in auto.raw(partly)["order_lines"]}
        assert states == {lines[0]["order_line_id"]: "REFUSED",
                          lines[1]["order_line_id"]: "WAITING_DEBIT_PAYMENT"}
        assert auto.order(empty).status == "REFUSED"
        # OR21 carries no reason: ours records the sandbox's own out-of-stock reason code.
        assert auto.order(empty).refusal_reason == "OUT_OF_STOCK"
        assert auto.raw(empty)["order_state"] == "REFUSED"
    finally:
        auto.close()
