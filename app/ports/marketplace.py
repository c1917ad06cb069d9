"""The marketplace as the use cases see it: what they ask of it, what it answers, what can fail.

The La Redoute adapter (`app.adapters.laredoute`) implements `Marketplace` over the Mirakl
seller API; the use cases in `app.application` are written against this protocol and these
types only, so they never depend on HTTP, Mirakl field names or the client.

Errors are kept apart by what the caller can do about them:

    MarketplaceError
    ├── UpstreamUnavailable   no usable answer: network error, timeout, 429 after retries, 5xx.
    │                         Try again later; for a write, `maybe_applied` says whether the
    │                         marketplace may have applied it anyway (then read before retrying).
    └── UpstreamRefused       the marketplace answered 4xx (not 429): the request itself is wrong,
                              or the order is not in a state that allows it. Retrying will not help.

Messages name the operation (OR21, OR11...) and never contain an API key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from app.domain.order import (
    CustomerDetails,
    MarketplaceFlags,
    OrderStatus,
    RefundStatus,
)

# ==================================================================== errors


class MarketplaceError(Exception):
    """Base of every error a marketplace adapter raises on purpose."""

    operation: str


class UpstreamUnavailable(MarketplaceError):
    """The marketplace could not be reached or gave no usable answer."""

    def __init__(
        self,
        operation: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.operation = operation
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied
        applied = "; the change may have been applied" if maybe_applied else ""
        super().__init__(f"{operation}: marketplace unavailable ({reason}){applied}")

    def __repr__(self) -> str:
        return (
            f"UpstreamUnavailable(operation={self.operation!r}, reason={self.reason!r}, "
            f"status={self.status!r}, retry_after={self.retry_after!r}, "
            f"maybe_applied={self.maybe_applied!r})"
        )


class UpstreamRefused(MarketplaceError):
    """The marketplace understood the request and said no (HTTP 4xx other than 429)."""

    def __init__(self, operation: str, status: int, code: str | None, message: str) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        label = f"HTTP {status}" + (f" {code}" if code else "")
        super().__init__(f"{operation} refused ({label}): {message}")

    def __repr__(self) -> str:
        return (
            f"UpstreamRefused(operation={self.operation!r}, status={self.status!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )




class UnparsableOrder(ValueError):
    """A marketplace order we cannot import: `field` is the Mirakl field, `reason` what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# ==================================================================== what it answers


@dataclass(frozen=True)
class MarketplaceRefund:
    """One line's share of a refund; refunds made by one OR28 call share order_refund_id."""

    id: str
    order_refund_id: str
    refund_state: str
    status: RefundStatus | None
    amount: Decimal
    shipping_amount: Decimal
    quantity: int
    reason_code: str | None
    refusal_reason: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class MarketplaceCancelation:
    id: str
    quantity: int
    amount: Decimal
    shipping_amount: Decimal
    reason_code: str | None


@dataclass(frozen=True)
class MarketplaceLine:
    line_id: str
    state: str
    quantity: int
    canceled_quantity: int
    refunds: tuple[MarketplaceRefund, ...]
    cancelations: tuple[MarketplaceCancelation, ...] = ()


@dataclass(frozen=True)
class MarketplaceShipping:
    """The tracking given with OR23; each part None until the marketplace has it."""

    carrier_code: str | None
    carrier_name: str | None
    tracking_number: str | None
    tracking_url: str | None


@dataclass(frozen=True)
class MarketplaceOrder:
    """What the marketplace says about an order, as much as the sync needs to reconcile ours."""

    order_id: str
    state: str
    status: OrderStatus | None
    reason_code: str | None
    created_at: datetime
    last_updated: datetime
    acceptance_decision_date: datetime | None
    customer_debited_date: datetime | None
    shipping: MarketplaceShipping | None
    lines: tuple[MarketplaceLine, ...]
    # What the marketplace shows of the customer (None parts: held back) and the order's
    # flags and shipping deadline; None when the reader does not give them.
    details: CustomerDetails | None = None
    flags: MarketplaceFlags | None = None

    @property
    def state_known(self) -> bool:
        # Every state we know maps to a status, but STAGING, which is skipped on purpose.
        return self.status is not None or self.state == "STAGING"

    @property
    def refunds(self) -> tuple[MarketplaceRefund, ...]:
        """Every line's refunds, in line order."""
        return tuple(refund for line in self.lines for refund in line.refunds)

    @property
    def refunds_by_order_refund_id(self) -> dict[str, tuple[MarketplaceRefund, ...]]:
        """Refunds grouped by the OR28 call that made them, in the order they first appear."""
        groups: dict[str, list[MarketplaceRefund]] = {}
        for refund in self.refunds:
            groups.setdefault(refund.order_refund_id, []).append(refund)
        return {key: tuple(group) for key, group in groups.items()}

    def line(self, line_id: str) -> MarketplaceLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


