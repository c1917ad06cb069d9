"""The marketplace's reference data per channel: its reasons (RE01), its carriers (SH21) and the
offer additional fields its shop declares (AF01).

Reasons and carriers are the marketplace's, not ours: a refusal, cancellation or refund reason
must be one of the channel's reasons of the right type, sent by its code; a carrier the
marketplace knows is sent by its code, another one by name with its tracking URL.

Each channel's lists are read from its marketplace on first use and kept for `max_age`
seconds (an hour by default); `refresh` reads them again at once, and a reason that is not in
the list kept triggers one re-read (at most every `min_refresh_interval` seconds) before it is
refused, so a reason added in the back office is usable without waiting. When a re-read fails,
the last lists read keep serving; with none read yet the failure is the caller's.

The offer additional fields are kept a day (`offer_fields_max_age`): the spec allows AF01 once
a day. Asking for them again with `refresh` reads them at once, but not sooner than
`min_refresh_interval` after the last read (the feed does so when the marketplace failed an
import, which may be a column it no longer takes).

A channel without a marketplace configured (no sync) has no lists: any non-empty reason is
kept as given, and carriers are the domain's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from app.domain.carriers import carrier_key
from app.domain.errors import RuleViolation
from app.ports.marketplace import Marketplace, UpstreamUnavailable

log = structlog.get_logger(__name__)

REFUND = "REFUND"
CANCELATION = "CANCELATION"
# OR21 carries no reason: a refusal's reason is our record of why, taken from the
# marketplace's cancelation reasons (out of stock, price error, unable to ship...), the
# vocabulary of an order that will not be fulfilled.
REFUSAL = CANCELATION


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    type: str
    is_shop_right: bool


@dataclass(frozen=True)
class Carrier:
    code: str
    label: str
    tracking_url: str | None

    def url_for(self, tracking_number: str) -> str | None:
        """The tracking page of a parcel from the marketplace's template, if it has one."""
        if not self.tracking_url or "{trackingId}" not in self.tracking_url:
            return None
        return self.tracking_url.replace("{trackingId}", tracking_number)


@dataclass(frozen=True)
class OfferField:
    """An offer additional field the shop declares (AF01)."""

    code: str
    type: str
    required: bool


@dataclass(frozen=True)
class Listing:
    """One channel's list as last read, and when (epoch seconds)."""

    items: tuple[Any, ...]
    fetched_at: float


class UnknownReason(RuleViolation):
    """The reason is not one of the channel's marketplace reasons of the type needed."""

    def __init__(self, channel: str, kind: str, given: str, valid_codes: list[str],
                 field: str = "reason") -> None:
        self.channel = channel
        self.kind = kind
        self.valid_codes = valid_codes
        super().__init__(
            field,
            "marketplace_reason",
            f"{given!r} is not one of {channel}'s {kind} reasons; valid codes: "
            f"{', '.join(valid_codes) or 'none'}",
        )


