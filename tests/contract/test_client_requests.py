"""Every request the Mirakl client sends is one the published seller API allows.

A mock marketplace checks each request against the spec, answers with a body the spec allows
for that operation (checked too), and the client must read that answer. The bodies are small
but complete: every required field, no nulls (the spec allows none), optional fields only
where our mapping reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.adapters.laredoute import MiraklClient, parse_order, view_order
from app.domain.order import Delivery, OrderStatus, RefundStatus
from app.ports.marketplace import CancelLine, RefundLine, UpstreamRefused
from tests.contract.spec import ContractError, validate_request, validate_response

API_KEY = "sandbox-laredoute-key"
ORDER_ID = "LR-20261126-A"
LINE_ID = f"{ORDER_ID}-1"
NOW = "2026-11-26T08:30:00Z"

Answer = Callable[[httpx.Request], tuple[int, dict[str, Any] | None]]


class SpecMarketplace:
    """Checks each request and its own answer against the spec; keeps both."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        validate_request(request)
        self.requests.append(request)
        status, body = self.answer(request)
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = httpx.Response(status, content=content, headers=headers, request=request)
        validate_response(response)
        return response


def client_for(answer: Answer, shop_id: int | None = 2001) -> tuple[MiraklClient, SpecMarketplace]:
    market = SpecMarketplace(answer)
    client = MiraklClient(
        "http://127.0.0.1:8900",
        API_KEY,
        shop_id,
        transport=httpx.MockTransport(market),
        sleep=lambda _: None,
    )
    return client, market


def always(status: int, body: dict[str, Any] | None = None) -> Answer:
    return lambda _request: (status, body)


# ---------------------------------------------------------------- spec-valid bodies


def address(**extra: str) -> dict[str, str]:
    return {
        "firstname": "Amélie",
        "lastname": "Durand",
        "street_1": "12 rue de la Gare",
        "zip_code": "59100",
        "city": "Roubaix",
        "country": "France",
        "country_iso_code": "FRA",
        **extra,
    }


def refund_body(refund_id: str, order_refund_id: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_refund_id": order_refund_id,
        "refund_state": state,
        "state": state,
        "amount": 29.99,
        "shipping_amount": 0.0,
        "quantity": 1,
        "reason_code": "15",
        "created_date": "2026-12-02T10:00:00Z",
        "commission_amount": 4.5,
        "commission_tax_amount": 0.9,
        "commission_taxes": [],
        "commission_total_amount": 5.4,
        **extra,
    }


def order_line(index: int, **extra: Any) -> dict[str, Any]:
    return {
        "order_line_id": f"{ORDER_ID}-{index}",
        "order_line_index": index,
        "order_line_state": "WAITING_ACCEPTANCE",
        "offer_id": 900 + index,
        "offer_sku": "TUNIC-LIN-38",
        "offer_state_code": "11",
        "product_sku": "PRD-TUNIC-LIN",
        "product_title": "Tunique en lin",
        "description": "Tunique en lin, taille 38",
        "category_code": "women-tunics",
        "category_label": "Tuniques",
        "product_medias": [],
        "order_line_additional_fields": [
            {"code": "ean", "type": "STRING", "value": "3600000000017"}
        ],
        "quantity": 2,
        "price_unit": 29.99,
        "price": 59.98,
        "shipping_price": 4.9,
        "total_price": 64.88,
        "commission_fee": 9.0,
        "commission_rate_vat": 20.0,
        "commission_vat": 1.8,
        "total_commission": 10.8,
        "can_refund": False,
        "cancelations": [],
        "refunds": [],
        "created_date": NOW,
        "last_updated_date": NOW,
        **extra,
    }


