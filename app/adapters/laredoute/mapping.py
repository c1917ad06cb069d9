"""From Mirakl's order documents (OR11) to what our service speaks.

Two readings of the same document, for two needs:

- `parse_order` is strict: it gives exactly the fields of `OrderService.import_order`, and a
  missing or ill-typed field raises `UnparsableOrder` naming the field, so one bad order is
  reported and skipped rather than crashing a sync with a KeyError.
- `view_order` is tolerant: it summarises an order's state, lines, cancelations, refunds and
  tracking for reconciliation. States it does not know become `None` beside the raw string, so
  a new marketplace state is logged and waited out instead of stopping the sync.

Field names in errors are Mirakl's own (`order_lines[1].price_unit`): that is where to look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from app.domain.order import (
    Address,
    Channel,
    Customer,
    CustomerDetails,
    Delivery,
    FullAddress,
    MarketplaceFlags,
    NewLine,
    OrderStatus,
    RefundStatus,
)
from app.domain.order_money import (
    DEFAULT_CURRENCY,
    EcoContribution,
    Fee,
    LinePricing,
    OrderPricing,
    Promotion,
    Tax,
    TaxMode,
)
from app.ports.marketplace import (
    MarketplaceCancelation,
    MarketplaceLine,
    MarketplaceOrder,
    MarketplaceRefund,
    MarketplaceShipping,
    UnparsableOrder,
)

log = structlog.get_logger(__name__)

# The seller guide's statuses for each Mirakl order state. STAGING orders are not yet
# visible to sellers (fraud check, payment): None says "skip, it will come back later".
ORDER_STATUS_OF_STATE: Mapping[str, OrderStatus | None] = {
    "STAGING": None,
    "WAITING_ACCEPTANCE": OrderStatus.CREATED,
    "WAITING_DEBIT": OrderStatus.ACCEPTED,
    "WAITING_DEBIT_PAYMENT": OrderStatus.ACCEPTED,
    "SHIPPING": OrderStatus.TOSHIP,
    "SHIPPED": OrderStatus.SHIPPED,
    "TO_COLLECT": OrderStatus.SHIPPED,
    "RECEIVED": OrderStatus.SHIPPED,
    "CLOSED": OrderStatus.PAID,
    "REFUSED": OrderStatus.REFUSED,
    "CANCELED": OrderStatus.CANCELED,
}

REFUND_STATUS_OF_STATE: Mapping[str, RefundStatus] = {
    "WAITING_REFUND_TAX_CONFIRMATION": RefundStatus.TO_APPROVE,
    "WAITING_REFUND": RefundStatus.TO_APPROVE,
    "WAITING_REFUND_PAYMENT": RefundStatus.REFUNDING,
    "REFUNDED": RefundStatus.REFUNDED,
    "REFUSED": RefundStatus.REFUND_REFUSED,
}

# Mirakl gives ISO 3166 alpha-3 codes; our addresses use alpha-2. La Redoute delivers to
# France (overseas departments included) and its neighbours; the spec's examples use USA.
_ALPHA2_OF_ALPHA3 = {
    "FRA": "FR", "GLP": "GP", "MTQ": "MQ", "GUF": "GF", "REU": "RE", "MYT": "YT",
    "SPM": "PM", "BLM": "BL", "MAF": "MF", "NCL": "NC", "PYF": "PF", "WLF": "WF",
    "MCO": "MC", "AND": "AD", "BEL": "BE", "LUX": "LU", "CHE": "CH", "DEU": "DE",
    "ESP": "ES", "ITA": "IT", "NLD": "NL", "PRT": "PT", "AUT": "AT", "GBR": "GB",
    "IRL": "IE", "DNK": "DK", "SWE": "SE", "FIN": "FI", "NOR": "NO", "POL": "PL",
    "CZE": "CZ", "GRC": "GR", "USA": "US", "CAN": "CA",
}  # fmt: skip


# -------------------------------------------------------------------- states


def order_status(state: str) -> OrderStatus | None:
    """Our status for a Mirakl order state; None for STAGING and, logged, for unknown states."""
    if state not in ORDER_STATUS_OF_STATE:
        log.warning("mirakl_unknown_order_state", state=state)
        return None
    return ORDER_STATUS_OF_STATE[state]


def is_known_order_state(state: str) -> bool:
    """Tell STAGING (known, skipped on purpose) from a state this code has never heard of."""
    return state in ORDER_STATUS_OF_STATE


def refund_status(state: str) -> RefundStatus | None:
    """Our refund status for a Mirakl refund_state; None, logged, when unknown."""
    status = REFUND_STATUS_OF_STATE.get(state)
    if status is None:
        log.warning("mirakl_unknown_refund_state", refund_state=state)
    return status


# -------------------------------------------------------------------- import


def parse_order(
    raw: Mapping[str, Any], channel: str, view: MarketplaceOrder | None = None
) -> dict[str, Any]:
    """The keyword arguments of `OrderService.import_order` for one OR11 order.

    The shipping and billing addresses, the contacts and the notification email are null
    until the marketplace shows them (after acceptance on La Redoute): the order is imported
    without them then, and gets them from a later read. `view`, the same document's
    `view_order`, saves reading its identity, customer and flags twice.
    """
    channel = str(Channel(channel))
    if view is None:
        details, flags = customer_details(raw), marketplace_flags(raw)
        order_id = _text(raw, "order_id", "order_id")
        created_at = _datetime(raw, "created_date", "created_date")
    else:
        details, flags, order_id, created_at = (
            view.details, view.flags, view.order_id, view.created_at)
    return {
        "channel": channel,
        "marketplace_order_id": order_id,
        "created_at": created_at,
        "customer": details.customer,
        "shipping_address": details.shipping_address,
        "delivery": details.delivery,
        "shipping_price": _amount(raw, "shipping_price", "shipping_price"),
        "lines": [
            _line(line, f"order_lines[{index}]")
            for index, line in enumerate(_objects(raw, "order_lines", "order_lines", min_items=1))
        ],
        "details": details,
        "flags": flags,
        "pricing": OrderPricing(
            currency=_optional_text(raw, "currency_iso_code", "currency_iso_code")
            or DEFAULT_CURRENCY,
            tax_mode=_tax_mode(raw),
            total_commission=_maybe_amount(raw, "total_commission", "total_commission"),
        ),
        "additional_fields": additional_fields(
            _objects(raw, "order_additional_fields", "order_additional_fields"),
            "order_additional_fields",
        ),
    }


def _tax_mode(raw: Mapping[str, Any]) -> TaxMode:
    """The order's tax mode; La Redoute's, prices with their taxes, when not given."""
    mode = _optional_text(raw, "order_tax_mode", "order_tax_mode") or TaxMode.TAX_INCLUDED
    if mode not in set(TaxMode):
        raise UnparsableOrder("order_tax_mode", f"must be one of {', '.join(TaxMode)}")
    return TaxMode(mode)


def additional_fields(fields: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    """Custom fields by code: a text, a number, a boolean, or a list of texts."""
    found: dict[str, Any] = {}
    for index, field in enumerate(fields):
        code = _text(field, "code", f"{where}[{index}].code")
        value = field.get("value")
        if isinstance(value, float):
            value = Decimal(repr(value))
        elif isinstance(value, list):
            value = [str(item) for item in value]
        found[code] = value
    return found


def customer_details(raw: Mapping[str, Any]) -> CustomerDetails:
    """What the order document shows of the customer; each part None while held back.

    The customer's first and last name are required by the spec, together; an order without
    either still reads, without a customer name, rather than being refused.
    """
    customer = _mapping(raw, "customer", "customer")
    where = "customer.shipping_address"
    shipping = _optional_mapping(customer, "shipping_address", where)
    billing = _optional_mapping(customer, "billing_address", "customer.billing_address")
    email = _optional_text(raw, "customer_notification_email", "customer_notification_email")
    named = any(customer.get(key) not in (None, "") for key in ("firstname", "lastname"))
    person = None
    if named:
        person = Customer(
            firstname=_text(customer, "firstname", "customer.firstname"),
            lastname=_text(customer, "lastname", "customer.lastname"),
            email=email,
        )
    elif email is not None:
        person = Customer(firstname="", lastname="", email=email)
    return CustomerDetails(
        customer=person,
        shipping_address=None if shipping is None else _address(shipping, where),
        recipient=None if shipping is None else _full_address(shipping, where),
        billing_address=(
            None if billing is None else _full_address(billing, "customer.billing_address")
        ),
        locale=_optional_text(customer, "locale", "customer.locale"),
        delivery=_delivery(raw, shipping),
    )


def marketplace_flags(raw: Mapping[str, Any]) -> MarketplaceFlags:
    """The order's flags; an order can be refunded when one of its lines can."""
    lines = _objects(raw, "order_lines", "order_lines")
    return MarketplaceFlags(
        has_customer_message=_flag(raw, "has_customer_message", "has_customer_message"),
        has_incident=_flag(raw, "has_incident", "has_incident"),
        can_cancel=_flag(raw, "can_cancel", "can_cancel"),
        can_refund=any(
            _flag(line, "can_refund", f"order_lines[{index}].can_refund")
            for index, line in enumerate(lines)
        ),
        shipping_deadline=_optional_datetime(raw, "shipping_deadline", "shipping_deadline"),
        leadtime_to_ship=(
            None if raw.get("leadtime_to_ship") is None
            else _integer(raw, "leadtime_to_ship", "leadtime_to_ship")
        ),
    )


