"""Orders brought to each status of the seller guide, for the unit tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.order import (
    Address,
    Customer,
    Delivery,
    LineQuantity,
    NewLine,
    Order,
    OrderStatus,
)

CREATED_AT = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
DEADLINE = CREATED_AT + timedelta(hours=72)

TUNIC_LINE = "LR-TUNIC-001-1"  # 2 x 39.90
BELT_LINE = "LR-TUNIC-001-2"  # 1 x 15.00
SHIPPING = Decimal("4.90")
PAYABLE = Decimal("99.70")  # 2 x 39.90 + 15.00 + 4.90

TRACKING_NUMBER = "6A12345678901"


def hours_after_creation(hours: float) -> datetime:
    return CREATED_AT + timedelta(hours=hours)


def import_fields(**overrides: Any) -> dict[str, Any]:
    """A Colissimo home delivery of two linen tunics and a leather belt."""
    fields: dict[str, Any] = {
        "channel": "laredoute",
        "marketplace_order_id": "LR-TUNIC-001",
        "created_at": CREATED_AT,
        "customer": Customer(
            firstname="Camille", lastname="Lefebvre", email="camille.lefebvre@example.fr"
        ),
        "shipping_address": Address(
            street="110 rue de Blanchemaille", zip_code="59100", city="Roubaix", country="FR"
        ),
        "delivery": Delivery.home(),
        "shipping_price": SHIPPING,
        "lines": [
            NewLine(
                line_id=TUNIC_LINE,
                sku="TUNIC-LIN-M",
                ean="3601234567890",
                title="Tunique en lin",
                quantity=2,
                unit_price=Decimal("39.90"),
            ),
            NewLine(
                line_id=BELT_LINE,
                sku="BELT-CUIR",
                ean="3601234567906",
                title="Ceinture en cuir",
                quantity=1,
                unit_price=Decimal("15.00"),
            ),
        ],
    }
    fields.update(overrides)
    return fields


def created(**overrides: Any) -> Order:
    return Order.import_(**import_fields(**overrides))


def accepted() -> Order:
    order = created()
    order.accept(at=hours_after_creation(2))
    return order


def to_ship() -> Order:
    order = accepted()
    order.validate_payment(at=hours_after_creation(3))
    return order


def shipped() -> Order:
    order = to_ship()
    order.ship(
        tracking_number=TRACKING_NUMBER,
        carrier="Colissimo",
        tracking_url=None,
        at=hours_after_creation(26),
    )
    return order


def paid() -> Order:
    order = shipped()
    order.mark_paid(at=hours_after_creation(24 * 10))
    return order


def refund_requested(order: Order | None = None) -> Order:
    """One tunic of two sent back: a refund of 39.90, shipping kept."""
    order = order if order is not None else shipped()
    order.request_refund(
        lines=[LineQuantity(TUNIC_LINE, 1)],
        refund_shipping=False,
        reason="Tunic returned: too small",
        at=hours_after_creation(24 * 12),
    )
    return order


def refund_to_approve(order: Order | None = None) -> Order:
    order = refund_requested(order)
    order.submit_refund(latest_refund_id(order), at=hours_after_creation(24 * 12 + 1))
    return order


def refunding(order: Order | None = None) -> Order:
    order = refund_to_approve(order)
    order.approve_refund(latest_refund_id(order), at=hours_after_creation(24 * 13))
    return order


def refunded(order: Order | None = None) -> Order:
    order = refunding(order)
    order.complete_refund(latest_refund_id(order), at=hours_after_creation(24 * 14))
    return order


def refund_refused(order: Order | None = None) -> Order:
    order = refund_to_approve(order)
    order.refuse_refund(
        latest_refund_id(order), reason="EXPIRED_CARD", at=hours_after_creation(24 * 13)
    )
    return order


def refused() -> Order:
    order = created()
    order.refuse(reason="Tunic discontinued")
    return order


def canceled() -> Order:
    order = accepted()
    order.refuse_payment(at=hours_after_creation(3))
    return order


def out_of_stock() -> Order:
    order = to_ship()
    order.cancel(
        lines=None, reason="Last tunics damaged in the warehouse", at=hours_after_creation(5)
    )
    return order


def latest_refund_id(order: Order) -> str:
    refund = order.latest_refund
    assert refund is not None
    return refund.refund_id


BUILDERS: dict[OrderStatus, Callable[[], Order]] = {
    OrderStatus.CREATED: created,
    OrderStatus.ACCEPTED: accepted,
    OrderStatus.TOSHIP: to_ship,
    OrderStatus.SHIPPED: shipped,
    OrderStatus.PAID: paid,
    OrderStatus.TO_REFUND: refund_requested,
    OrderStatus.TO_APPROVE: refund_to_approve,
    OrderStatus.REFUNDING: refunding,
    OrderStatus.REFUNDED: refunded,
    OrderStatus.REFUND_REFUSED: refund_refused,
    OrderStatus.REFUSED: refused,
    OrderStatus.CANCELED: canceled,
    OrderStatus.OUT_OF_STOCK: out_of_stock,
}


def order_in(status: OrderStatus) -> Order:
    """A fresh order in this status, its events already collected."""
    order = BUILDERS[status]()
    assert order.status == status
    order.collect_events()
    return order
