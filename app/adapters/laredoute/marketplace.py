"""`LaRedouteMarketplace`: one channel's Mirakl shop behind the `Marketplace` port.

The client speaks HTTP and Mirakl's documents; this class adds what the use cases need on top
of it: order documents read into the port's types (`mapping`) and offers written as OF01
files and read back from OF03 reports (`offer_files`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from app.adapters.laredoute.client import MiraklClient
from app.adapters.laredoute.mapping import parse_order, view_order
from app.adapters.laredoute.offer_files import build_offer_file, parse_error_report
from app.ports.marketplace import MarketplaceOrder, SendableOffer


class LaRedouteMarketplace(MiraklClient):
    """The shop of `channel` (La Redoute or La Brand Boutique)."""

    def __init__(self, channel: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def __repr__(self) -> str:
        return f"LaRedouteMarketplace(channel={self.channel!r}, base_url={self.base_url!r})"

    def read_order(self, raw: Mapping[str, Any]) -> MarketplaceOrder:
        return view_order(raw)

    def new_order(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return parse_order(raw, self.channel)

    def send_offers(self, offers: Iterable[SendableOffer], today: datetime | date) -> str:
        return self.import_offers(build_offer_file(offers, today), mode="NORMAL")

    def offer_errors(self, import_id: str) -> dict[str, str] | None:
        report = self.offer_error_report(import_id)
        return None if report is None else parse_error_report(report)


__all__ = ["LaRedouteMarketplace"]