def _address(address: Mapping[str, Any], where: str) -> Address:
    streets = [_text(address, "street_1", f"{where}.street_1")]
    street_2 = _optional_text(address, "street_2", f"{where}.street_2")
    if street_2:
        streets.append(street_2)
    return Address(
        street=", ".join(streets),
        zip_code=_text(address, "zip_code", f"{where}.zip_code"),
        city=_text(address, "city", f"{where}.city"),
        country=_country(address, where),
    )


def _full_address(address: Mapping[str, Any], where: str) -> FullAddress:
    """Every field a shipper may print; the spec's required ones must be there."""
    optional = {
        key: _optional_text(address, key, f"{where}.{key}")
        for key in ("civility", "firstname", "company", "street_2", "additional_info",
                    "zip_code", "state", "phone", "phone_secondary")
    }
    return FullAddress(
        **optional,
        lastname=_text(address, "lastname", f"{where}.lastname"),
        street_1=_text(address, "street_1", f"{where}.street_1"),
        city=_text(address, "city", f"{where}.city"),
        country=_country(address, where),
    )


def _country(address: Mapping[str, Any], where: str) -> str:
    field = f"{where}.country_iso_code"
    code = _text(address, "country_iso_code", field).strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    if code in _ALPHA2_OF_ALPHA3:
        return _ALPHA2_OF_ALPHA3[code]
    raise UnparsableOrder(field, f"unknown country code {code!r}")