def mirakl_order(**extra: Any) -> dict[str, Any]:
    """A La Redoute order waiting for acceptance, home delivery, one line."""
    return {
        "order_id": ORDER_ID,
        "commercial_id": "LR-20261126",
        "channel": {"code": "LAREDOUTE", "label": "La Redoute"},
        "order_state": "WAITING_ACCEPTANCE",
        "created_date": NOW,
        "last_updated_date": NOW,
        "currency_iso_code": "EUR",
        "customer_notification_email": "amelie.durand@example.fr",
        "customer": {
            "customer_id": "C-4711",
            "civility": "Mme",
            "firstname": "Amélie",
            "lastname": "Durand",
            "locale": "fr_FR",
            "shipping_address": address(),
            "billing_address": address(),
        },
        "fulfillment": {"center": {"code": "DEFAULT"}},
        "can_cancel": False,
        "can_shop_ship": False,
        "fully_refunded": False,
        "has_customer_message": False,
        "has_incident": False,
        "has_invoice": False,
        "leadtime_to_ship": 2,
        "order_tax_mode": "TAX_INCLUDED",
        "paymentType": "CARD",
        "price": 59.98,
        "shipping_price": 4.9,
        "total_price": 64.88,
        "total_commission": 10.8,
        "shipping_type_code": "HOME",
        "shipping_type_label": "Livraison à domicile",
        "shipping_zone_code": "FR",
        "shipping_zone_label": "France métropolitaine",
        "order_lines": [order_line(1)],
        **extra,
    }


def shipped_order() -> dict[str, Any]:
    """Received after shipping with Colissimo to a relay; one refund refused, one paying."""
    order = mirakl_order(
        order_state="RECEIVED",
        acceptance_decision_date="2026-11-26T09:00:00Z",
        customer_debited_date="2026-11-26T09:05:00Z",
        shipping_type_code="RELAY",
        shipping_type_label="Point relais",
        shipping_pudo_id="PUDO-59100-0042",
        shipping_carrier_code="COLISSIMO",
        shipping_company="Colissimo",
        shipping_tracking="6A12345678901",
        shipping_tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
    )
    order["customer"]["shipping_address"] = address(
        company="Tabac de la Gare", street_1="3 place de la Liberté"
    )
    order["order_lines"] = [
        order_line(
            1,
            order_line_state="RECEIVED",
            can_refund=True,
            refunds=[
                refund_body("1001", "R-1", "REFUSED", refusal_reason="EXPIRED_CARD"),
                refund_body("1002", "R-2", "WAITING_REFUND_PAYMENT"),
            ],
            cancelations=[
                {"id": "C-1", "quantity": 1, "amount": 29.99, "reason_code": "34",
                 "created_date": NOW, "commission_amount": 4.5, "commission_taxes": [],
                 "commission_total_amount": 5.4},
            ],
        )
    ]  # fmt: skip
    return order


def orders_answer(*orders: dict[str, Any]) -> Answer:
    return always(200, {"orders": list(orders), "total_count": len(orders)})


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


# ---------------------------------------------------------------- OR11


def test_list_orders_with_every_filter_is_a_valid_or11() -> None:
    client, market = client_for(orders_answer(mirakl_order()))

    page = client.list_orders(
        start_update_date=datetime(2026, 11, 26, 8, 30, 0, 250000, tzinfo=UTC),
        order_ids=[ORDER_ID, "LR-20261127-A"],
        states=["WAITING_ACCEPTANCE"],
        offset=100,
        max=50,
    )

    assert page.total_count == 1 and page.orders[0]["order_id"] == ORDER_ID
    assert query(market.requests[0])["start_update_date"] == "2026-11-26T08:30:00.250Z"


def test_paging_through_orders_is_valid_or11() -> None:
    pages = {0: [mirakl_order()], 1: [mirakl_order(order_id="LR-20261127-A")]}
    client, market = client_for(
        lambda request: (
            200,
            {"orders": pages[int(request.url.params["offset"])], "total_count": 2},
        ),
        shop_id=None,
    )

    found = [o["order_id"] for p in client.iter_order_pages(page_size=1) for o in p.orders]

    assert found == [ORDER_ID, "LR-20261127-A"]
    assert len(market.requests) == 2


def test_get_order_is_a_valid_or11_and_its_answer_maps() -> None:
    client, _ = client_for(orders_answer(shipped_order()))

    raw = client.get_order(ORDER_ID)

    assert raw is not None
    view = view_order(raw)
    assert view.status is OrderStatus.SHIPPED
    assert view.shipping is not None and view.shipping.tracking_number == "6A12345678901"
    assert [r.status for r in view.refunds] == [RefundStatus.REFUND_REFUSED, RefundStatus.REFUNDING]
    assert view.lines[0].canceled_quantity == 1
    fields = parse_order(raw, "laredoute")
    assert fields["delivery"].relay_name == "Tabac de la Gare"
    assert fields["shipping_price"] == Decimal("4.9")


