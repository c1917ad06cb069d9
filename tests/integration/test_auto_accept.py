"""Auto-acceptance of a new order on each store: an order whose every line is out of stock is
refused, recording the channel's own out-of-stock reason (OR21 carries none)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from app.adapters.db import open_database
from app.adapters.sync_store import SyncStore
from app.application.order_import import OrderImporter
from app.bootstrap import offer_service
from app.ports.marketplace import UpstreamUnavailable
from app.projections.offers import OffersProjection
from app.projections.runner import ProjectionRunner
from tests.support import order_fields

SANDBOX_LIKE = [
    {"code": "CUSTOMER_REQUEST", "label": "Annulation à la demande du client",
     "type": "CANCELATION", "is_shop_right": True},
    {"code": "OUT_OF_STOCK", "label": "Produit en rupture de stock", "type": "CANCELATION",
     "is_shop_right": True},
    {"code": "DAMAGED_PRODUCT", "label": "Produit endommagé", "type": "REFUND",
     "is_shop_right": True},
]


class Reasons:
    """The part of a marketplace auto-acceptance reads: its channel and its reasons (RE01)."""

    channel = "laredoute"

    def __init__(self, reasons: list[dict[str, Any]] | Exception) -> None:
        self.answer = reasons
        self.reads = 0

    def reasons(self) -> list[dict[str, Any]]:
        self.reads += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def db(settings) -> Iterator[Any]:
    database = open_database(settings)
    yield database
    database.close()


def _stock(service, db, **quantities: int) -> None:
    catalog = offer_service(service.store, db)
    for sku, quantity in quantities.items():
        catalog.put("laredoute", sku, {"ean": "4006381333931", "price": "10.00",
                                       "quantity": quantity, "delivery_fee": "4.90"})
    ProjectionRunner(db, OffersProjection(db.dialect)).catch_up()


def _auto_accept(service, db, marketplace: Reasons | OrderImporter, mid: str):
    """Import the sample order as `mid` and let the importer decide on it."""
    importer = marketplace if isinstance(marketplace, OrderImporter) else OrderImporter(
        service, SyncStore(db), marketplace, auto_accept=True)  # type: ignore[arg-type]
    order = service.import_order(**order_fields(mid)).order
    importer._auto_accept(order.id)
    return service.get_order(order.id)


def test_an_order_wholly_out_of_stock_is_refused_with_the_channels_out_of_stock_code(
    service, db
) -> None:
    _stock(service, db, **{"TUNIC-LIN-38": 0, "SCARF-SILK": 0})
    market = Reasons(SANDBOX_LIKE)
    importer = OrderImporter(service, SyncStore(db), market, auto_accept=True)  # type: ignore[arg-type]
    order = _auto_accept(service, db, importer, "LR-EMPTY-001")
    assert order.status == "REFUSED"
    assert order.refusal_reason == "OUT_OF_STOCK"
    assert [e.type for e in service.history(order.id)] == ["Imported", "Refused"]
    # The importer keeps the reasons: its next refusal does not read them again.
    again = _auto_accept(service, db, importer, "LR-EMPTY-002")
    assert again.refusal_reason == "OUT_OF_STOCK" and market.reads == 1


def test_the_out_of_stock_reason_is_found_by_its_label_when_its_code_is_another(
    service, db
) -> None:
    """The channel's back office names its reasons as it likes: the code kept is its own."""
    _stock(service, db, **{"TUNIC-LIN-38": 0, "SCARF-SILK": 0})
    reasons = [
        {"code": "12", "label": "Erreur de prix", "type": "CANCELATION", "is_shop_right": True},
        {"code": "13", "label": "Rupture de stock", "type": "REFUND", "is_shop_right": True},
        {"code": "14", "label": "Article en rupture", "type": "CANCELATION",
         "is_shop_right": False},
        {"code": "15", "label": "Produit en rupture de stock", "type": "CANCELATION",
         "is_shop_right": True},
    ]
    order = _auto_accept(service, db, Reasons(reasons), "LR-EMPTY-003")
    assert (order.status, order.refusal_reason) == ("REFUSED", "15")


def test_an_order_partly_out_of_stock_is_accepted_without_reading_reasons(service, db) -> None:
    _stock(service, db, **{"TUNIC-LIN-38": 4, "SCARF-SILK": 0})
    market = Reasons(SANDBOX_LIKE)
    order = _auto_accept(service, db, market, "LR-PART-001")
    assert order.status == "ACCEPTED"
    assert order.refused_lines == ["L2"]
    assert market.reads == 0


@pytest.mark.parametrize(
    ("answer", "event"),
    [
        ([r for r in SANDBOX_LIKE if r["code"] != "OUT_OF_STOCK"],
         "auto_accept_no_out_of_stock_reason"),
        (UpstreamUnavailable("RE01", "connection refused"), "auto_accept_reasons_unavailable"),
    ],
)
def test_without_an_out_of_stock_reason_the_order_is_left_to_the_merchant(
    service, db, answer, event
) -> None:
    """No reason of the marketplace's to record, or none readable: no refusal is made up; the
    order stays CREATED (in the New tab) and a warning says why."""
    _stock(service, db, **{"TUNIC-LIN-38": 0, "SCARF-SILK": 0})
    with capture_logs() as logs:
        order = _auto_accept(service, db, Reasons(answer), "LR-EMPTY-004")
    assert order.status == "CREATED"
    assert [e.type for e in service.history(order.id)] == ["Imported"]
    (warning,) = [entry for entry in logs if entry["event"] == event]
    assert warning["log_level"] == "warning"
    if event == "auto_accept_no_out_of_stock_reason":
        assert warning["valid_codes"] == ["CUSTOMER_REQUEST"]
