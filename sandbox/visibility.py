"""What of the customer a seller sees in OR11, depending on the platform setting.

The spec (OR11) says of the shipping and billing addresses, the accounting and delivery
contacts and the organisation's address and identifiers: "Null before shipping (or acceptance,
depending on platform setting)". La Redoute shows them from acceptance on (the seller guide,
5.2: once accepted, "You have access to the customer address"), and holds the anonymised
notification email (optional in the spec) back with them: it is left out until then. The sandbox keeps every order whole and nulls these fields
in what OR11 serves while the order has not reached the setting's step.
"""

from __future__ import annotations

import copy
from typing import Literal, get_args

from sandbox.orders import (
    CANCELED,
    CLOSED,
    RECEIVED,
    SHIPPED,
    SHIPPING,
    WAITING_DEBIT_PAYMENT,
    RawOrder,
)

AddressVisibility = Literal["acceptance", "shipping"]
ADDRESS_VISIBILITIES: tuple[str, ...] = get_args(AddressVisibility)
# La Redoute's setting.
DEFAULT_ADDRESS_VISIBILITY: AddressVisibility = "acceptance"

_SHIPPING_OR_LATER = frozenset({SHIPPING, SHIPPED, "TO_COLLECT", RECEIVED, CLOSED})
_ACCEPTED_OR_LATER = _SHIPPING_OR_LATER | {"WAITING_DEBIT", WAITING_DEBIT_PAYMENT}

_CUSTOMER_FIELDS = ("shipping_address", "billing_address", "accounting_contact",
                    "delivery_contact")
_ORGANIZATION_FIELDS = ("address", "identification_number", "organization_id",
                        "tax_identification_number")


def details_shown(raw: RawOrder, visibility: AddressVisibility) -> bool:
    """Whether the seller sees the customer's details of this order.

    A cancelled order shows them if it got that far first: accepted (a decision date) for
    "acceptance", its payment debited for "shipping". A refused order never got there.
    """
    state = raw.get("order_state")
    reached = _ACCEPTED_OR_LATER if visibility == "acceptance" else _SHIPPING_OR_LATER
    if state in reached:
        return True
    if state == CANCELED:
        mark = "acceptance_decision_date" if visibility == "acceptance" else "customer_debited_date"
        return bool(raw.get(mark))
    return False


def as_seller_sees(raw: RawOrder, visibility: AddressVisibility) -> RawOrder:
    """The order as OR11 serves it: the held-back fields null until the setting's step."""
    if details_shown(raw, visibility) or not isinstance(raw.get("customer"), dict):
        return raw
    order = copy.copy(raw)
    customer = dict(raw["customer"])
    for name in _CUSTOMER_FIELDS:
        customer[name] = None
    organization = customer.get("organization")
    if isinstance(organization, dict):
        customer["organization"] = {
            **organization, **dict.fromkeys(_ORGANIZATION_FIELDS)
        }
    order["customer"] = customer
    # Not typed nullable by the spec but optional: held back, it is left out.
    order.pop("customer_notification_email", None)
    return order
