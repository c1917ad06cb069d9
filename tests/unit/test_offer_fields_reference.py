"""The offer additional fields a channel's shop declares (AF01): read once, kept a day, read
again on demand at most once a minute, and the last list kept when a re-read fails."""

from __future__ import annotations

from typing import Any

import pytest

from app.application.reference_data import ChannelReference, OfferField
from app.ports.marketplace import UpstreamUnavailable


class FakeMarketplace:
    channel = "laredoute"

    def __init__(self) -> None:
        self.fields: list[dict[str, Any]] = [
            {"code": "delivery-fee", "type": "NUMERIC", "required": True, "label": "Frais",
             "editable": True, "entity": "OFFER"},
            {"code": "relay-fee", "type": "NUMERIC", "required": False, "label": "Relais",
             "editable": True},
        ]
        self.calls = 0
        self.down = False

    def offer_additional_fields(self) -> list[dict[str, Any]]:
        self.calls += 1
        if self.down:
            raise UpstreamUnavailable("AF01", "connection refused")
        return list(self.fields)


class Clock:
    def __init__(self) -> None:
        self.now = 5_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def market() -> FakeMarketplace:
    return FakeMarketplace()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reference(market: FakeMarketplace, clock: Clock) -> ChannelReference:
    return ChannelReference({"laredoute": market}, clock=clock)  # type: ignore[dict-item]


def test_the_fields_are_read_once_and_kept_a_day(
        reference: ChannelReference, market: FakeMarketplace, clock: Clock) -> None:
    listing = reference.offer_fields("laredoute")
    assert listing is not None
    assert listing.items == (OfferField("delivery-fee", "NUMERIC", True),
                             OfferField("relay-fee", "NUMERIC", False))
    clock.now += 23 * 3600  # longer than reasons and carriers are kept
    reference.offer_fields("laredoute")
    assert market.calls == 1
    clock.now += 3600
    reference.offer_fields("laredoute")
    assert market.calls == 2


def test_a_refresh_reads_again_but_not_twice_in_a_minute(
        reference: ChannelReference, market: FakeMarketplace, clock: Clock) -> None:
    reference.offer_fields("laredoute")
    market.fields = market.fields[:1]
    reference.offer_fields("laredoute", refresh=True)
    assert market.calls == 1  # read moments ago: kept
    clock.now += 61
    listing = reference.offer_fields("laredoute", refresh=True)
    assert market.calls == 2
    assert listing is not None and [f.code for f in listing.items] == ["delivery-fee"]


def test_a_failed_reread_keeps_the_last_list_and_a_first_failure_is_the_callers(
        reference: ChannelReference, market: FakeMarketplace, clock: Clock) -> None:
    market.down = True
    with pytest.raises(UpstreamUnavailable):
        reference.offer_fields("laredoute")
    market.down = False
    first = reference.offer_fields("laredoute")
    market.down = True
    clock.now += 2 * 24 * 3600
    assert reference.offer_fields("laredoute") == first
    assert market.calls == 3


def test_a_channel_without_marketplace_has_no_fields(reference: ChannelReference) -> None:
    assert reference.offer_fields("labrandboutique") is None
