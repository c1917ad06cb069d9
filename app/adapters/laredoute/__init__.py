"""La Redoute (Mirakl) marketplace adapter: the HTTP client, the order mapping, the offer files,
and `LaRedouteMarketplace`, which puts them together behind the `Marketplace` port."""

from app.adapters.laredoute.client import DEFAULT_TIMEOUT, MAX_PAGE_SIZE, MiraklClient
from app.adapters.laredoute.mapping import (
    ORDER_STATUS_OF_STATE,
    REFUND_STATUS_OF_STATE,
    is_known_order_state,
    order_status,
    parse_order,
    refund_status,
    view_order,
)
from app.adapters.laredoute.marketplace import LaRedouteMarketplace

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "ORDER_STATUS_OF_STATE",
    "REFUND_STATUS_OF_STATE",
    "LaRedouteMarketplace",
    "MiraklClient",
    "is_known_order_state",
    "order_status",
    "parse_order",
    "refund_status",
    "view_order",
]
