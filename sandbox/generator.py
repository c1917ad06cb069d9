"""Realistic La Redoute orders: French customers, home or relay delivery, fashion and home goods.

Everything random comes from one seeded random.Random and one seeded Faker, so a seed gives the
same orders in the same sequence. What identifies an offer (EAN, product SKU, offer id) is derived
from its SKU alone, so an offer keeps its EAN from one order to the next, as on the marketplace.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from faker import Faker

from sandbox.catalog import PRODUCTS, Product, ean13
from sandbox.clock import format_date
from sandbox.config import OrderMoney, ShopConfig
from sandbox.orders import (
    CENT,
    TAX_EXCLUDED,
    WAITING_ACCEPTANCE,
    RawLine,
    RawOrder,
    money,
    refresh,
    tax_amount,
)

Delivery = Literal["home", "relay"]


@dataclass(frozen=True)
class Shipping:
    """Shipping of a line, tax included: its first item (the order's first line costs more)
    and each further item of the same line."""

    first_line: Decimal
    further_line: Decimal
    additional_item: Decimal


HOME_SHIPPING = Shipping(Decimal("4.90"), Decimal("1.00"), Decimal("0.50"))
RELAY_SHIPPING = Shipping(Decimal("2.90"), Decimal("0.50"), Decimal("0.00"))
# French VAT: the standard rate on everything the catalogue sells and on delivery.
VAT_RATE = Decimal(20)
VAT_CODE = "TVA-20"
# The eco-participation added to the sale price in the basket, per item (the seller guide's
# SellingPriceWEEFee): furniture and electrical goods.
ECO_FEE_CODE = "ECO_PARTICIPATION"
ECO_FEES = {"mobilier": Decimal("1.50"), "luminaires": Decimal("0.30")}
# Some lines are sold on promotion: percentage off the offer's price.
PROMOTION_SHARE = 0.3
PROMOTION_PERCENTAGES = (10, 20, 30)
RELAY_KINDS = ("Tabac Presse", "Pressing", "Fleuriste", "Librairie", "Épicerie", "Cordonnerie")
# Real towns, so addresses look like the ones a carrier sees.
TOWNS = (
    ("59100", "Roubaix"), ("75011", "Paris"), ("69003", "Lyon"), ("13006", "Marseille"),
    ("31000", "Toulouse"), ("33000", "Bordeaux"), ("44000", "Nantes"), ("67000", "Strasbourg"),
    ("34000", "Montpellier"), ("35000", "Rennes"), ("59000", "Lille"), ("06000", "Nice"),
    ("21000", "Dijon"), ("37000", "Tours"), ("63000", "Clermont-Ferrand"), ("29200", "Brest"),
    ("76000", "Rouen"), ("87000", "Limoges"), ("64200", "Biarritz"), ("74000", "Annecy"),
)
STREET_2 = ("Bâtiment B", "Appartement 12", "Résidence Les Tilleuls", "Escalier C, 3e étage")


def _stable_digits(text: str, count: int) -> str:
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    return str(digest % 10**count).zfill(count)


def variant_sku(product: Product, variant: str) -> str:
    return f"{product.sku_stem}-{variant}"[:32]


def variant_ean(sku: str) -> str:
    """The EAN-13 the catalogue gives a variant, from its SKU alone."""
    return ean13("360" + _stable_digits("ean:" + sku, 9))


def product_sku(reference: str) -> str:
    """The marketplace's own product SKU for a variant SKU or an EAN."""
    return "MP" + _stable_digits("product:" + reference, 9)


def random_state(rng: random.Random) -> list[Any]:
    """A Random's state as JSON values, for a state file."""
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


def set_random_state(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss_next = state
    rng.setstate((version, tuple(internal), gauss_next))


class OrderGenerator:
    """Builds new WAITING_ACCEPTANCE orders; the caller stores them and keeps ids unique."""

    def __init__(self, seed: int | None, shipping_leadtime_days: int = 2,
                 order_money: OrderMoney | None = None) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed if seed is not None else self.rng.randrange(2**32))
        self.leadtime_days = shipping_leadtime_days
        # Shared with the marketplace, whose control API changes it; read for each new order.
        self.order_money = order_money or OrderMoney()

    def export_state(self) -> dict[str, Any]:
        """Where both random sequences are, so a restarted sandbox goes on with new orders."""
        return {"rng": random_state(self.rng), "faker": random_state(self.fake.random)}

    def restore_state(self, state: dict[str, Any]) -> None:
        set_random_state(self.rng, state["rng"])
        set_random_state(self.fake.random, state["faker"])

    def order_id(self, shop: ShopConfig) -> str:
        return f"{shop.order_prefix}-{self.rng.randrange(10**8):08d}-A"

    def new_order(
        self,
        shop: ShopConfig,
        order_id: str,
        now: datetime,
        line_count: int | None = None,
        delivery: Delivery | None = None,
    ) -> RawOrder:
        delivery = delivery or self.rng.choice(("home", "home", "relay"))
        line_count = line_count or self.rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
        created = format_date(now)
        customer = self._customer(delivery)
        order: RawOrder = {
            "order_id": order_id,
            "commercial_id": order_id.rsplit("-", 1)[0],
            "channel": {"code": shop.channel_code, "label": shop.channel_label},
            "created_date": created,
            "last_updated_date": created,
            "currency_iso_code": "EUR",
            "customer": customer,
            "customer_notification_email": self.fake.email(),
            "customer_directly_pays_seller": False,
            "delivery_date": {
                "earliest": format_date(now + timedelta(days=self.leadtime_days + 1)),
                "latest": format_date(now + timedelta(days=self.leadtime_days + 4)),
            },
            "fulfillment": {"center": {"code": "DEFAULT"}},
            "has_customer_message": False,
            "has_incident": False,
            "has_invoice": False,
            "leadtime_to_ship": self.leadtime_days,
            "order_additional_fields": [],
            "order_state": WAITING_ACCEPTANCE,
            "order_tax_mode": self.order_money.order_tax_mode,
            "paymentType": "CB",
            "payment_type": "CB",
            "payment_workflow": "PAY_ON_ACCEPTANCE",
            "references": {"order_reference_for_customer": order_id.rsplit("-", 1)[0]},
            "shipping_deadline": format_date(now + timedelta(days=self.leadtime_days + 1)),
            "shipping_zone_code": "FR-METRO",
            "shipping_zone_label": "France métropolitaine",
            "order_lines": [],
        }
        if delivery == "relay":
            order["shipping_type_code"] = "RELAY"
            order["shipping_type_label"] = "Livraison en point relais"
            order["shipping_pudo_id"] = f"FR{self.rng.randrange(10**6):06d}"
            shipping = RELAY_SHIPPING
        else:
            order["shipping_type_code"] = "HOME"
            order["shipping_type_label"] = "Livraison à domicile"
            shipping = HOME_SHIPPING
        products = self.rng.sample(PRODUCTS, k=min(line_count, len(PRODUCTS)))
        for index, product in enumerate(products, start=1):
            line = self._line(order_id, index, product, created)
            self._price_line(line, product, shipping, index == 1)
            order["order_lines"].append(line)
        refresh(order)
        return order

    def _price_line(self, line: RawLine, product: Product, shipping: Shipping,
                    first_line: bool) -> None:
        """The line's money in the order's tax mode: unit prices, promotion, shipping, VAT
        on the price and on the shipping, eco-participation.

        The catalogue's prices are consumer prices, VAT included. In TAX_EXCLUDED mode every
        price is shown without VAT and the VAT comes on top; with taxes disabled, prices stay
        as they are and no tax is listed.
        """
        tax_mode = self.order_money.order_tax_mode
        taxed = self.order_money.taxes_enabled
        quantity = line["quantity"]

        def shown(consumer_price: Decimal) -> Decimal:
            if taxed and tax_mode == TAX_EXCLUDED:
                return (consumer_price * 100 / (100 + VAT_RATE)).quantize(CENT)
            return consumer_price

        origin_unit = shown(product.price)
        unit = origin_unit
        percentage = None
        if self.rng.random() < PROMOTION_SHARE:
            percentage = self.rng.choice(PROMOTION_PERCENTAGES)
            unit = (origin_unit * (100 - percentage) / 100).quantize(CENT)
        price = unit * quantity
        shipping_unit = shown(shipping.first_line if first_line else shipping.further_line)
        shipping_additional = shown(shipping.additional_item)
        shipping_price = shipping_unit + shipping_additional * (quantity - 1)
        line["price_unit"] = money(unit)
        line["origin_unit_price"] = money(origin_unit)
        line["price"] = money(price)
        line["shipping_price_unit"] = money(shipping_unit)
        line["shipping_price_additional_unit"] = money(shipping_additional)
        line["shipping_price"] = money(shipping_price)
        line["taxes"] = [self._vat(price, tax_mode)] if taxed else []
        line["shipping_taxes"] = [self._vat(shipping_price, tax_mode)] if taxed else []
        eco_fee = ECO_FEES.get(product.category_code)
        line["fees"] = ([{"code": ECO_FEE_CODE, "amount": money(eco_fee * quantity)}]
                        if eco_fee is not None else [])
        if percentage is not None:
            line["promotions"] = [{
                "id": f"PROMO-{percentage}",
                "apportioned": False,
                "campaign": {"identifier": "SOLDES"},
                "configuration": {"type": "PERCENTAGE_OFF", "percentage_off": percentage,
                                  "internal_description": f"-{percentage} % sur l'article"},
                "deduced_amount": money((origin_unit - unit) * quantity),
            }]

    @staticmethod
    def _vat(base: Decimal, tax_mode: str) -> dict[str, object]:
        return {"code": VAT_CODE, "rate": float(VAT_RATE),
                "amount": money(tax_amount(base, VAT_RATE, tax_mode)),
                "tax_calculation_rule": "NONE"}

    def _address(self, firstname: str, lastname: str, phone: str) -> dict[str, str]:
        zip_code, city = self.rng.choice(TOWNS)
        address = {
            "firstname": firstname,
            "lastname": lastname,
            "street_1": self.fake.street_address(),
            "zip_code": zip_code,
            "city": city,
            "country": "France",
            "country_iso_code": "FRA",
            "phone": phone,
        }
        if self.rng.random() < 0.25:
            address["street_2"] = self.rng.choice(STREET_2)
        return address

    def _customer(self, delivery: Delivery) -> dict[str, object]:
        female = self.rng.random() < 0.6
        firstname = self.fake.first_name_female() if female else self.fake.first_name_male()
        lastname = self.fake.last_name()
        civility = "Mme" if female else "M."
        phone = self.fake.phone_number()
        billing = {"civility": civility, **self._address(firstname, lastname, phone)}
        if delivery == "relay":
            # The relay's name and address replace the customer's home in the shipping address.
            shipping = {
                "civility": civility,
                "company": f"{self.rng.choice(RELAY_KINDS)} {self.fake.last_name()}",
                **self._address(firstname, lastname, phone),
            }
        elif self.rng.random() < 0.2:
            shipping = {"civility": civility, **self._address(firstname, lastname, phone)}
        else:
            shipping = dict(billing)
        return {
            "customer_id": str(self.rng.randrange(10**7, 10**8)),
            "civility": civility,
            "firstname": firstname,
            "lastname": lastname,
            "locale": "fr_FR",
            "billing_address": billing,
            "shipping_address": shipping,
        }

    def _line(self, order_id: str, index: int, product: Product, created: str) -> RawLine:
        """The line without its money (see _price_line)."""
        variant = self.rng.choice(product.variants)
        sku = variant_sku(product, variant)
        quantity = self.rng.choice((1, 1, 1, 1, 2, 2, 3))
        return {
            "order_line_id": f"{order_id}-{index}",
            "order_line_index": index,
            "order_line_state": WAITING_ACCEPTANCE,
            "created_date": created,
            "last_updated_date": created,
            "offer_id": int(_stable_digits("offer:" + sku, 7)) + 1,
            "offer_sku": sku,
            "offer_state_code": "11",
            "product_sku": product_sku(sku),
            "product_title": product.title,
            "description": f"{product.title} – {variant.lower()}",
            "category_code": product.category_code,
            "category_label": product.category_label,
            "quantity": quantity,
            "product_medias": [],
            "order_line_additional_fields": [
                {"code": "ean", "type": "STRING", "value": variant_ean(sku)},
            ],
            "cancelations": [],
            "refunds": [],
        }