# ==================================================================== what it is asked


@dataclass(frozen=True)
class OrdersPage:
    """One OR11 page: `offset` is where it starts in the whole result of `total_count` orders."""

    orders: list[dict[str, Any]]
    total_count: int
    offset: int


@dataclass(frozen=True)
class RefundLine:
    """One line of an OR28 refund request; amounts in the order's currency, to the cent.

    `taxes`, `shipping_taxes` and `fees` give each code's part (the marketplace wants the
    taxes of an order that has some); `currency` is the order's.
    """

    order_line_id: str
    amount: Decimal
    shipping_amount: Decimal
    quantity: int
    reason_code: str
    taxes: Mapping[str, Decimal] = field(default_factory=dict)
    shipping_taxes: Mapping[str, Decimal] = field(default_factory=dict)
    fees: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str | None = None


@dataclass(frozen=True)
class CancelLine:
    """One line of an OR30 cancelation; amounts in the order's currency, to the cent, with
    taxes, fees and currency as in RefundLine."""

    order_line_id: str
    quantity: int
    amount: Decimal
    shipping_amount: Decimal
    reason_code: str
    taxes: Mapping[str, Decimal] = field(default_factory=dict)
    shipping_taxes: Mapping[str, Decimal] = field(default_factory=dict)
    fees: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str | None = None


class SendableOffer(Protocol):
    """What an offer file needs of an offer (an aggregate or a read-model row)."""

    sku: str
    version: int
    values: Mapping[str, Any]
    errors: Sequence[Any]
    promotion: Mapping[str, Any] | None


# ==================================================================== the port


class Marketplace(Protocol):
    """One channel's shop on the marketplace."""

    channel: str

    # orders: reading
    def iter_order_pages(
        self, *, start_update_date: datetime | None = None, page_size: int = 100
    ) -> Iterator[OrdersPage]: ...

    def get_order(self, order_id: str) -> dict[str, Any] | None: ...

    def read_order(self, raw: Mapping[str, Any]) -> MarketplaceOrder:
        """A tolerant summary of one order document (unknown states become None)."""
        ...

    def new_order(
        self, raw: Mapping[str, Any], view: MarketplaceOrder | None = None
    ) -> dict[str, Any]:
        """The import fields of one order document (`view`: its read_order, when made
        already); UnparsableOrder names a bad field."""
        ...

    # orders: the merchant's actions
    def accept(self, order_id: str, decisions: Mapping[str, bool]) -> None: ...

    def update_tracking(
        self, order_id: str, *, tracking_number: str, carrier_code: str | None = None,
        carrier_name: str | None = None, carrier_url: str | None = None,
    ) -> None: ...

    def ship(self, order_id: str) -> None: ...

    def refund(
        self, refunds: Sequence[RefundLine], *, tax_mode: str | None = None
    ) -> list[dict[str, Any]]: ...

    def cancel_order(self, order_id: str) -> None: ...

    def cancel_lines(
        self, cancelations: Sequence[CancelLine], *, tax_mode: str | None = None
    ) -> list[dict[str, Any]]: ...

    def reasons(self) -> list[dict[str, Any]]: ...

    def carriers(self) -> list[dict[str, Any]]: ...

    # offers
    def offer_additional_fields(self) -> list[dict[str, Any]]:
        """The custom offer fields the shop declares (code, type, required...)."""
        ...

    def send_offers(self, offers: Iterable[SendableOffer], today: datetime | date,
                    declared: Collection[str] = ()) -> str:
        """One offer file of these offers (normal mode: what is not sent is left as it is),
        with the additional fields among `declared` (codes) that our values map to; the
        marketplace's import id."""
        ...

    def offer_values_left_out(self, declared: Collection[str]) -> list[tuple[str, str | None]]:
        """Our offer values a file for a shop declaring `declared` cannot carry, each with
        the field code it is mapped to (None: mapped to none)."""
        ...

    def offer_import(self, import_id: str) -> dict[str, Any]: ...

    def offer_errors(self, import_id: str) -> dict[str, str] | None:
        """The error message per SKU of a finished import; None while the report is not
        there yet."""
        ...

    def close(self) -> None: ...
