"""Refusals as the Mirakl API words them: the error every sandbox rule raises.

The HTTP layer turns a MiraklError into Mirakl's error body ({"status", "message", "code"}),
so the status, message and code given here are what the client sees.
"""

from __future__ import annotations

from typing import Any

from sandbox.orders import RawOrder


class MiraklError(Exception):
    """A refusal as Mirakl words it: HTTP status, human message and, for business rules, a code."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code:
            body["code"] = self.code
        return body


def invalid_state(raw: RawOrder, action: str) -> MiraklError:
    """The refusal of an action the order's current state does not allow."""
    return MiraklError(
        400,
        f"Order {raw['order_id']} is in state {raw['order_state']}: cannot {action}",
        "ORDER_INVALID_STATE",
    )
