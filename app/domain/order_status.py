"""An order's status in the seller guide's words (section 5), refunds included.

The order moves CREATED -> ACCEPTED -> TOSHIP -> SHIPPED -> PAID, or ends REFUSED, CANCELED or
OUT_OF_STOCK: its fulfilment status. Once shipped it may have refunds, and from then on it
shows its latest refund's status (TO_REFUND ... REFUNDED, REFUND_REFUSED) instead (see
OrderState.status).
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    ACCEPTED = "ACCEPTED"
    TOSHIP = "TOSHIP"
    SHIPPED = "SHIPPED"
    PAID = "PAID"
    TO_REFUND = "TO_REFUND"
    TO_APPROVE = "TO_APPROVE"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    REFUND_REFUSED = "REFUND_REFUSED"
    REFUSED = "REFUSED"
    CANCELED = "CANCELED"
    OUT_OF_STOCK = "OUT_OF_STOCK"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.REFUSED, OrderStatus.CANCELED, OrderStatus.OUT_OF_STOCK}
)
# The fulfilment statuses an order can be refunded in; there its refunds show through.
REFUNDABLE_FULFILMENT = frozenset({OrderStatus.SHIPPED, OrderStatus.PAID})
# What a refused refund request names as allowed, as the order shows its status.
REFUNDABLE_STATUSES = frozenset({
    OrderStatus.SHIPPED,
    OrderStatus.PAID,
    OrderStatus.TO_REFUND,
    OrderStatus.REFUNDED,
    OrderStatus.REFUND_REFUSED,
})
# What a refused payment names as allowed: shipped and not yet paid, as the order shows it.
SHIPPED_STATUSES = frozenset({
    OrderStatus.SHIPPED,
    OrderStatus.TO_REFUND,
    OrderStatus.TO_APPROVE,
    OrderStatus.REFUNDING,
    OrderStatus.REFUNDED,
    OrderStatus.REFUND_REFUSED,
})


__all__ = [
    "REFUNDABLE_FULFILMENT",
    "REFUNDABLE_STATUSES",
    "SHIPPED_STATUSES",
    "TERMINAL_STATUSES",
    "OrderStatus",
]
