"""The channel's reasons and carriers: the marketplace's lists, kept an hour, read again on demand."""

from __future__ import annotations

from typing import Any

import pytest

from app.application.reference_data import (
    CANCELATION,
    REFUND,
    ChannelReference,
    UnknownReason,
)
from app.ports.marketplace import UpstreamUnavailable


class FakeMarketplace:
    """RE01 and SH21 only, counting the calls; `down` makes them fail."""

    channel = "laredoute"

    def __init__(self) -> None:
        self.reason_list: list[dict[str, Any]] = [
            {"code": "OUT_OF_STOCK", "label": "Produit en rupture de stock",
             "type": CANCELATION, "is_shop_right": True},
            {"code": "DAMAGED_PRODUCT", "label": "Produit endommagé à la livraison",
             "type": REFUND, "is_shop_right": True},
            {"code": "GOODWILL", "label": "Geste commercial", "type": REFUND,
             "is_shop_right": True},
            {"code": "OPERATOR_ONLY", "label": "Réservé à l'opérateur", "type": REFUND,
             "is_shop_right": False},
        ]
        self.carrier_list: list[dict[str, Any]] = [
            {"code": "COLIS_PRIVE", "label": "Colis Privé",
             "tracking_url": "https://colis.example/suivi?n={trackingId}"},
            {"code": "TNT", "label": "TNT"},
        ]
        self.calls: list[str] = []
        self.down = False

    def reasons(self) -> list[dict[str, Any]]:
        self.calls.append("RE01")
        if self.down:
            raise UpstreamUnavailable("RE01", "connection refused")
        return list(self.reason_list)

    def carriers(self) -> list[dict[str, Any]]:
        self.calls.append("SH21")
        if self.down:
            raise UpstreamUnavailable("SH21", "connection refused")
        return list(self.carrier_list)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

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


def test_the_lists_are_read_once_and_kept_for_an_hour(
    reference: ChannelReference, market: FakeMarketplace, clock: Clock
) -> None:
    first = reference.reasons("laredoute")
    assert first is not None and first.fetched_at == clock.now
    assert [r.code for r in first.items][:2] == ["OUT_OF_STOCK", "DAMAGED_PRODUCT"]
    clock.now += 3599
    assert reference.reasons("laredoute") is first
    assert market.calls == ["RE01"]
    clock.now += 1
    market.reason_list.append({"code": "NEW", "label": "Nouveau", "type": REFUND,
                               "is_shop_right": True})
    again = reference.reasons("laredoute")
    assert again is not None and "NEW" in [r.code for r in again.items]
    assert market.calls == ["RE01", "RE01"]


def test_refresh_reads_both_lists_now(reference: ChannelReference, market: FakeMarketplace) -> None:
    reference.reasons("laredoute")
    reference.carriers("laredoute")
    reference.refresh("laredoute")
    assert market.calls == ["RE01", "SH21", "RE01", "SH21"]


def test_a_reason_is_taken_by_code_or_label_and_kept_as_its_code(
    reference: ChannelReference,
) -> None:
    assert reference.reason_code("laredoute", REFUND, "DAMAGED_PRODUCT") == "DAMAGED_PRODUCT"
    assert reference.reason_code("laredoute", REFUND, "geste commercial") == "GOODWILL"
    assert reference.reason_code("laredoute", CANCELATION, " OUT_OF_STOCK ") == "OUT_OF_STOCK"


@pytest.mark.parametrize("given", ["Défaut", "OUT_OF_STOCK", "OPERATOR_ONLY", ""])
def test_a_reason_not_of_the_marketplace_or_not_of_the_type_is_refused_with_the_valid_codes(
    reference: ChannelReference, given: str
) -> None:
    """No fallback: another type's reason, or one the shop may not use, is refused too."""
    with pytest.raises(UnknownReason) as refused:
        reference.reason_code("laredoute", REFUND, given)
    assert refused.value.field == "reason"
    assert refused.value.rule == "marketplace_reason"
    assert refused.value.valid_codes == ["DAMAGED_PRODUCT", "GOODWILL"]
    assert "DAMAGED_PRODUCT, GOODWILL" in refused.value.message


def test_an_unknown_reason_reads_the_list_again_once_then_not_within_a_minute(
    reference: ChannelReference, market: FakeMarketplace, clock: Clock
) -> None:
    reference.reasons("laredoute")
    clock.now += 60
    market.reason_list.append({"code": "MISSING_ITEM", "label": "Article manquant",
                               "type": REFUND, "is_shop_right": True})
    assert reference.reason_code("laredoute", REFUND, "MISSING_ITEM") == "MISSING_ITEM"
    assert market.calls == ["RE01", "RE01"]
    with pytest.raises(UnknownReason):
        reference.reason_code("laredoute", REFUND, "Défaut")
    assert market.calls == ["RE01", "RE01"]


def test_a_channel_without_marketplace_takes_the_reason_as_given(
    reference: ChannelReference,
) -> None:
    assert not reference.configured("labrandboutique")
    assert reference.reason_code("labrandboutique", REFUND, "Défaut") == "Défaut"
    assert reference.reasons("labrandboutique") is None
    assert reference.carrier("labrandboutique", "Colissimo") is None


def test_the_last_lists_read_serve_while_the_marketplace_is_down(
    reference: ChannelReference, market: FakeMarketplace, clock: Clock
) -> None:
    kept = reference.reasons("laredoute")
    market.down = True
    clock.now += 7200
    assert reference.reasons("laredoute") is kept
    assert reference.reason_code("laredoute", REFUND, "GOODWILL") == "GOODWILL"


def test_with_nothing_read_yet_a_marketplace_down_is_the_callers_failure(
    reference: ChannelReference, market: FakeMarketplace
) -> None:
    market.down = True
    with pytest.raises(UpstreamUnavailable):
        reference.reason_code("laredoute", REFUND, "GOODWILL")
    with pytest.raises(UpstreamUnavailable):
        reference.carriers("laredoute")


def test_a_carrier_is_found_by_code_or_label_whatever_the_spelling(
    reference: ChannelReference, market: FakeMarketplace
) -> None:
    for given in ("COLIS_PRIVE", "Colis Privé", "colis-prive"):
        found = reference.carrier("laredoute", given)
        assert found is not None and found.code == "COLIS_PRIVE"
    colis = reference.carrier("laredoute", "colisprive")
    assert colis is not None
    assert colis.url_for("AB12") == "https://colis.example/suivi?n=AB12"
    tnt = reference.carrier("laredoute", "tnt")
    assert tnt is not None and tnt.url_for("AB12") is None
    assert reference.carrier("laredoute", "Coursier du quartier") is None
    assert market.calls == ["SH21"]  # read a moment ago: an unknown one does not re-read it
