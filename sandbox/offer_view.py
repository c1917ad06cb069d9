"""An offer as the marketplace keeps it and as it shows it: OF21's body, the control API's raw
view, and the catalogue product an offer points to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.catalog import PRODUCTS
from sandbox.clock import format_date
from sandbox.generator import product_sku, variant_ean, variant_sku
from sandbox.offer_file import OfferValues
from sandbox.orders import money


@dataclass
class Offer:
    """A shop's offer, as the last import line that set it left it."""

    offer_id: int
    shop_id: int
    values: OfferValues
    line: dict[str, str]  # the cells of the line that last set it, by column name
    created: datetime
    updated: datetime
    import_id: int


@dataclass(frozen=True)
class CatalogueProduct:
    product_sku: str
    title: str
    category_code: str
    category_label: str


def _catalogue_by_ean() -> dict[str, CatalogueProduct]:
    """The variants the order generator sells, by EAN, so their offers show the same product."""
    found = {}
    for product in PRODUCTS:
        for variant in product.variants:
            sku = variant_sku(product, variant)
            found[variant_ean(sku)] = CatalogueProduct(
                product_sku(sku), f"{product.title} – {variant.lower()}",
                product.category_code, product.category_label)
    return found


CATALOGUE = _catalogue_by_ean()


def product_ids(offer: Offer) -> set[str]:
    return {offer.values.product_id, _product(offer.values).product_sku}


def _product(values: OfferValues) -> CatalogueProduct:
    if values.product_id_type == "EAN" and values.product_id in CATALOGUE:
        return CATALOGUE[values.product_id]
    if values.product_id_type == "SHOP_SKU":
        return CatalogueProduct(values.product_id, f"Produit {values.product_id}", "divers",
                                "Divers")
    return CatalogueProduct(product_sku(values.product_id), f"Produit {values.product_id}",
                            "divers", "Divers")


def _within(now: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or start <= now) and (end is None or now <= end)


def render_offer(offer: Offer, now: datetime, default_leadtime_days: int) -> dict[str, Any]:
    """One offer as OF21 shows it: every required field, optional ones only when they apply."""
    v = offer.values
    product = _product(v)
    discounted = v.discount_price is not None and _within(now, v.discount_start, v.discount_end)
    price = v.discount_price if discounted and v.discount_price is not None else v.price
    in_period = _within(now, v.available_start, v.available_end)
    leadtime = v.leadtime_to_ship if v.leadtime_to_ship is not None else default_leadtime_days
    leadtime = max(leadtime, 1)  # the spec: a lead time of 0 is shown as 1
    unit_discount = money(v.discount_price) if v.discount_price is not None else None
    delivery_fee = v.delivery_fee if v.delivery_fee is not None else Decimal(0)

    pricing: dict[str, Any] = {"price": money(price), "unit_origin_price": money(v.price)}
    if unit_discount is not None:
        pricing["unit_discount_price"] = unit_discount
        if v.discount_start is not None:
            pricing["discount_start_date"] = format_date(v.discount_start)
        if v.discount_end is not None:
            pricing["discount_end_date"] = format_date(v.discount_end)
    pricing["volume_prices"] = [{
        "quantity_threshold": 1, "price": money(price), "unit_origin_price": money(v.price),
        "unit_discount_price": unit_discount if unit_discount is not None else money(v.price),
    }]

    body: dict[str, Any] = {
        "offer_id": offer.offer_id,
        "shop_sku": v.sku,
        "product_sku": product.product_sku,
        "product_title": product.title,
        "product_references": [{"reference": v.product_id, "reference_type": v.product_id_type}],
        "category_code": product.category_code,
        "category_label": product.category_label,
        "description": v.description,
        "state_code": v.state,
        "price": money(price),
        "total_price": money(price + delivery_fee),
        "all_prices": [pricing],
        "applicable_pricing": pricing,
        "currency_iso_code": "EUR",
        "quantity": v.quantity,
        "active": v.quantity > 0 and in_period,
        "channels": [],
        "leadtime_to_ship": leadtime,
        "shipping_deadline": format_date(now + timedelta(days=leadtime)),
        "min_shipping_price": money(delivery_fee),
        "min_shipping_price_additional": money(delivery_fee),
        "min_shipping_type": "HOME",
        "min_shipping_zone": "FR",
        "logistic_class": {"code": "STANDARD", "label": "Standard"},
        "fulfillment": {"center": {"code": "DEFAULT"}},
        "min_order_quantity": 1,
        "max_order_quantity": max(v.quantity, 1),
        "min_quantity_alert": 0,
        "package_quantity": 1,
    }
    reasons = ([] if v.quantity > 0 else ["ZERO_QUANTITY"]) + (
        [] if in_period else ["NOT_IN_AVAILABILITY_PERIOD"])
    if reasons:
        body["inactivity_reasons"] = reasons
    if v.available_start is not None:
        body["available_start_date"] = format_date(v.available_start)
    if v.available_end is not None:
        body["available_end_date"] = format_date(v.available_end)
    if v.discount_price is not None:
        discount: dict[str, Any] = {"discount_price": money(v.discount_price),
                                    "origin_price": money(v.price)}
        if v.discount_start is not None:
            discount["start_date"] = format_date(v.discount_start)
        if v.discount_end is not None:
            discount["end_date"] = format_date(v.discount_end)
        body["discount"] = discount
    if v.additional:
        # OF21's offer_additional_fields: each value as a string, typed by its declaration.
        # (a list of values for MULTIPLE_VALUES_LIST, sent separated by "|").
        body["offer_additional_fields"] = [
            {"code": code, "type": kind,
             "value": value.split("|") if kind == "MULTIPLE_VALUES_LIST" else value}
            for code, kind, value in v.additional]
    if v.ecotax is not None:
        body["eco_contributions"] = [{"epr_category_code": "FR-DEEE",
                                      "eco_contribution_amount": money(v.ecotax)}]
    return body


def raw_offer(offer: Offer) -> dict[str, Any]:
    """The control API's view: the line as last sent, cell by cell, and who set it when."""
    return {
        "offer_id": offer.offer_id,
        "shop_id": offer.shop_id,
        "sku": offer.values.sku,
        "import_id": offer.import_id,
        "created_date": format_date(offer.created),
        "last_updated_date": format_date(offer.updated),
        "line": dict(offer.line),
    }
