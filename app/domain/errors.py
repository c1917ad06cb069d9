"""Errors raised by the domain when a command breaks a rule.

    DomainError
    ├── OrderNotFound           no order has this id
    ├── OfferNotFound           no offer has this SKU on this channel
    ├── InvalidStatus           the command is not allowed in the order's status
    ├── RuleViolation           a value breaks a business rule (names the field and the rule)
    │   └── DeadlinePassed      the 72-hour acceptance deadline is over
    └── VersionConflict         the caller's expected version is not the current one
"""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class OrderNotFound(DomainError):
    def __init__(self, order_id: object) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class OfferNotFound(DomainError):
    def __init__(self, channel: str, sku: str) -> None:
        super().__init__(f"no offer {sku!r} on channel {channel}")
        self.channel = channel
        self.sku = sku


class InvalidStatus(DomainError):
    """A command was given to an order whose status does not allow it."""

    def __init__(self, command: str, status: str, allowed: Iterable[str]) -> None:
        self.command = command
        self.status = status
        self.allowed = sorted(allowed)
        super().__init__(
            f"cannot {command} an order in status {status}; "
            f"allowed statuses: {', '.join(self.allowed) or 'none'}"
        )


class RuleViolation(DomainError):
    """A value breaks a business rule; `field` is the request field it came from."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(message)


class DeadlinePassed(RuleViolation):
    pass


class VersionConflict(DomainError):
    def __init__(self, expected: int | None, actual: int | None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the order is at version {actual}, not {expected}"
            if actual is not None
            else "the order was changed concurrently"
        )
