"""The marketplace's reasons and carriers through the API, on each store: the listing routes,
reasons checked against the channel's list, and acceptance refusing some lines."""

from __future__ import annotations

from typing import Any

import pytest

from app.application.reference_data import ChannelReference
from tests.support import imported_order, order_to_ship, paid_order

REFUND_CODES = ["DAMAGED_PRODUCT", "GOODWILL"]
CANCELATION_CODES = ["OUT_OF_STOCK", "UNABLE_TO_SHIP"]


class FakeMarketplace:
    """What the reference lists need of a channel's marketplace (RE01, SH21)."""

    channel = "laredoute"

    def __init__(self) -> None:
        self.calls = 0

    def reasons(self) -> list[dict[str, Any]]:
        self.calls += 1
        return [
            {"code": "OUT_OF_STOCK", "label": "Produit en rupture de stock",
             "type": "CANCELATION", "is_shop_right": True},
            {"code": "UNABLE_TO_SHIP", "label": "Impossible d'expédier la commande",
             "type": "CANCELATION", "is_shop_right": True},
            {"code": "DAMAGED_PRODUCT", "label": "Produit endommagé à la livraison",
             "type": "REFUND", "is_shop_right": True},
            {"code": "GOODWILL", "label": "Geste commercial", "type": "REFUND",
             "is_shop_right": True},
            {"code": "1", "label": "Item not received", "type": "INCIDENT_OPEN",
             "is_shop_right": False},
        ]

    def carriers(self) -> list[dict[str, Any]]:
        return [
            {"code": "COLISSIMO", "label": "Colissimo",
             "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code={trackingId}"},
            {"code": "XPO", "label": "XPO Logistics",
             "tracking_url": "https://track.xpo.example/{trackingId}"},
        ]


@pytest.fixture
def market(app) -> FakeMarketplace:
    """La Redoute's channel has a marketplace; La Brand Boutique's has none."""
    fake = FakeMarketplace()
    app.state.reference = ChannelReference({"laredoute": fake})  # type: ignore[dict-item]
    return fake


def _command(client, order: dict[str, Any], route: str, body: dict[str, Any] | None = None):
    return client.post(f"/v1/orders/{order['id']}/{route}",
                       headers={"If-Match": f'"{order["version"]}"'}, json=body)


def _refused_for_reason(response, valid: list[str]) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/rule-violation"
    assert (problem["field"], problem["rule"]) == ("reason", "marketplace_reason")
    assert problem["valid_codes"] == valid
    assert all(code in problem["detail"] for code in valid)


# ---------------------------------------------------------------- the lists