def _delivery(raw: Mapping[str, Any], address: Mapping[str, Any] | None) -> Delivery:
    """Home, or a relay point whose name and address Mirakl puts in the shipping address.

    A pick-up point id makes it a relay delivery whatever the shipping type says, since the
    parcel goes to the relay either way. While the shipping address is held back, only the
    relay's id is known.
    """
    shipping_type = _text(raw, "shipping_type_code", "shipping_type_code")
    pudo_id = _optional_text(raw, "shipping_pudo_id", "shipping_pudo_id")
    if shipping_type != "RELAY" and not pudo_id:
        return Delivery.home()
    relay_id = _text(raw, "shipping_pudo_id", "shipping_pudo_id")
    if address is None:
        return Delivery.relay_awaiting_details(relay_id=relay_id)
    where = "customer.shipping_address"
    street = _text(address, "street_1", f"{where}.street_1")
    zip_code = _text(address, "zip_code", f"{where}.zip_code")
    city = _text(address, "city", f"{where}.city")
    return Delivery.relay(
        relay_id=relay_id,
        relay_name=_text(address, "company", f"{where}.company"),
        relay_address=f"{street}, {zip_code} {city}",
    )


def _line(line: Mapping[str, Any], where: str) -> NewLine:
    return NewLine(
        line_id=_text(line, "order_line_id", f"{where}.order_line_id"),
        sku=_text(line, "offer_sku", f"{where}.offer_sku"),
        ean=_ean(line, where),
        title=_text(line, "product_title", f"{where}.product_title"),
        quantity=_integer(line, "quantity", f"{where}.quantity"),
        unit_price=_amount(line, "price_unit", f"{where}.price_unit"),
        pricing=_line_pricing(line, where),
    )


class _Unusual(Exception):
    """A value the quick reading does not take: the checked reading decides, naming the field."""


def _q_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is str and value.strip():
        return value
    raise _Unusual


def _q_amount(value: Any) -> Decimal | None:
    kind = type(value)
    if value is None:
        return None
    if kind is float:
        amount = Decimal(repr(value))
    elif kind is int or kind is Decimal:
        amount = Decimal(value)
    else:
        raise _Unusual
    if not amount.is_finite():
        raise _Unusual
    return amount


