"""What a sandbox run is made of: its shops, its seed and how fast the marketplace moves."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from sandbox.offer_file import DEFAULT_OFFER_ADDITIONAL_FIELDS, AdditionalField
from sandbox.orders import TaxMode
from sandbox.visibility import DEFAULT_ADDRESS_VISIBILITY, AddressVisibility


@dataclass(frozen=True)
class ShopConfig:
    """One Mirakl shop hosted by the sandbox; its API key sees only its own orders."""

    shop_id: int
    api_key: str
    channel_code: str
    channel_label: str
    order_prefix: str  # order ids look like "<prefix>-<8 digits>-A"


DEFAULT_SHOPS: tuple[ShopConfig, ...] = (
    ShopConfig(2001, "sandbox-laredoute-key", "LAREDOUTE", "La Redoute", "LR"),
    ShopConfig(2002, "sandbox-labrandboutique-key", "LABRANDBOUTIQUE", "La Brand Boutique", "LBB"),
)

HOUR = 3600.0


@dataclass
class Timings:
    """The marketplace's own delays, in sandbox seconds; None means "only when told to".

    Kept apart from the rest of the config because the control API changes them at run time.
    """

    payment_delay: float | None = 30.0
    payment_refusal_rate: float = 0.0
    receive_delay: float | None = 2 * HOUR
    close_delay: float | None = 24 * HOUR
    refund_delay: float | None = 10 * 60.0
    demo_orders_per_minute: float = 0.0
    offer_import_delay: float | None = 5.0  # OF01 received -> COMPLETE (RUNNING from half way)

    def as_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class OrderMoney:
    """How new orders count money; the control API changes it at run time.

    order_tax_mode: TAX_INCLUDED (prices hold the VAT, La Redoute's way) or TAX_EXCLUDED
    (VAT on top of the prices). taxes_enabled False makes orders without any tax (taxes and
    shipping_taxes are empty lists), as a marketplace that does not compute taxes sends them.
    Orders already made keep the mode and taxes they were made with.
    """

    order_tax_mode: TaxMode = "TAX_INCLUDED"
    taxes_enabled: bool = True

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SandboxConfig:
    """Everything create_sandbox_app needs; the defaults give a usable marketplace on their own.

    seed makes generated orders (ids, customers, products) and payment refusals reproducible.
    start_time, when given, sets the sandbox clock's "now" at start (the clock then runs on).
    state_file, when given, keeps the marketplace's state in that JSON file: loaded at start if
    it exists (its clock then wins over start_time), written every save_interval seconds when
    something changed, and at shutdown. None keeps everything in memory.
    """

    shops: tuple[ShopConfig, ...] = DEFAULT_SHOPS
    seed: int | None = None
    timings: Timings = field(default_factory=Timings)
    acceptance_deadline: float = 72 * HOUR
    shipping_leadtime_days: int = 2
    # When OR11 shows the customer's addresses, contacts and notification email: from
    # "acceptance" (La Redoute) or from "shipping" (the payment debited). The control API
    # changes it at run time.
    address_visibility: AddressVisibility = DEFAULT_ADDRESS_VISIBILITY
    # How generated orders count money (see OrderMoney); the control API changes both.
    order_tax_mode: TaxMode = "TAX_INCLUDED"
    taxes_enabled: bool = True
    start_time: datetime | None = None
    tick_interval: float = 0.5  # seconds between two runs of the background ticker
    state_file: Path | None = None
    save_interval: float = 1.0
    # The offer additional fields the shops declare (AF01): OF01 takes these columns besides
    # the standard ones, and fails a file with any other. La Redoute's delivery terms by default.
    offer_additional_fields: tuple[AdditionalField, ...] = DEFAULT_OFFER_ADDITIONAL_FIELDS
