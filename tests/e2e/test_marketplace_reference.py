"""Reasons and carriers are the sandbox marketplace's: what the API takes, what is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import Settings
from app.domain.order import Order, OrderStatus
from tests.e2e.harness import Harness
from tests.support import bearer, make_api_key


@pytest.fixture
def api(synced_settings: Settings) -> Iterator[TestClient]:
    """Our API on the store the harness uses, its channels pointing at the sandbox."""
    app = create_app(synced_settings)
    key = make_api_key(synced_settings, "operator", "reference-operator")
    with TestClient(app, raise_server_exceptions=False, headers=bearer(key)) as client:
        yield client


def _command(api: TestClient, order: Order, route: str, body: dict[str, Any] | None = None):
    return api.post(f"/v1/orders/{order.id}/{route}", headers={"If-Match": f'"{order.version}"'},
                    json=body)


def _shipped(market: Harness) -> tuple[str, Order]:
    order = market.to_ship(lines=2, delivery="home")
    mid = order.marketplace_order_id
    market.service.ship(order.id, tracking_number="6A12345678901", carrier="Colissimo")
    market.deliver_until_settled()
    market.post(f"/orders/{mid}/receive")
    market.import_round()
    shipped = market.order(mid)
    assert shipped.status == OrderStatus.SHIPPED
    return mid, shipped


def test_the_api_lists_the_sandboxs_reasons_and_carriers(market: Harness, api: TestClient) -> None:
    reasons = api.get("/v1/channels/laredoute/reasons", params={"type": "REFUND"}).json()
    assert reasons["configured"] is True
    codes = [r["code"] for r in reasons["items"]]
    assert "DAMAGED_PRODUCT" in codes and "OUT_OF_STOCK" not in codes
    carriers = api.get("/v1/channels/laredoute/carriers").json()["items"]
    assert {"COLISSIMO", "CHRONOPOST"} <= {c["code"] for c in carriers}


def test_a_refund_reason_not_of_the_marketplace_is_refused_and_a_valid_one_is_sent_by_code(
    market: Harness, api: TestClient
) -> None:
    mid, order = _shipped(market)
    line = order.lines[0]
    body = {"refund_shipping": False, "lines": [{"line_id": line.line_id, "quantity": 1}]}

    refused = _command(api, order, "refunds", {**body, "reason": "Article défectueux"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["field"], problem["rule"]) == ("reason", "marketplace_reason")
    assert "DAMAGED_PRODUCT" in problem["valid_codes"]
    assert "OUT_OF_STOCK" not in problem["valid_codes"]
    assert market.order(mid).version == order.version

    # By its label, as the marketplace shows it: the code is kept and sent.
    done = _command(api, order, "refunds", {**body, "reason": "Produit endommagé à la livraison"})
    assert done.status_code == 200, done.text
    assert done.json()["refunds"][-1]["reason"] == "DAMAGED_PRODUCT"
    market.deliver_until_settled()
    assert [(a.kind, a.state) for a in market.actions(mid)][-1] == ("refund", "confirmed")
    (refund,) = [r for ln in market.raw(mid)["order_lines"] for r in ln["refunds"]]
    assert refund["reason_code"] == "DAMAGED_PRODUCT"


def test_the_api_accepts_some_lines_and_refuses_the_others_on_the_marketplace(
    market: Harness, api: TestClient
) -> None:
    (mid,) = market.generate(1, lines=2, delivery="home")
    market.import_round()
    order = market.order(mid)
    refused_line, kept_line = order.lines[1].line_id, order.lines[0].line_id
    done = _command(api, order, "accept", {"refused_lines": [refused_line]})
    assert done.status_code == 200, done.text
    market.deliver_until_settled()
    assert [(a.kind, a.state) for a in market.actions(mid)] == [("accept", "confirmed")]
    states = {ln["order_line_id"]: ln["order_line_state"]
              for ln in market.raw(mid)["order_lines"]}
    assert states[refused_line] == "REFUSED"
    assert states[kept_line] != "REFUSED"


def test_a_refund_whose_reason_the_marketplace_does_not_list_fails_and_is_not_sent(
    market: Harness,
) -> None:
    """Recorded without the API's check (the service itself): the delivery does not fall
    back to another reason, it fails the action naming the valid codes."""
    mid, order = _shipped(market)
    market.service.request_refund(order.id, reason="Défaut", refund_shipping=False,
                                  lines=[(order.lines[0].line_id, 1)])
    market.deliver_until_settled()
    refund = [a for a in market.actions(mid) if a.kind == "refund"][-1]
    assert refund.state == "failed"
    assert refund.last_error is not None
    assert "'Défaut'" in refund.last_error and "DAMAGED_PRODUCT" in refund.last_error
    assert market.calls(mid, operation="OR28") == []