def _q_items(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if items is None:
        return []
    if type(items) is not list or any(type(item) is not dict for item in items):
        raise _Unusual
    return items


def _q_required(value: Any) -> Any:
    if value is None:
        raise _Unusual
    return value


def _q_taxes(line: Mapping[str, Any], key: str) -> tuple[Tax, ...]:
    return tuple(
        Tax(code=_q_required(_q_text(tax.get("code"))),
            amount=_q_required(_q_amount(tax.get("amount"))),
            rate=_q_amount(tax.get("rate")),
            calculation_rule=_q_text(tax.get("tax_calculation_rule")))
        for tax in _q_items(line, key)
    )


def _line_pricing(line: Mapping[str, Any], where: str) -> LinePricing:
    """The line's money. Read quickly when every value has its usual JSON type (the import
    reads thousands of lines a second); else by the checked reading, which names the field."""
    try:
        return LinePricing(
            price=_q_required(_q_amount(line.get("price"))),
            shipping_price=_q_amount(line.get("shipping_price")) or Decimal("0.00"),
            origin_unit_price=_q_amount(line.get("origin_unit_price")),
            taxes=_q_taxes(line, "taxes"),
            shipping_taxes=_q_taxes(line, "shipping_taxes"),
            fees=tuple(Fee(code=_q_required(_q_text(fee.get("code"))),
                           amount=_q_required(_q_amount(fee.get("amount"))))
                       for fee in _q_items(line, "fees")),
            promotions=tuple(Promotion(id=_q_text(promo.get("id")),
                                       deduced_amount=_q_amount(promo.get("deduced_amount"))
                                       or Decimal("0.00"),
                                       promo_code=_q_text(promo.get("promo_code")))
                             for promo in _q_items(line, "promotions")),
            eco_contributions=tuple(
                EcoContribution(epr_category_code=_q_text(eco.get("epr_category_code")),
                                producer_id=_q_text(eco.get("producer_id")),
                                unit_amount=_q_amount(eco.get("unit_amount")),
                                total_amount=_q_amount(eco.get("total_amount")))
                for eco in _q_items(line, "eco_contributions")),
            commission=_q_amount(line.get("total_commission")),
        )
    except _Unusual:
        return _checked_line_pricing(line, where)


def _checked_line_pricing(line: Mapping[str, Any], where: str) -> LinePricing:
    return LinePricing(
        price=_amount(line, "price", f"{where}.price"),
        shipping_price=_optional_amount(line, "shipping_price", f"{where}.shipping_price"),
        origin_unit_price=_maybe_amount(line, "origin_unit_price", f"{where}.origin_unit_price"),
        taxes=_taxes(line, "taxes", where),
        shipping_taxes=_taxes(line, "shipping_taxes", where),
        fees=tuple(
            Fee(code=_text(fee, "code", f"{where}.fees[{i}].code"),
                amount=_amount(fee, "amount", f"{where}.fees[{i}].amount"))
            for i, fee in enumerate(_objects(line, "fees", f"{where}.fees"))
        ),
        promotions=tuple(
            Promotion(
                id=_optional_text(promo, "id", f"{where}.promotions[{i}].id"),
                deduced_amount=_optional_amount(
                    promo, "deduced_amount", f"{where}.promotions[{i}].deduced_amount"),
                promo_code=_optional_text(promo, "promo_code", f"{where}.promotions[{i}].promo_code"),
            )
            for i, promo in enumerate(_objects(line, "promotions", f"{where}.promotions"))
        ),
        eco_contributions=tuple(
            EcoContribution(
                epr_category_code=_optional_text(
                    eco, "epr_category_code", f"{where}.eco_contributions[{i}].epr_category_code"),
                producer_id=_optional_text(
                    eco, "producer_id", f"{where}.eco_contributions[{i}].producer_id"),
                unit_amount=_maybe_amount(
                    eco, "unit_amount", f"{where}.eco_contributions[{i}].unit_amount"),
                total_amount=_maybe_amount(
                    eco, "total_amount", f"{where}.eco_contributions[{i}].total_amount"),
            )
            for i, eco in enumerate(_objects(line, "eco_contributions", f"{where}.eco_contributions"))
        ),
        commission=_maybe_amount(line, "total_commission", f"{where}.total_commission"),
    )


def _taxes(line: Mapping[str, Any], key: str, where: str) -> tuple[Tax, ...]:
    return tuple(
        Tax(
            code=_text(tax, "code", f"{where}.{key}[{i}].code"),
            amount=_amount(tax, "amount", f"{where}.{key}[{i}].amount"),
            rate=_maybe_amount(tax, "rate", f"{where}.{key}[{i}].rate"),
            calculation_rule=_optional_text(
                tax, "tax_calculation_rule", f"{where}.{key}[{i}].tax_calculation_rule"),
        )
        for i, tax in enumerate(_objects(line, key, f"{where}.{key}"))
    )


def _ean(line: Mapping[str, Any], where: str) -> str:
    """The EAN from the line's additional field "ean"; the product SKU when there is none."""
    fields = _objects(line, "order_line_additional_fields", f"{where}.order_line_additional_fields")
    for index, field in enumerate(fields):
        if field.get("code") == "ean":
            return _text(field, "value", f"{where}.order_line_additional_fields[{index}].value")
    return _text(line, "product_sku", f"{where}.product_sku")


# -------------------------------------------------------------------- reconciliation view


def view_order(raw: Mapping[str, Any]) -> MarketplaceOrder:
    """Summarise an OR11 order; only identity and dates are required, states may be unknown."""
    state = _text(raw, "order_state", "order_state")
    return MarketplaceOrder(
        order_id=_text(raw, "order_id", "order_id"),
        state=state,
        status=order_status(state),
        reason_code=_optional_text(raw, "order_state_reason_code", "order_state_reason_code"),
        created_at=_datetime(raw, "created_date", "created_date"),
        last_updated=_datetime(raw, "last_updated_date", "last_updated_date"),
        acceptance_decision_date=_optional_datetime(
            raw, "acceptance_decision_date", "acceptance_decision_date"
        ),
        customer_debited_date=_optional_datetime(
            raw, "customer_debited_date", "customer_debited_date"
        ),
        shipping=_shipping(raw),
        lines=tuple(
            _view_line(line, f"order_lines[{index}]")
            for index, line in enumerate(_objects(raw, "order_lines", "order_lines"))
        ),
        details=customer_details(raw),
        flags=marketplace_flags(raw),
    )


def _shipping(raw: Mapping[str, Any]) -> MarketplaceShipping | None:
    shipping = MarketplaceShipping(
        carrier_code=_optional_text(raw, "shipping_carrier_code", "shipping_carrier_code"),
        carrier_name=_optional_text(raw, "shipping_company", "shipping_company"),
        tracking_number=_optional_text(raw, "shipping_tracking", "shipping_tracking"),
        tracking_url=_optional_text(raw, "shipping_tracking_url", "shipping_tracking_url"),
    )
    if shipping == MarketplaceShipping(None, None, None, None):
        return None
    return shipping


def _view_line(line: Mapping[str, Any], where: str) -> MarketplaceLine:
    cancelations = tuple(
        _view_cancelation(item, f"{where}.cancelations[{index}]")
        for index, item in enumerate(_objects(line, "cancelations", f"{where}.cancelations"))
    )
    refunds = tuple(
        _view_refund(item, f"{where}.refunds[{index}]")
        for index, item in enumerate(_objects(line, "refunds", f"{where}.refunds"))
    )
    return MarketplaceLine(
        line_id=_text(line, "order_line_id", f"{where}.order_line_id"),
        state=_text(line, "order_line_state", f"{where}.order_line_state"),
        quantity=_integer(line, "quantity", f"{where}.quantity"),
        canceled_quantity=sum(cancelation.quantity for cancelation in cancelations),
        refunds=refunds,
        cancelations=cancelations,
    )


def _view_refund(refund: Mapping[str, Any], where: str) -> MarketplaceRefund:
    refund_state = _text(refund, "refund_state", f"{where}.refund_state")
    return MarketplaceRefund(
        id=_text(refund, "id", f"{where}.id"),
        order_refund_id=_text(refund, "order_refund_id", f"{where}.order_refund_id"),
        refund_state=refund_state,
        status=refund_status(refund_state),
        amount=_optional_amount(refund, "amount", f"{where}.amount"),
        shipping_amount=_optional_amount(refund, "shipping_amount", f"{where}.shipping_amount"),
        quantity=_optional_integer(refund, "quantity", f"{where}.quantity"),
        reason_code=_optional_text(refund, "reason_code", f"{where}.reason_code"),
        refusal_reason=_optional_text(refund, "refusal_reason", f"{where}.refusal_reason"),
        created_at=_optional_datetime(refund, "created_date", f"{where}.created_date"),
    )


def _view_cancelation(cancelation: Mapping[str, Any], where: str) -> MarketplaceCancelation:
    return MarketplaceCancelation(
        id=_text(cancelation, "id", f"{where}.id"),
        quantity=_optional_integer(cancelation, "quantity", f"{where}.quantity"),
        amount=_optional_amount(cancelation, "amount", f"{where}.amount"),
        shipping_amount=_optional_amount(
            cancelation, "shipping_amount", f"{where}.shipping_amount"
        ),
        reason_code=_optional_text(cancelation, "reason_code", f"{where}.reason_code"),
    )


# -------------------------------------------------------------------- typed field readers


def _present(data: Mapping[str, Any], key: str, field: str) -> Any:
    if not isinstance(data, Mapping):
        parent = field.rsplit(".", 1)[0] if "." in field else "order"
        raise UnparsableOrder(parent, "is not an object")
    value = data.get(key)
    if value is None:
        raise UnparsableOrder(field, "is missing")
    return value


def _text(data: Mapping[str, Any], key: str, field: str) -> str:
    value = _present(data, key, field)
    if not isinstance(value, str):
        raise UnparsableOrder(field, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise UnparsableOrder(field, "is empty")
    return value


def _optional_text(data: Mapping[str, Any], key: str, field: str) -> str | None:
    if data.get(key) in (None, ""):
        return None
    return _text(data, key, field)


def _optional_mapping(data: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any] | None:
    return None if data.get(key) is None else _mapping(data, key, field)


def _flag(data: Mapping[str, Any], key: str, field: str) -> bool:
    """A boolean; absent reads as False."""
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UnparsableOrder(field, f"must be true or false, not {type(value).__name__}")
    return value


def _mapping(data: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    value = _present(data, key, field)
    if not isinstance(value, Mapping):
        raise UnparsableOrder(field, f"must be an object, not {type(value).__name__}")
    return value


def _objects(
    data: Mapping[str, Any], key: str, field: str, *, min_items: int = 0
) -> Sequence[Mapping[str, Any]]:
    """A list of objects; an absent optional list reads as empty unless items are required."""
    value = data.get(key)
    if value is None and min_items == 0:
        return []
    value = _present(data, key, field)
    if not isinstance(value, list):
        raise UnparsableOrder(field, f"must be a list, not {type(value).__name__}")
    if len(value) < min_items:
        raise UnparsableOrder(field, f"must have at least {min_items} item(s)")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise UnparsableOrder(f"{field}[{index}]", "must be an object")
    return value


def _integer(data: Mapping[str, Any], key: str, field: str) -> int:
    value = _present(data, key, field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnparsableOrder(field, f"must be a whole number, not {type(value).__name__}")
    return value


def _optional_integer(data: Mapping[str, Any], key: str, field: str) -> int:
    return 0 if data.get(key) is None else _integer(data, key, field)


def _amount(data: Mapping[str, Any], key: str, field: str) -> Decimal:
    """A JSON number as Decimal; a float goes through its shortest text, never its binary value."""
    value = _present(data, key, field)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise UnparsableOrder(field, f"must be a number, not {type(value).__name__}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - every int, float and Decimal converts
        raise UnparsableOrder(field, "is not a number") from exc
    if not amount.is_finite():
        raise UnparsableOrder(field, "must be a finite number")
    return amount


def _optional_amount(data: Mapping[str, Any], key: str, field: str) -> Decimal:
    return Decimal("0.00") if data.get(key) is None else _amount(data, key, field)


def _maybe_amount(data: Mapping[str, Any], key: str, field: str) -> Decimal | None:
    return None if data.get(key) is None else _amount(data, key, field)


def _datetime(data: Mapping[str, Any], key: str, field: str) -> datetime:
    text = _text(data, key, field)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UnparsableOrder(field, f"is not an ISO-8601 date: {text!r}") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UnparsableOrder(field, f"has no time zone: {text!r}")
    return moment


def _optional_datetime(data: Mapping[str, Any], key: str, field: str) -> datetime | None:
    return None if data.get(key) in (None, "") else _datetime(data, key, field)


__all__ = [
    "ORDER_STATUS_OF_STATE",
    "REFUND_STATUS_OF_STATE",
    "MarketplaceCancelation",
    "MarketplaceLine",
    "MarketplaceOrder",
    "MarketplaceRefund",
    "MarketplaceShipping",
    "UnparsableOrder",
    "customer_details",
    "is_known_order_state",
    "marketplace_flags",
    "order_status",
    "parse_order",
    "refund_status",
    "view_order",
]
