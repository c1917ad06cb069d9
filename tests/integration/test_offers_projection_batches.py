"""The offers read model gives the same rows whatever the batches: a batch holding many events
of the same offers (folded in memory, written once per offer) gives what applying the events
one by one gives, on both stores, and tells of the same stock-outs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.application.offers import OfferService
from app.application.orders import OrderService
from app.bootstrap import offer_service
from app.domain.offer import DATE_FORMAT, offer_id_for
from app.projections.log import EventLog, ProjectedEvent
from app.projections.offers import OfferQueries, OffersProjection
from app.projections.order_tabs import Codec
from app.projections.runner import ProjectionRunner
from tests.integration.projections_support import Database
from tests.support import FakeClock

CHANNEL = "laredoute"
OTHER = "labrandboutique"
COLUMNS = ("offer_id, channel, sku, ean, price_cents, quantity, published, has_errors, errors,"
           " offer_values, promotion, operation, search, version, position, updated_at")


def ean(n: int) -> str:
    body = f"360{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def row(n: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sku": f"SKU-{n:05d}", "ean": ean(n), "price": f"{10 + n % 50}.99",
        "crossed_price": f"{20 + n % 50}.99", "quantity": str(n % 7 + 1), "delivery_fee": "4.90",
        "shipment_delay": "2", "delivery_days_min": "2", "delivery_days_max": "5",
    }
    values.update(overrides)
    return values


@pytest.fixture
def catalog(service: OrderService, db: Database) -> OfferService:
    return offer_service(service.store, db)


def busy_history(catalog: OfferService, clock: FakeClock) -> None:
    """Many events for the same offers: every kind of offer event, several times over."""
    later = (clock() + timedelta(days=30)).strftime(DATE_FORMAT)
    catalog.upsert_many(CHANNEL, [row(n) for n in range(1, 41)])
    catalog.upsert_many(OTHER, [row(n) for n in range(1, 6)])
    # Prices, stock (some to 0), delivery terms, product, an invalid value and its fix.
    catalog.upsert_many(CHANNEL, [
        row(n, price="1.50", quantity="0" if n % 3 == 0 else "9", delivery_fee="0",
            ean=ean(1000 + n) if n % 5 == 0 else ean(n))
        for n in range(1, 41)
    ])
    catalog.upsert_many(CHANNEL, [row(2, price="abc"), row(4, period_end=later)])
    catalog.upsert_many(CHANNEL, [row(2, price="2.00"), row(3, quantity="4")])
    catalog.unpublish(CHANNEL, "SKU-00001")
    catalog.unpublish(OTHER, "SKU-00002")
    catalog.upsert_many(CHANNEL, [row(1, quantity="5")])  # republished
    catalog.set_promotion(CHANNEL, "SKU-00005", price=Decimal("5.00"),
                          crossed_price=Decimal("30.00"), start=None, end=later)
    catalog.set_promotion(CHANNEL, "SKU-00006", price=Decimal("6.00"),
                          crossed_price=Decimal("30.00"), start=None, end=later)
    catalog.end_promotion(CHANNEL, "SKU-00006")
    catalog.join_operation([catalog.get(CHANNEL, "SKU-00007"), catalog.get(OTHER, "SKU-00001")],
                           operation="Rush", batch_id="9")
    catalog.upsert_many(CHANNEL, [row(41), row(42, quantity="0")])  # new ones after the rest
    catalog.unpublish(CHANNEL, "SKU-00007")
    catalog.upsert_many(CHANNEL, [row(7, quantity="2")])


def rows_of(db: Database, generation: int) -> list[tuple[Any, ...]]:
    """The generation's rows, the JSON columns decoded and the times read back."""
    codec = Codec(db.dialect)
    decoded = []
    for r in db.execute(f"SELECT {COLUMNS} FROM offer_list WHERE generation = %s"
                        " ORDER BY channel, sku", (generation,)):
        decoded.append((
            codec.read_id(r[0]), *r[1:6], bool(r[6]), bool(r[7]), json.loads(r[8]),
            json.loads(r[9]), json.loads(r[10]) if r[10] else None,
            json.loads(r[11]) if r[11] else None, r[12], int(r[13]), int(r[14]),
            codec.read_time(r[15]),
        ))
    return decoded


def apply_in_batches(db: Database, generation: int, events: Sequence[ProjectedEvent],
                     size: int) -> list[str]:
    """Apply the events `size` at a time, each batch its own transaction; the stock-outs heard."""
    projection = OffersProjection(db.dialect)
    heard: list[str] = []
    projection.on_stock_out(heard.append)
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        projection.batch_started(0)
        with db.transaction() as tx:
            projection.apply(tx, generation, batch)
        projection.batch_committed(batch[-1].position)
    return heard


