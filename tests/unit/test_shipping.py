"""Shipping an order: tracking number, carrier and tracking URL rules."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidStatus, RuleViolation
from app.domain.order import Order, OrderStatus
from app.projections.order_tabs import TAB_OF_STATUS
from tests.unit.order_builders import TRACKING_NUMBER, hours_after_creation, order_in

SHIPPED_AT = hours_after_creation(26)


def _ship(
    order: Order,
    *,
    tracking_number: str = TRACKING_NUMBER,
    carrier: str = "Colissimo",
    tracking_url: str | None = None,
) -> None:
    order.ship(
        tracking_number=tracking_number, carrier=carrier, tracking_url=tracking_url, at=SHIPPED_AT
    )


def _refused_shipment(**kwargs: str | None) -> RuleViolation:
    """Ship with these values, expect a refusal and an order left untouched."""
    order = order_in(OrderStatus.TOSHIP)
    with pytest.raises(RuleViolation) as refused:
        _ship(order, **kwargs)  # type: ignore[arg-type]
    assert order.status == OrderStatus.TOSHIP
    assert order.shipment is None
    assert order.collect_events() == []
    return refused.value


def test_a_shipped_order_records_carrier_tracking_number_and_url() -> None:
    """TOSHIP -> SHIPPED with the parcel's tracking, shown in the Sent tab."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, carrier="Colissimo", tracking_url="https://www.laposte.fr/suivi/6A12345678901")

    assert order.status == OrderStatus.SHIPPED
    assert TAB_OF_STATUS[order.status] == "sent"
    assert order.shipment is not None
    assert order.shipment.carrier == "Colissimo"
    assert order.shipment.tracking_number == TRACKING_NUMBER
    assert order.shipment.tracking_url == "https://www.laposte.fr/suivi/6A12345678901"
    assert order.shipment.shipped_at == SHIPPED_AT
    assert [order.line_status(line) for line in order.lines] == ["SHIPPED", "SHIPPED"]


def test_a_tracking_number_of_32_characters_is_accepted() -> None:
    """32 characters is the guide's maximum."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, tracking_number="X" * 32)

    assert order.shipment is not None and order.shipment.tracking_number == "X" * 32


def test_a_tracking_number_of_33_characters_is_refused() -> None:
    """One character over the maximum is refused on tracking_number."""
    error = _refused_shipment(tracking_number="X" * 33)

    assert (error.field, error.rule) == ("tracking_number", "max_length")


@pytest.mark.parametrize("tracking_number", ["6A 123456", "6A\t123456", "6A\n123"])
def test_a_tracking_number_with_spaces_is_refused(tracking_number: str) -> None:
    """A tracking number is one word: inner spaces are a typing mistake."""
    error = _refused_shipment(tracking_number=tracking_number)

    assert (error.field, error.rule) == ("tracking_number", "no_whitespace")


def test_spaces_around_the_tracking_number_are_trimmed() -> None:
    """A copied tracking number often comes with spaces around it."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, tracking_number="  6A12345678901 ")

    assert order.shipment is not None and order.shipment.tracking_number == "6A12345678901"


@pytest.mark.parametrize("tracking_number", ["", "   "])
def test_a_shipment_needs_a_tracking_number(tracking_number: str) -> None:
    """No tracking number, no shipment."""
    error = _refused_shipment(tracking_number=tracking_number)

    assert (error.field, error.rule) == ("tracking_number", "required")


@pytest.mark.parametrize("carrier", ["", "  "])
def test_a_shipment_needs_a_carrier(carrier: str) -> None:
    """The carrier is a free value but not an empty one."""
    error = _refused_shipment(carrier=carrier, tracking_url="https://example.fr/t/6A1")

    assert (error.field, error.rule) == ("carrier", "required")


@pytest.mark.parametrize(
    "tracking_url",
    ["http://suivi.example.fr/6A12345678901", "https://suivi.example.fr/6A12345678901"],
)
def test_a_tracking_url_starting_with_http_or_https_is_kept(tracking_url: str) -> None:
    """The merchant's own URL wins over a generated one."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, carrier="Colissimo", tracking_url=tracking_url)

    assert order.shipment is not None and order.shipment.tracking_url == tracking_url


@pytest.mark.parametrize(
    "tracking_url",
    [
        "www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "ftp://suivi.example.fr/6A12345678901",
        "javascript:alert(1)",
        "https://suivi.example.fr/6A 123",
        "   ",
    ],
)
def test_a_tracking_url_that_is_not_http_is_refused(tracking_url: str) -> None:
    """Only http:// and https:// links, without spaces, reach the customer."""
    error = _refused_shipment(tracking_url=tracking_url)

    assert (error.field, error.rule) == ("tracking_url", "http_url")


@pytest.mark.parametrize(
    "carrier",
    [
        "Colissimo",
        "colissimo",
        "COLISSIMO",
        "Chronopost",
        "DHL",
        "dhl",
        "UPS",
        "GLS",
        "DPD",
        "Mondial Relay",
        "mondial-relay",
        "MondialRelay",
        "Colis Privé",
        "colis prive",
        "COLIS PRIVÉ",
        "colis-privé",
        " Colissimo ",
    ],
)
def test_a_known_carrier_without_url_gets_a_tracking_url_built_from_the_number(
    carrier: str,
) -> None:
    """Carriers we know get their tracking page, whatever the case, accents or spacing."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, carrier=carrier, tracking_url=None)

    assert order.shipment is not None
    assert order.shipment.tracking_url.startswith("https://")
    assert TRACKING_NUMBER in order.shipment.tracking_url


def test_each_known_carrier_has_its_own_tracking_page() -> None:
    """Colissimo and Chronopost parcels do not share a URL."""
    urls = set()
    for carrier in [
        "Colissimo", "Chronopost", "DHL", "UPS", "GLS", "DPD", "Mondial Relay", "Colis Privé"
    ]:
        order = order_in(OrderStatus.TOSHIP)
        _ship(order, carrier=carrier)
        assert order.shipment is not None
        urls.add(order.shipment.tracking_url)

    assert len(urls) == 8


def test_an_empty_url_counts_as_no_url() -> None:
    """An empty string from a form means: build it for me."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, carrier="Chronopost", tracking_url="")

    assert order.shipment is not None
    assert order.shipment.tracking_url.startswith("https://www.chronopost.fr/")


def test_an_unknown_carrier_without_url_is_refused_on_the_tracking_url() -> None:
    """We cannot guess Kuehne+Nagel's tracking page: the merchant must give it."""
    error = _refused_shipment(carrier="Kuehne+Nagel", tracking_url=None)

    assert (error.field, error.rule) == ("tracking_url", "required_for_unknown_carrier")
    assert "Kuehne+Nagel" in error.message


def test_an_unknown_carrier_with_its_url_is_shipped() -> None:
    """Any carrier is fine once the merchant gives the tracking URL."""
    order = order_in(OrderStatus.TOSHIP)

    _ship(order, carrier="Kuehne+Nagel", tracking_url="https://mykn.kuehne-nagel.com/6A1")

    assert order.status == OrderStatus.SHIPPED
    assert order.shipment is not None and order.shipment.carrier == "Kuehne+Nagel"


def test_a_shipped_order_cannot_be_shipped_again() -> None:
    """A second shipment would overwrite the first tracking number: it is refused."""
    order = order_in(OrderStatus.SHIPPED)

    with pytest.raises(InvalidStatus, match="cannot ship an order in status SHIPPED"):
        _ship(order, tracking_number="6A99999999999")

    assert order.shipment is not None and order.shipment.tracking_number == TRACKING_NUMBER