def test_a_new_order_from_or11_parses_into_import_fields() -> None:
    client, _ = client_for(orders_answer(mirakl_order()))

    (raw,) = client.list_orders(states=["WAITING_ACCEPTANCE"]).orders

    fields = parse_order(raw, "laredoute")
    assert fields["lines"][0].ean == "3600000000017"
    assert fields["lines"][0].unit_price == Decimal("29.99")
    assert fields["delivery"] == Delivery.home()


@pytest.mark.xfail(
    raises=ContractError,
    strict=True,
    reason="the spec describes order_state_codes as a comma-separated list but types it as "
    "a single enum value; Mirakl accepts the list",
)
def test_several_states_at_once_follow_the_description_not_the_enum() -> None:
    client, _ = client_for(orders_answer())

    client.list_orders(states=["SHIPPING", "SHIPPED"])


# ---------------------------------------------------------------- order writes


def test_accept_is_a_valid_or21() -> None:
    client, market = client_for(always(204))

    client.accept(ORDER_ID, {LINE_ID: True, f"{ORDER_ID}-2": False})

    assert market.requests[0].url.path == f"/api/orders/{ORDER_ID}/accept"


@pytest.mark.parametrize(
    "carrier",
    [
        {"carrier_code": "COLISSIMO"},
        {"carrier_name": "Transports Martin", "carrier_url": "https://martin.example/suivi"},
    ],
)
def test_update_tracking_is_a_valid_or23(carrier: dict[str, str]) -> None:
    client, market = client_for(always(204))

    client.update_tracking(ORDER_ID, tracking_number="6A12345678901", **carrier)

    assert json.loads(market.requests[0].content)["tracking_number"] == "6A12345678901"


def test_ship_is_a_valid_or24() -> None:
    client, market = client_for(always(204))

    client.ship(ORDER_ID)

    assert market.requests[0].url.path == f"/api/orders/{ORDER_ID}/ship"


def test_refund_is_a_valid_or28_and_returns_the_refunds_created() -> None:
    created = {
        "order_tax_mode": "TAX_INCLUDED",
        "refunds": [
            {"order_line_id": LINE_ID, "order_refund_id": "R-3", "refund_id": "1003",
             "amount": 29.99, "shipping_amount": 4.9, "quantity": 1, "reason_code": "15"},
        ],
    }  # fmt: skip
    client, _ = client_for(always(200, created))

    refunds = client.refund([RefundLine(LINE_ID, Decimal("29.99"), Decimal("4.90"), 1, "15")])

    assert [(r["refund_id"], r["order_refund_id"]) for r in refunds] == [("1003", "R-3")]
    assert refunds[0]["amount"] == Decimal("29.99")


def _spec_request_example(path: str) -> dict[str, Any]:
    spec = json.loads((Path(__file__).parent / "mirakl-mmp-seller-openapi.json").read_text())
    body = spec["paths"][path]["put"]["requestBody"]["content"]["application/json"]
    return body["examples"]["application/json-0"]["value"]