def test_a_batch_of_many_events_per_offer_gives_the_rows_of_one_by_one(
    catalog: OfferService, db: Database, clock: FakeClock
) -> None:
    busy_history(catalog, clock)
    events = EventLog(db).after(0, 100_000)
    offer_events = [e for e in events if e.aggregate == "Offer"]
    per_offer: dict[Any, int] = {}
    for event in offer_events:
        per_offer[event.originator_id] = per_offer.get(event.originator_id, 0) + 1
    assert len(per_offer) == 47 and max(per_offer.values()) >= 6  # a busy history indeed

    one_by_one = apply_in_batches(db, 101, events, 1)
    in_sevens = apply_in_batches(db, 102, events, 7)  # batches that start on stored rows
    all_at_once = apply_in_batches(db, 103, events, len(events))

    expected = rows_of(db, 101)
    assert len(expected) == 47
    assert rows_of(db, 102) == expected
    assert rows_of(db, 103) == expected
    # Stock-outs: the channels are told once per batch, so one by one hears each of them.
    assert sorted(set(one_by_one)) == sorted(set(in_sevens)) == sorted(all_at_once) == [
        OTHER, CHANNEL]

    # Applied again (as after a crash between write and commit), nothing changes.
    apply_in_batches(db, 103, events, len(events))
    assert rows_of(db, 103) == expected
    # An offer's last events only, on top of its stored row, give the same row too.
    last_events = [e for e in offer_events if e.originator_id == offer_id_for(CHANNEL, "SKU-00007")]
    apply_in_batches(db, 103, last_events[-3:], 3)
    assert rows_of(db, 103) == expected


def test_the_batched_rows_are_the_offers_values(
    catalog: OfferService, db: Database, clock: FakeClock
) -> None:
    busy_history(catalog, clock)
    ProjectionRunner(db, OffersProjection(db.dialect), batch_size=10_000).catch_up()
    listed = OfferQueries(db).list(limit=100)
    assert len(listed) == 47
    for listed_row in listed:
        offer = catalog.get(listed_row.channel, listed_row.sku)
        assert (listed_row.offer_id, listed_row.version) == (offer.id, offer.version)
        assert listed_row.errors == offer.errors
        assert listed_row.values == {k: (str(v) if isinstance(v, Decimal) else v)
                                     for k, v in offer.values.items()}
        assert listed_row.promotion == ({k: (str(v) if isinstance(v, Decimal) else v)
                                         for k, v in offer.promotion.items()}
                                        if offer.promotion else None)
        assert listed_row.operation == offer.operation
    by_sku = {(r.channel, r.sku): r for r in listed}
    assert by_sku[(CHANNEL, "SKU-00001")].values["quantity"] == 5
    assert by_sku[(CHANNEL, "SKU-00002")].values["price"] == "2.00"
    assert by_sku[(CHANNEL, "SKU-00002")].errors == []
    assert by_sku[(CHANNEL, "SKU-00003")].values["quantity"] == 4
    assert by_sku[(CHANNEL, "SKU-00005")].promotion["price"] == "5.00"
    assert by_sku[(CHANNEL, "SKU-00006")].promotion is None
    assert by_sku[(CHANNEL, "SKU-00007")].operation == {"name": "Rush", "batch_id": "9"}
    assert by_sku[(CHANNEL, "SKU-00007")].values["quantity"] == 2
    assert by_sku[(OTHER, "SKU-00002")].values["quantity"] == 0
    assert by_sku[(CHANNEL, "SKU-00010")].values["ean"] == ean(1010)
    # The search and money columns of a written row.
    (written,) = db.execute("SELECT price_cents, search, published FROM offer_list"
                            " WHERE channel = %s AND sku = %s", (CHANNEL, "SKU-00010"))
    assert (written[0], written[1], bool(written[2])) == (150, f"sku-00010 {ean(1010)}", True)


def test_events_of_unknown_offers_are_skipped_in_a_batch(db: Database) -> None:
    """An offer event whose offer has no row (its registration not in the model) writes nothing,
    and the batch's other offers are written."""
    codec = Codec(db.dialect)
    registered = ProjectedEvent(
        1, offer_id_for(CHANNEL, "SKU-1"), 1, "Registered",
        json.dumps({"timestamp": {"_type_": "datetime_iso",
                                  "_data_": datetime.now(UTC).isoformat()},
                    "channel": CHANNEL, "sku": "SKU-1",
                    "values": {"price": {"_type_": "decimal_str", "_data_": "3.10"},
                               "quantity": 2},
                    "errors": []}).encode(), "Offer")
    stray = ProjectedEvent(
        2, offer_id_for(CHANNEL, "SKU-2"), 2, "StockChanged",
        json.dumps({"timestamp": {"_type_": "datetime_iso",
                                  "_data_": datetime.now(UTC).isoformat()},
                    "quantity": 0}).encode(), "Offer")
    with db.transaction() as tx:
        OffersProjection(db.dialect).apply(tx, 7, [stray, registered])
    found = db.execute("SELECT offer_id, price_cents, quantity FROM offer_list WHERE generation = 7")
    assert [(codec.read_id(r[0]), r[1], r[2]) for r in found] == [
        (offer_id_for(CHANNEL, "SKU-1"), 310, 2)]
