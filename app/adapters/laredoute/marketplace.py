"""`LaRedouteMarketplace`: one channel's Mirakl shop behind the `Marketplace` port.

The client speaks HTTP and Mirakl's documents; this class adds what the use cases need on top
of it: order documents read into the port's types (`mapping`) and offers written as OF01
files, with the additional fields the shop declares (AF01), and read back from OF03 reports
(`offer_files`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from app.adapters.laredoute.client import MiraklClient
from app.adapters.laredoute.mapping import parse_order, view_order
from app.adapters.laredoute.offer_files import (
    DEFAULT_FIELD_MAP,
    build_offer_file,
    check_field_map,
    offer_columns,
    parse_error_report,
)
from app.ports.marketplace import MarketplaceOrder, SendableOffer


class LaRedouteMarketplace(MiraklClient):
    """The shop of `channel` (La Redoute or La Brand Boutique).

    `offer_field_map` maps our offer values without a standard column onto the shop's
    additional field codes (La Redoute's by default).
    """

    def __init__(self, channel: str, *args: Any,
                 offer_field_map: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self.offer_field_map = check_field_map(
            DEFAULT_FIELD_MAP if offer_field_map is None else offer_field_map)
        super().__init__(*args, **kwargs)
        self.channel = channel

    def __repr__(self) -> str:
        return f"LaRedouteMarketplace(channel={self.channel!r}, base_url={self.base_url!r})"

    def read_order(self, raw: Mapping[str, Any]) -> MarketplaceOrder:
        return view_order(raw)

    def new_order(
        self, raw: Mapping[str, Any], view: MarketplaceOrder | None = None
    ) -> dict[str, Any]:
        return parse_order(raw, self.channel, view)

    def send_offers(self, offers: Iterable[SendableOffer], today: datetime | date,
                    declared: Collection[str] = ()) -> str:
        columns = offer_columns(declared, self.offer_field_map)
        return self.import_offers(build_offer_file(offers, today, columns), mode="NORMAL")

    def offer_values_left_out(self, declared: Collection[str]) -> list[tuple[str, str | None]]:
        return list(offer_columns(declared, self.offer_field_map).left_out)

    def offer_errors(self, import_id: str) -> dict[str, str] | None:
        report = self.offer_error_report(import_id)
        return None if report is None else parse_error_report(report)


__all__ = ["LaRedouteMarketplace"]