def _numbers(value: Any) -> Any:
    """The body with every amount as a Decimal (the spec's examples write some as text)."""
    if isinstance(value, dict):
        return {k: _numbers(v) if k not in ("code", "currency_iso_code", "order_line_id",
                                            "reason_code", "order_tax_mode") else str(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, bool):
        return value
    return Decimal(str(value))


def test_a_refund_with_taxes_and_fees_is_the_specs_own_or28_example() -> None:
    """The spec's OR28 example: TAX_EXCLUDED, USD, taxes on the price and the shipping, fees."""
    example = _spec_request_example("/api/orders/refund")
    (line,) = example["refunds"]
    client, market = client_for(always(200, {"order_tax_mode": "TAX_EXCLUDED", "refunds": []}))

    client.refund([RefundLine(
        line["order_line_id"], Decimal("1.50"), Decimal("2.00"), 0, line["reason_code"],
        taxes={"tax1": Decimal(1), "tax2": Decimal(1)},
        shipping_taxes={"tax1": Decimal(1), "tax2": Decimal(1)},
        fees={"CARD_FEE": Decimal("0.50"), "EU_DRS": Decimal("0.25")},
        currency="USD",
    )], tax_mode="TAX_EXCLUDED")  # fmt: skip

    sent = json.loads(market.requests[0].content)
    for key in ("excluded_from_shipment", "tax_legal_notice"):
        line.pop(key)  # what the marketplace may take and we never send
    assert _numbers(sent) == _numbers(example)


def test_a_cancelation_with_taxes_is_the_specs_own_or30_example() -> None:
    example = _spec_request_example("/api/orders/cancel")
    (line,) = example["cancelations"]
    client, market = client_for(
        always(200, {"order_tax_mode": "TAX_EXCLUDED", "cancelations": []}))

    client.cancel_lines([CancelLine(
        line["order_line_id"], quantity=1, amount=Decimal(2), shipping_amount=Decimal(0),
        reason_code=str(line["reason_code"]),
        taxes={"tax1": Decimal(1), "tax2": Decimal(1)},
        shipping_taxes={"tax1": Decimal(1), "tax2": Decimal(1)},
        fees={"CARD_FEE": Decimal("0.50"), "EU_DRS": Decimal("0.25")},
        currency="USD",
    )], tax_mode="TAX_EXCLUDED")  # fmt: skip

    sent = json.loads(market.requests[0].content)
    line["quantity"] = 1  # the example cancels 0 pieces, which OR30 is not for
    assert _numbers(sent) == _numbers(example)


def test_an_unknown_tax_mode_is_not_sent() -> None:
    client, market = client_for(always(200, {"refunds": []}))

    with pytest.raises(ValueError, match="order_tax_mode"):
        client.refund([RefundLine(LINE_ID, Decimal("1.00"), Decimal(0), 1, "15")],
                      tax_mode="TAX_SOMETIMES")
    assert market.requests == []


def test_cancel_order_is_a_valid_or29() -> None:
    client, market = client_for(always(204))

    client.cancel_order(ORDER_ID)

    assert market.requests[0].url.path == f"/api/orders/{ORDER_ID}/cancel"


def test_cancel_lines_is_a_valid_or30_and_returns_the_cancelations_created() -> None:
    created = {
        "order_tax_mode": "TAX_INCLUDED",
        "cancelations": [
            {"cancelation_id": "C-2", "order_line_id": LINE_ID, "amount": 29.99,
             "shipping_amount": 0.0, "quantity": 1, "reason_code": "34"},
        ],
    }  # fmt: skip
    client, _ = client_for(always(200, created))

    cancelations = client.cancel_lines(
        [CancelLine(LINE_ID, quantity=1, amount=Decimal("29.99"),
                    shipping_amount=Decimal("0.00"), reason_code="34")]
    )  # fmt: skip

    assert [c["cancelation_id"] for c in cancelations] == ["C-2"]


# ---------------------------------------------------------------- settings


def test_reasons_is_a_valid_re01() -> None:
    reasons = [
        {"code": "15", "is_shop_right": True, "label": "Rupture de stock", "type": "REFUND"},
        {"code": "34", "is_shop_right": True, "label": "Annulée", "type": "CANCELATION"},
    ]
    client, _ = client_for(always(200, {"reasons": reasons, "total_count": 2}))

    assert [r["code"] for r in client.reasons()] == ["15", "34"]


def test_carriers_is_a_valid_sh21() -> None:
    carriers = [
        {"code": "COLISSIMO", "label": "Colissimo",
         "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code={trackingId}"},
        {"code": "CHRONOPOST", "label": "Chronopost"},
    ]  # fmt: skip
    client, _ = client_for(always(200, {"carriers": carriers}))

    assert [c["code"] for c in client.carriers()] == ["COLISSIMO", "CHRONOPOST"]


# ---------------------------------------------------------------- errors


def test_a_refusal_answered_by_the_marketplace_is_read() -> None:
    """Error answers are not described by the spec; only the request is checked here."""
    market_requests: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        validate_request(request)
        market_requests.append(request)
        body = {"status": 400, "code": "ORDER_INVALID_STATE", "message": "Order is not SHIPPING"}
        return httpx.Response(400, json=body)

    client = MiraklClient(
        "http://127.0.0.1:8900", API_KEY, 2001, transport=httpx.MockTransport(refuse)
    )

    with pytest.raises(UpstreamRefused) as raised:
        client.ship(ORDER_ID)

    assert raised.value.code == "ORDER_INVALID_STATE"
    assert len(market_requests) == 1


def test_the_spec_check_would_catch_a_request_without_the_key() -> None:
    """The checker is not a rubber stamp: the same call without Authorization breaks the spec."""
    request = httpx.Request("GET", "http://127.0.0.1:8900/api/orders", params={"shop_id": 2001})

    with pytest.raises(ContractError, match="Security"):
        validate_request(request)