class ChannelReference:
    """Reads and keeps each channel's reasons and carriers from its marketplace."""

    def __init__(
        self,
        clients: Mapping[str, Marketplace],
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = 3600.0,
        min_refresh_interval: float = 60.0,
        offer_fields_max_age: float = 24 * 3600.0,
    ) -> None:
        self.clients = dict(clients)
        self.clock = clock
        self.max_age = max_age
        self.min_refresh_interval = min_refresh_interval
        self.offer_fields_max_age = offer_fields_max_age
        self._lists: dict[tuple[str, str], Listing] = {}
        self._lock = threading.Lock()

    def configured(self, channel: str) -> bool:
        return channel in self.clients

    # ---------------------------------------------------------------- the lists

    def reasons(self, channel: str, *, refresh: bool = False) -> Listing | None:
        """The channel's reasons (every type), or None without a marketplace."""
        return self._listing(channel, "reasons", refresh=refresh)

    def carriers(self, channel: str, *, refresh: bool = False) -> Listing | None:
        """The channel's carriers, or None without a marketplace."""
        return self._listing(channel, "carriers", refresh=refresh)

    def offer_fields(self, channel: str, *, refresh: bool = False) -> Listing | None:
        """The offer additional fields the channel's shop declares, or None without a
        marketplace; `refresh` reads them again unless they were read moments ago."""
        refresh = refresh and self._may_refresh(channel, "offer_fields")
        return self._listing(channel, "offer_fields", refresh=refresh)

    def refresh(self, channel: str) -> None:
        """Read both lists of the channel again now."""
        self.reasons(channel, refresh=True)
        self.carriers(channel, refresh=True)

    # ---------------------------------------------------------------- matching

    def reason_code(self, channel: str, kind: str, given: str, *, field: str = "reason") -> str:
        """The marketplace's code of the reason given by code or label; UnknownReason if it
        has none of this type. Without a marketplace, the reason as given."""
        if not self.configured(channel):
            return given
        code = self._match_reason(channel, kind, given)
        if code is None and self._may_refresh(channel, "reasons"):
            self.reasons(channel, refresh=True)
            code = self._match_reason(channel, kind, given)
        if code is None:
            raise UnknownReason(channel, kind, given,
                                [r.code for r in self._usable(channel, kind)], field=field)
        return code

    def carrier(self, channel: str, given: str) -> Carrier | None:
        """The marketplace's carrier named by code or label (spelling aside), else None."""
        if not self.configured(channel):
            return None
        found = self._match_carrier(channel, given)
        if found is None and self._may_refresh(channel, "carriers"):
            self.carriers(channel, refresh=True)
            found = self._match_carrier(channel, given)
        return found

    def _usable(self, channel: str, kind: str) -> list[Reason]:
        listing = self.reasons(channel)
        items = listing.items if listing else ()
        return [r for r in items if r.type == kind and r.is_shop_right]

    def _match_reason(self, channel: str, kind: str, given: str) -> str | None:
        wanted = given.strip()
        usable = self._usable(channel, kind)
        for reason in usable:
            if reason.code == wanted:
                return reason.code
        folded = wanted.casefold()
        for reason in usable:
            if folded in (reason.code.casefold(), reason.label.strip().casefold()):
                return reason.code
        return None

    def _match_carrier(self, channel: str, given: str) -> Carrier | None:
        listing = self.carriers(channel)
        key = carrier_key(given)
        if not key or listing is None:
            return None
        for carrier in listing.items:
            if key in (carrier_key(carrier.code), carrier_key(carrier.label)):
                return carrier
        return None

    # ---------------------------------------------------------------- the cache

    def _may_refresh(self, channel: str, kind: str) -> bool:
        listing = self._lists.get((channel, kind))
        return listing is None or self.clock() - listing.fetched_at >= self.min_refresh_interval

    def _listing(self, channel: str, kind: str, *, refresh: bool) -> Listing | None:
        client = self.clients.get(channel)
        if client is None:
            return None
        with self._lock:
            kept = self._lists.get((channel, kind))
            now = self.clock()
            max_age = self.offer_fields_max_age if kind == "offer_fields" else self.max_age
            if kept is not None and not refresh and now - kept.fetched_at < max_age:
                return kept
            try:
                items = _read(client, kind)
            except UpstreamUnavailable as exc:
                if kept is None:
                    raise
                log.warning("marketplace_reference_stale", channel=channel, kind=kind,
                            error=str(exc))
                return kept
            listing = Listing(items, now)
            self._lists[(channel, kind)] = listing
            return listing


def _read(client: Marketplace, kind: str) -> tuple[Any, ...]:
    if kind == "offer_fields":
        return tuple(
            OfferField(code=str(f["code"]), type=str(f.get("type") or ""),
                       required=bool(f.get("required", False)))
            for f in client.offer_additional_fields() if f.get("code") is not None
        )
    if kind == "reasons":
        return tuple(
            Reason(code=str(r["code"]), label=str(r.get("label") or ""),
                   type=str(r.get("type") or ""), is_shop_right=bool(r.get("is_shop_right", True)))
            for r in client.reasons() if r.get("code") is not None
        )
    return tuple(
        Carrier(code=str(c["code"]), label=str(c.get("label") or c["code"]),
                tracking_url=c.get("tracking_url") or None)
        for c in client.carriers() if c.get("code") is not None
    )


__all__ = ["CANCELATION", "REFUND", "REFUSAL", "Carrier", "ChannelReference", "Listing",
           "OfferField", "Reason", "UnknownReason"]