def test_the_channels_reasons_are_listed_by_type(client, market: FakeMarketplace) -> None:
    response = client.get("/v1/channels/laredoute/reasons", params={"type": "REFUND"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channel"] == "laredoute" and body["configured"] is True
    assert body["fetched_at"] is not None
    assert [r["code"] for r in body["items"]] == REFUND_CODES
    assert body["items"][0] == {"code": "DAMAGED_PRODUCT", "label": "Produit endommagé à la "
                                "livraison", "type": "REFUND", "is_shop_right": True}
    every = client.get("/v1/channels/laredoute/reasons").json()["items"]
    assert len(every) == 5
    assert market.calls == 1  # kept, not read again
    client.get("/v1/channels/laredoute/reasons", params={"refresh": "true"})
    assert market.calls == 2


def test_the_channels_carriers_are_listed(client, market: FakeMarketplace) -> None:
    body = client.get("/v1/channels/laredoute/carriers").json()
    assert body["configured"] is True
    assert [c["code"] for c in body["items"]] == ["COLISSIMO", "XPO"]
    assert body["items"][1]["tracking_url"] == "https://track.xpo.example/{trackingId}"


def test_a_channel_without_marketplace_lists_nothing(client, market: FakeMarketplace) -> None:
    for route in ("reasons", "carriers"):
        body = client.get(f"/v1/channels/labrandboutique/{route}").json()
        assert body == {"channel": "labrandboutique", "configured": False, "fetched_at": None,
                        "items": []}
    unknown = client.get("/v1/channels/amazon/reasons")
    assert unknown.status_code == 422 and unknown.json()["field"] == "channel"
    bad_type = client.get("/v1/channels/laredoute/reasons", params={"type": "refund; drop"})
    assert bad_type.status_code == 422 and bad_type.json()["field"] == "type"


# ---------------------------------------------------------------- reasons of the commands


def test_a_refund_takes_one_of_the_marketplaces_refund_reasons(
    client, app, market: FakeMarketplace
) -> None:
    order = paid_order(client, app)
    refused = _command(client, order, "refunds", {"reason": "Défaut", "refund_shipping": False})
    _refused_for_reason(refused, REFUND_CODES)
    # A cancelation reason is not a refund reason.
    _refused_for_reason(_command(client, order, "refunds",
                                 {"reason": "OUT_OF_STOCK", "refund_shipping": False}),
                        REFUND_CODES)
    assert client.get(f"/v1/orders/{order['id']}").json()["version"] == order["version"]
    # By its label: the code is what is kept.
    done = _command(client, order, "refunds",
                    {"reason": "Geste commercial", "refund_shipping": False,
                     "lines": [{"line_id": "L1", "quantity": 1}]})
    assert done.status_code == 200, done.text
    assert done.json()["refunds"][-1]["reason"] == "GOODWILL"


def test_a_cancelation_takes_one_of_the_marketplaces_cancelation_reasons(
    client, app, market: FakeMarketplace
) -> None:
    order = order_to_ship(client, app)
    _refused_for_reason(_command(client, order, "cancel",
                                 {"reason": "Rupture", "lines": [{"line_id": "L2", "quantity": 1}]}),
                        CANCELATION_CODES)
    done = _command(client, order, "cancel",
                    {"reason": "OUT_OF_STOCK", "lines": [{"line_id": "L2", "quantity": 1}]})
    assert done.status_code == 200, done.text
    assert done.json()["cancel_reason"] in (None, "OUT_OF_STOCK")


def test_a_refusal_takes_one_of_the_marketplaces_cancelation_reasons(
    client, market: FakeMarketplace
) -> None:
    order = imported_order(client)
    _refused_for_reason(_command(client, order, "refuse", {"reason": "out of stock"}),
                        CANCELATION_CODES)
    _refused_for_reason(_command(client, order, "refuse", {"reason": "GOODWILL"}),
                        CANCELATION_CODES)
    done = _command(client, order, "refuse", {"reason": "unable_to_ship"})
    assert done.status_code == 200, done.text
    assert done.json()["refusal_reason"] == "UNABLE_TO_SHIP"


def test_without_marketplace_any_non_empty_reason_is_kept(client, market: FakeMarketplace) -> None:
    order = imported_order(client, "LBB-FREE-1", channel="labrandboutique")
    done = _command(client, order, "refuse", {"reason": "Adresse incomplète"})
    assert done.status_code == 200, done.text
    assert done.json()["refusal_reason"] == "Adresse incomplète"
    other = imported_order(client, "LBB-FREE-2", channel="labrandboutique")
    empty = _command(client, other, "refuse", {"reason": ""})
    assert empty.status_code == 422 and empty.json()["field"] == "reason"


def test_a_carrier_the_marketplace_lists_gets_its_tracking_url(
    client, app, market: FakeMarketplace
) -> None:
    order = order_to_ship(client, app)
    unknown = _command(client, order, "ship", {"tracking_number": "X1", "carrier": "Coursier"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "tracking_url"
    done = _command(client, order, "ship", {"tracking_number": "XP0001", "carrier": "XPO logistics"})
    assert done.status_code == 200, done.text
    assert done.json()["shipment"]["tracking_url"] == "https://track.xpo.example/XP0001"


# ---------------------------------------------------------------- refusing some lines


def test_accept_refuses_the_lines_named_and_accepts_the_others(client) -> None:
    order = imported_order(client)
    done = _command(client, order, "accept", {"refused_lines": ["L2"]})
    assert done.status_code == 200, done.text
    accepted = done.json()
    assert accepted["status"] == "ACCEPTED"
    lines = {line["line_id"]: line for line in accepted["lines"]}
    assert lines["L2"]["canceled_quantity"] == lines["L2"]["quantity"]
    assert lines["L1"]["canceled_quantity"] == 0
    events = client.get(f"/v1/orders/{order['id']}/events").json()["events"]
    assert events[-1]["type"] == "Accepted"
    assert events[-1]["data"]["refused_lines"] == ["L2"]


@pytest.mark.parametrize(("refused", "field", "rule"), [
    (["L1", "L2"], "refused_lines", "one_line_accepted"),
    (["L9"], "refused_lines", "unknown_line"),
    ([], "refused_lines", "too_short"),
])
def test_accept_refuses_to_refuse_every_line_or_an_unknown_one(
    client, refused: list[str], field: str, rule: str
) -> None:
    order = imported_order(client)
    response = _command(client, order, "accept", {"refused_lines": refused})
    assert response.status_code == 422, response.text
    assert (response.json()["field"], response.json()["rule"]) == (field, rule)
    assert client.get(f"/v1/orders/{order['id']}").json()["status"] == "CREATED"


def test_accept_without_a_body_or_with_an_empty_one_accepts_every_line(client) -> None:
    first = imported_order(client, "LR-ALL-1")
    assert _command(client, first, "accept").json()["status"] == "ACCEPTED"
    second = imported_order(client, "LR-ALL-2")
    done = _command(client, second, "accept", {})
    assert done.status_code == 200, done.text
    assert all(line["canceled_quantity"] == 0 for line in done.json()["lines"])
