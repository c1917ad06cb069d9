"""La Redoute (Mirakl) marketplace adapter: the HTTP client, its errors, and the order mapping."""

from app.adapters.laredoute.client import (
    DEFAULT_TIMEOUT,
    MAX_PAGE_SIZE,
    CancelLine,
    MiraklClient,
    OrdersPage,
    RefundLine,
)
from app.adapters.laredoute.errors import MiraklError, UpstreamRefused, UpstreamUnavailable
from app.adapters.laredoute.mapping import (
    ORDER_STATUS_OF_STATE,
    REFUND_STATUS_OF_STATE,
    MarketplaceCancelation,
    MarketplaceLine,
    MarketplaceOrder,
    MarketplaceRefund,
    MarketplaceShipping,
    UnparsableOrder,
    is_known_order_state,
    order_status,
    parse_order,
    refund_status,
    view_order,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "ORDER_STATUS_OF_STATE",
    "REFUND_STATUS_OF_STATE",
    "CancelLine",
    "MarketplaceCancelation",
    "MarketplaceLine",
    "MarketplaceOrder",
    "MarketplaceRefund",
    "MarketplaceShipping",
    "MiraklClient",
    "MiraklError",
    "OrdersPage",
    "RefundLine",
    "UnparsableOrder",
    "UpstreamRefused",
    "UpstreamUnavailable",
    "is_known_order_state",
    "order_status",
    "parse_order",
    "refund_status",
    "view_order",
]
