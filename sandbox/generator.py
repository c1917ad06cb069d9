"""Realistic La Redoute orders: French customers, home or relay delivery, fashion and home goods.

Everything random comes from one seeded random.Random and one seeded Faker, so a seed gives the
same orders in the same sequence. What identifies an offer (EAN, product SKU, offer id) is derived
from its SKU alone, so an offer keeps its EAN from one order to the next, as on the marketplace.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from faker import Faker

from sandbox.catalog import PRODUCTS, Product, ean13
from sandbox.clock import format_date
from sandbox.config import ShopConfig
from sandbox.orders import WAITING_ACCEPTANCE, RawLine, RawOrder, money, refresh

Delivery = Literal["home", "relay"]

HOME_SHIPPING = (Decimal("4.90"), Decimal("1.00"))  # first line, each further line
RELAY_SHIPPING = (Decimal("2.90"), Decimal("0.50"))
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

    def __init__(self, seed: int | None, shipping_leadtime_days: int = 2) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed if seed is not None else self.rng.randrange(2**32))
        self.leadtime_days = shipping_leadtime_days

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
            "order_tax_mode": "TAX_INCLUDED",
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
            first, further = RELAY_SHIPPING
        else:
            order["shipping_type_code"] = "HOME"
            order["shipping_type_label"] = "Livraison à domicile"
            first, further = HOME_SHIPPING
        products = self.rng.sample(PRODUCTS, k=min(line_count, len(PRODUCTS)))
        for index, product in enumerate(products, start=1):
            shipping = first if index == 1 else further
            order["order_lines"].append(self._line(order_id, index, product, shipping, created))
        refresh(order)
        return order

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

    def _line(
        self, order_id: str, index: int, product: Product, shipping: Decimal, created: str
    ) -> RawLine:
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
            "price_unit": money(product.price),
            "origin_unit_price": money(product.price),
            "price": money(product.price * quantity),
            "shipping_price": money(shipping),
            "product_medias": [],
            "order_line_additional_fields": [
                {"code": "ean", "type": "STRING", "value": variant_ean(sku)},
            ],
            "cancelations": [],
            "refunds": [],
        }
