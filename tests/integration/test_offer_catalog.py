"""The offer catalogue on each store: bulk upserts (idempotent, one event per change, full and
partial sources, rejected and invalid rows, digests), batch loading and the offers read model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.adapters.recorders import EVENTS_TABLE
from app.application.orders import OrderService
from app.domain.errors import OfferNotFound, VersionConflict
from app.domain.offer import Offer, offer_id_for
from app.application.offers import BulkResult, OfferService
from app.bootstrap import offer_service
from app.projections.offers import OfferQueries, OffersProjection
from app.projections.runner import ProjectionRunner
from tests.integration.projections_support import Database

CHANNEL = "laredoute"
OTHER = "labrandboutique"


def ean(n: int) -> str:
    """A valid EAN-13 of its own for each n."""
    body = f"360{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def source_row(n: int, **overrides: Any) -> dict[str, Any]:
    """Row n of a merchant's source, as the CSV reader gives it (our names, strings)."""
    row: dict[str, Any] = {
        "sku": f"SKU-{n:05d}", "ean": ean(n), "price": f"{10 + n % 50}.99",
        "crossed_price": f"{20 + n % 50}.99", "quantity": str(n % 7 + 1), "delivery_fee": "4.90",
        "shipment_delay": "2", "delivery_days_min": "2", "delivery_days_max": "5",
    }
    row.update(overrides)
    return row


def source(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [source_row(n) for n in range(start, start + count)]


@pytest.fixture
def catalog(service: OrderService, db: Database) -> OfferService:
    return offer_service(service.store, db)


def event_count(db: Database) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {EVENTS_TABLE}")[0][0])


def event_types(service: OrderService, sku: str, channel: str = CHANNEL) -> list[str]:
    return [e.type for e in service.history(offer_id_for(channel, sku))]


def counts(result: BulkResult) -> dict[str, int]:
    return {"rows": result.rows, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "unpublished": result.unpublished,
            "invalid": result.invalid, "rejected": len(result.rejected)}


def state(offer: Offer) -> tuple[Any, ...]:
    return (offer.id, offer.version, offer.channel, offer.sku, offer.values, offer.errors,
            offer.promotion, offer.operation)


# ---------------------------------------------------------------- idempotence and changes


def test_the_same_source_twice_changes_nothing_the_second_time(
    catalog: OfferService, db: Database
) -> None:
    rows = source(20)
    first = catalog.upsert_many(CHANNEL, rows)
    assert counts(first) == {"rows": 20, "created": 20, "updated": 0, "unchanged": 0,
                             "unpublished": 0, "invalid": 0, "rejected": 0}
    events = event_count(db)
    assert events == 20

    second = catalog.upsert_many(CHANNEL, [dict(r) for r in rows])
    assert counts(second) == {"rows": 20, "created": 0, "updated": 0, "unchanged": 20,
                              "unpublished": 0, "invalid": 0, "rejected": 0}
    assert event_count(db) == events

    again_full = catalog.upsert_many(CHANNEL, rows, full=True)
    assert again_full.unchanged == 20 and again_full.unpublished == 0
    assert event_count(db) == events


def test_the_same_values_written_differently_are_unchanged(
    catalog: OfferService, db: Database
) -> None:
    catalog.upsert_many(CHANNEL, [source_row(1, price="12.50", crossed_price="")])
    events = event_count(db)
    result = catalog.upsert_many(CHANNEL, [source_row(1, price="12,5", crossed_price="12.50",
                                                      quantity=" 2 ")])
    assert result.unchanged == 1
    assert event_count(db) == events


@pytest.mark.parametrize("change, expected", [
    ({"price": "9.99"}, ["PriceChanged"]),
    ({"quantity": "40"}, ["StockChanged"]),
    ({"quantity": "0"}, ["Unpublished"]),
    ({"delivery_fee": "0"}, ["DeliveryTermsChanged"]),
    ({"period_end": "2027-01-01T00:00:00"}, ["PeriodChanged"]),
    ({"ean": ean(999)}, ["ProductChanged"]),
    ({"delivery_fee": ""}, ["DeliveryTermsChanged", "ValidationChanged"]),
])
def test_a_changed_row_gives_exactly_its_event(
    catalog: OfferService, service: OrderService, db: Database, change: dict[str, Any],
    expected: list[str],
) -> None:
    rows = source(5)
    catalog.upsert_many(CHANNEL, rows)
    events = event_count(db)
    rows[2] = {**rows[2], **change}
    result = catalog.upsert_many(CHANNEL, rows)
    assert (result.updated, result.unchanged, result.created) == (1, 4, 0)
    assert event_count(db) == events + len(expected)
    assert event_types(service, rows[2]["sku"]) == ["Registered", *expected]
    assert catalog.get(CHANNEL, rows[2]["sku"]).version == 1 + len(expected)


def test_new_rows_are_created_next_to_unchanged_ones(catalog: OfferService) -> None:
    catalog.upsert_many(CHANNEL, source(3))
    result = catalog.upsert_many(CHANNEL, source(5))
    assert (result.created, result.unchanged) == (2, 3)


def test_channels_are_separate_catalogues(catalog: OfferService) -> None:
    catalog.upsert_many(CHANNEL, source(3))
    result = catalog.upsert_many(OTHER, source(3))
    assert result.created == 3
    assert catalog.get(OTHER, "SKU-00001").id != catalog.get(CHANNEL, "SKU-00001").id
    full = catalog.upsert_many(OTHER, source(1), full=True)
    assert full.unpublished == 2
    assert all(catalog.get(CHANNEL, f"SKU-0000{n}").published for n in (1, 2, 3))


# ---------------------------------------------------------------- full and partial sources


def test_a_full_source_unpublishes_what_it_no_longer_lists(
    catalog: OfferService, service: OrderService, db: Database
) -> None:
    catalog.upsert_many(CHANNEL, source(5))
    catalog.unpublish(CHANNEL, "SKU-00005")  # already unpublished: left alone
    events = event_count(db)

    result = catalog.upsert_many(CHANNEL, source(2), full=True)
    assert counts(result) == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2,
                              "unpublished": 2, "invalid": 0, "rejected": 0}
    assert event_count(db) == events + 2
    for sku in ("SKU-00003", "SKU-00004"):
        offer = catalog.get(CHANNEL, sku)  # kept, as a virtual product
        assert offer.values["quantity"] == 0 and not offer.published
        assert offer.values["price"] is not None
        assert event_types(service, sku) == ["Registered", "Unpublished"]
    assert event_types(service, "SKU-00005") == ["Registered", "Unpublished"]
    assert catalog.get(CHANNEL, "SKU-00001").published

    again = catalog.upsert_many(CHANNEL, source(2), full=True)
    assert (again.unchanged, again.unpublished) == (2, 0)
    assert event_count(db) == events + 2

    back = catalog.upsert_many(CHANNEL, source(4), full=True)
    assert (back.updated, back.unchanged, back.unpublished) == (2, 2, 0)
    assert event_types(service, "SKU-00003") == ["Registered", "Unpublished", "Republished"]
    assert catalog.get(CHANNEL, "SKU-00003").values["quantity"] == 4


def test_a_partial_source_leaves_the_other_offers_alone(
    catalog: OfferService, db: Database
) -> None:
    catalog.upsert_many(CHANNEL, source(5))
    events = event_count(db)
    result = catalog.upsert_many(CHANNEL, source(2))
    assert (result.unchanged, result.unpublished) == (2, 0)
    assert event_count(db) == events
    assert all(catalog.get(CHANNEL, f"SKU-0000{n}").published for n in range(1, 6))


def test_an_empty_full_source_unpublishes_everything(catalog: OfferService) -> None:
    catalog.upsert_many(CHANNEL, source(3))
    result = catalog.upsert_many(CHANNEL, [], full=True)
    assert (result.rows, result.unpublished) == (0, 3)
    assert not any(catalog.get(CHANNEL, f"SKU-0000{n}").published for n in (1, 2, 3))


# ---------------------------------------------------------------- rejected and invalid rows


def test_rows_without_sku_and_repeated_skus_are_rejected_with_their_line(
    catalog: OfferService, db: Database
) -> None:
    rows = [source_row(1), source_row(2, sku=""), source_row(3), {**source_row(1), "price": "1.00"},
            {k: v for k, v in source_row(4).items() if k != "sku"}, source_row(5, sku="   ")]
    result = catalog.upsert_many(CHANNEL, rows)
    assert result.rows == 6 and result.created == 2
    assert [(r.line, r.sku, r.field, r.rule) for r in result.rejected] == [
        (2, None, "sku", "required"), (4, "SKU-00001", "sku", "unique"),
        (5, None, "sku", "required"), (6, None, "sku", "required"),
    ]
    assert result.rejected[0].message == "PartnerProductReference (SKU) is required"
    assert result.rejected[1].message == "SKU 'SKU-00001' is given twice in the source"
    assert catalog.get(CHANNEL, "SKU-00001").values["price"] == Decimal("11.99")  # the first row
    assert event_count(db) == 2


def test_invalid_offers_are_stored_with_their_errors(catalog: OfferService) -> None:
    rows = [source_row(1), source_row(2, delivery_fee=""), source_row(3, price="abc"),
            source_row(4, ean="4006381333932"), source_row(5, crossed_price="1.00"),
            source_row(6, sku="S" * 33)]
    result = catalog.upsert_many(CHANNEL, rows)
    assert (result.created, result.invalid, len(result.rejected)) == (6, 5, 0)
    assert catalog.get(CHANNEL, "SKU-00001").valid

    def rules(sku: str) -> list[tuple[str, str]]:
        return [(e["field"], e["rule"]) for e in catalog.get(CHANNEL, sku).errors]

    assert rules("SKU-00002") == [("delivery_fee", "required")]
    assert rules("SKU-00003") == [("price", "format")]
    assert catalog.get(CHANNEL, "SKU-00003").values["price"] is None
    assert rules("SKU-00004") == [("ean", "ean_checksum")]
    assert rules("SKU-00005") == [("crossed_price", "not_below_price")]
    assert rules("S" * 33) == [("sku", "max_length")]

    fixed = catalog.upsert_many(CHANNEL, [source_row(2), source_row(3, price="abc")])
    assert (fixed.updated, fixed.unchanged, fixed.invalid) == (1, 1, 0)
    assert catalog.get(CHANNEL, "SKU-00002").valid


def test_an_unreadable_row_uploaded_twice_is_unchanged(catalog: OfferService, db: Database) -> None:
    rows = [source_row(1, price="abc", quantity="1.5")]
    assert catalog.upsert_many(CHANNEL, rows).invalid == 1
    events = event_count(db)
    assert catalog.upsert_many(CHANNEL, rows).unchanged == 1
    assert event_count(db) == events


# ---------------------------------------------------------------- digests and single changes


def test_an_offer_changed_after_an_upload_is_set_back_by_the_same_source(
    catalog: OfferService, service: OrderService, db: Database
) -> None:
    rows = source(3)
    catalog.upsert_many(CHANNEL, rows)
    offer, created = catalog.put(CHANNEL, "SKU-00002", {**rows[1], "price": "5.00"},
                                 expected_version=1)
    assert not created and offer.version == 2
    catalog.unpublish(CHANNEL, "SKU-00003")

    result = catalog.upsert_many(CHANNEL, rows)
    assert (result.updated, result.unchanged) == (2, 1)
    assert catalog.get(CHANNEL, "SKU-00002").values["price"] == Decimal("12.99")
    assert event_types(service, "SKU-00002") == ["Registered", "PriceChanged", "PriceChanged"]
    assert event_types(service, "SKU-00003") == ["Registered", "Unpublished", "Republished"]
    events = event_count(db)
    assert catalog.upsert_many(CHANNEL, rows).unchanged == 3
    assert event_count(db) == events


def test_a_promotion_is_not_undone_by_the_same_source(catalog: OfferService, db: Database) -> None:
    rows = source(2)
    catalog.upsert_many(CHANNEL, rows)
    catalog.set_promotion(CHANNEL, "SKU-00001", price=Decimal("5.00"),
                          crossed_price=Decimal("11.99"), start=None, end=None)
    events = event_count(db)
    result = catalog.upsert_many(CHANNEL, rows)
    assert result.unchanged == 2
    assert event_count(db) == events
    assert catalog.get(CHANNEL, "SKU-00001").promotion is not None


def test_put_creates_then_needs_the_current_version(catalog: OfferService) -> None:
    offer, created = catalog.put(CHANNEL, "ONE", source_row(1))
    assert created and offer.version == 1
    with pytest.raises(VersionConflict):
        catalog.put(CHANNEL, "ONE", source_row(1, price="1.00"), expected_version=3)
    with pytest.raises(VersionConflict):
        catalog.put(CHANNEL, "TWO", source_row(2), expected_version=1)
    offer, created = catalog.put(CHANNEL, "ONE", source_row(1, price="1.00"), expected_version=1)
    assert not created and offer.version == 2
    with pytest.raises(OfferNotFound):
        catalog.get(CHANNEL, "NOPE")
    assert catalog.find(CHANNEL, "NOPE") is None


# ---------------------------------------------------------------- batches


def test_load_many_gives_what_the_repository_gives(
    catalog: OfferService, service: OrderService
) -> None:
    catalog.upsert_many(CHANNEL, source(30))
    catalog.upsert_many(CHANNEL, [source_row(n, price="7,50", quantity="0") for n in range(1, 11)])
    catalog.set_promotion(CHANNEL, "SKU-00012", price=Decimal("9.00"),
                          crossed_price=Decimal("30.00"), start="2026-12-01T00:00:00",
                          end="2026-12-24T23:59:59")
    catalog.put(CHANNEL, "SKU-00013", source_row(13, price="x"), expected_version=1)
    offers = [catalog.get(CHANNEL, f"SKU-{n:05d}") for n in range(1, 31)]
    catalog.join_operation(offers[20:22], operation="BlackFriday", batch_id="B-1")
    ids = [offer_id_for(CHANNEL, f"SKU-{n:05d}") for n in range(1, 31)]
    loaded = catalog.load_many([*ids, offer_id_for(CHANNEL, "MISSING")])
    assert set(loaded) == set(ids)
    for offer_id in ids:
        assert state(loaded[offer_id]) == state(service.repository.get(offer_id))
    assert catalog.load_many([]) == {}


def test_thousands_of_rows_cross_the_batch_boundaries(
    catalog: OfferService, service: OrderService, db: Database
) -> None:
    rows = source(2_600)
    first = catalog.upsert_many(CHANNEL, rows)
    assert (first.created, first.invalid) == (2_600, 0)
    assert event_count(db) == 2_600

    changed = [dict(r) for r in rows]
    for n in range(0, 2_600, 2):
        changed[n]["price"] = "1.00"
    changed[2_599]["quantity"] = "0"
    second = catalog.upsert_many(CHANNEL, changed[:2_550], full=True)
    assert counts(second) == {"rows": 2_550, "created": 0, "updated": 1_275,
                              "unchanged": 1_275, "unpublished": 50, "invalid": 0,
                              "rejected": 0}
    assert event_count(db) == 2_600 + 1_275 + 50

    third = catalog.upsert_many(CHANNEL, changed, full=True)
    assert (third.updated, third.unchanged, third.unpublished) == (49, 2_551, 0)
    assert event_types(service, "SKU-02600") == ["Registered", "Unpublished"]  # quantity 0 now
    # Left out of the second source, then back with a new price.
    assert event_types(service, "SKU-02599") == ["Registered", "Unpublished", "PriceChanged",
                                                 "Republished"]
    assert catalog.upsert_many(CHANNEL, changed, full=True).unchanged == 2_600
    sample = [offer_id_for(CHANNEL, f"SKU-{n:05d}") for n in (1, 999, 1_000, 1_001, 2_551, 2_600)]
    loaded = catalog.load_many(sample)
    assert [loaded[i].values["price"] for i in sample] == [
        Decimal("1.00"), Decimal("1.00"), Decimal("10.99"), Decimal("1.00"), Decimal("1.00"),
        Decimal("10.99")]


# ---------------------------------------------------------------- the offers read model


def project(db: Database, service: OrderService) -> None:
    ProjectionRunner(db, OffersProjection(db.dialect)).catch_up()


def test_the_read_model_matches_the_offers(
    catalog: OfferService, service: OrderService, db: Database
) -> None:
    rows = source(12)
    rows[3] = source_row(4, delivery_fee="")
    rows[4] = source_row(5, price="abc")
    rows[5] = source_row(6, quantity="0")
    catalog.upsert_many(CHANNEL, rows)
    catalog.upsert_many(OTHER, source(2, start=50))
    project(db, service)  # in two steps: the second starts from the rows the first wrote
    catalog.unpublish(CHANNEL, "SKU-00001")
    catalog.put(CHANNEL, "SKU-00002", source_row(2, price="15,00", delivery_fee="0",
                                                 period_end="2027-01-01T00:00:00"),
                expected_version=1)
    catalog.set_promotion(CHANNEL, "SKU-00003", price=Decimal("5.00"),
                          crossed_price=Decimal("30.00"), start=None, end="2026-12-31T23:59:59")
    catalog.upsert_many(CHANNEL, [source_row(4)])
    catalog.join_operation([catalog.get(CHANNEL, "SKU-00007")], operation="Rush", batch_id="9")
    project(db, service)

    queries = OfferQueries(db)
    listed = queries.list(limit=100)
    assert [(r.channel, r.sku) for r in listed] == sorted(
        [(OTHER, f"SKU-{n:05d}") for n in (50, 51)]
        + [(CHANNEL, f"SKU-{n:05d}") for n in range(1, 13)])
    for row in listed:
        offer = catalog.get(row.channel, row.sku)
        assert row.offer_id == offer.id
        assert row.version == offer.version
        assert row.errors == offer.errors
        assert row.values == {k: (str(v) if isinstance(v, Decimal) else v)
                              for k, v in offer.values.items()}
        assert row.promotion == ({k: (str(v) if isinstance(v, Decimal) else v)
                                  for k, v in offer.promotion.items()} if offer.promotion else None)
        assert row.operation == offer.operation
        assert row.sync_state == ("blocked" if offer.errors else "pending")
    assert queries.get(CHANNEL, "SKU-00003").promotion == {
        "price": "5.00", "crossed_price": "30.00", "start": None, "end": "2026-12-31T23:59:59"}
    assert queries.get(CHANNEL, "SKU-00002").values["price"] == "15.00"
    assert queries.get(CHANNEL, "SKU-00007").operation == {"name": "Rush", "batch_id": "9"}
    assert queries.get(CHANNEL, "NOPE") is None

    price_cents = {sku: cents for sku, cents in db.execute(
        "SELECT sku, price_cents FROM offer_list WHERE channel = %s", (CHANNEL,))}
    assert price_cents["SKU-00002"] == 1500 and price_cents["SKU-00005"] is None


def skus(rows: list[Any]) -> list[str]:
    return [r.sku for r in rows]


def test_the_offer_list_filters(catalog: OfferService, service: OrderService, db: Database) -> None:
    rows = source(10)
    rows[1] = source_row(2, delivery_fee="")
    rows[2] = source_row(3, quantity="0")
    rows[3] = source_row(4, quantity="0", ean="4006381333932")
    rows[4] = source_row(5, ean="4006381333931")
    catalog.upsert_many(CHANNEL, rows)
    catalog.upsert_many(OTHER, [source_row(1), source_row(11, quantity="0")])
    project(db, service)
    queries = OfferQueries(db)

    assert skus(queries.list(channel=CHANNEL, published=False)) == ["SKU-00003", "SKU-00004"]
    assert len(queries.list(channel=CHANNEL, published=True)) == 8
    assert skus(queries.list(published=False)) == ["SKU-00011", "SKU-00003", "SKU-00004"]
    assert skus(queries.list(channel=CHANNEL, has_errors=True)) == ["SKU-00002", "SKU-00004"]
    assert skus(queries.list(channel=CHANNEL, has_errors=True, published=True)) == ["SKU-00002"]
    assert len(queries.list(channel=CHANNEL, has_errors=False)) == 8
    assert skus(queries.list(q="4006381333931")) == ["SKU-00005"]
    assert skus(queries.list(q="sku-0000", channel=OTHER)) == ["SKU-00001"]
    assert skus(queries.list(q="SKU-00010")) == ["SKU-00010"]
    assert queries.list(q="nothing-like-this") == []
    assert queries.list(q="%") == queries.list() != []
    assert len(queries.list(sync="pending")) == 10  # the valid ones
    assert skus(queries.list(sync="blocked")) == ["SKU-00002", "SKU-00004"]
    assert queries.list(sync="live") == []


def test_the_offer_list_pages_by_channel_and_sku(
    catalog: OfferService, service: OrderService, db: Database
) -> None:
    catalog.upsert_many(CHANNEL, source(7))
    catalog.upsert_many(OTHER, source(3))
    project(db, service)
    queries = OfferQueries(db)
    everything = [(r.channel, r.sku) for r in queries.list(limit=100)]
    assert len(everything) == 10 and everything == sorted(everything)

    seen: list[tuple[str, str]] = []
    after = None
    while True:
        page = queries.list(after=after, limit=3)
        seen.extend((r.channel, r.sku) for r in page)
        if len(page) < 3:
            break
        after = (page[-1].channel, page[-1].sku)
    assert seen == everything

    in_channel = skus(queries.list(channel=CHANNEL, after=(CHANNEL, "SKU-00003"), limit=2))
    assert in_channel == ["SKU-00004", "SKU-00005"]
    assert queries.list(after=everything[-1]) == []


def test_the_read_model_tells_of_a_stock_out_once_it_shows_it(
    catalog: OfferService, db: Database
) -> None:
    projection = OffersProjection(db.dialect)
    runner = ProjectionRunner(db, projection)
    heard: list[tuple[str, int | None]] = []

    def listener(channel: str) -> None:
        # Called after the batch committed: the read model already shows the stock-out.
        row = OfferQueries(db).get(channel, "SKU-00001")
        heard.append((channel, row.values.get("quantity") if row else None))

    projection.on_stock_out(listener)
    catalog.upsert_many(CHANNEL, [source_row(1), source_row(2, quantity="0")])
    catalog.upsert_many(OTHER, [source_row(1)])
    runner.catch_up()
    assert heard == []  # an offer created at 0 is no stock-out

    catalog.upsert_many(CHANNEL, [source_row(1, quantity="0"), source_row(2, quantity="0")])
    catalog.upsert_many(OTHER, [source_row(1, quantity="3")])
    runner.catch_up()
    assert heard == [(CHANNEL, 0)]

    catalog.unpublish(OTHER, "SKU-00001")
    runner.catch_up()
    assert heard == [(CHANNEL, 0), (OTHER, 0)]
    catalog.upsert_many(CHANNEL, [source_row(1, quantity="0")])  # still 0: nothing new
    runner.catch_up()
    assert len(heard) == 2


def test_a_failing_stock_out_listener_does_not_stop_the_read_model(
    catalog: OfferService, db: Database
) -> None:
    projection = OffersProjection(db.dialect)
    runner = ProjectionRunner(db, projection)

    def broken(channel: str) -> None:
        raise RuntimeError("listener down")

    projection.on_stock_out(broken)
    catalog.upsert_many(CHANNEL, [source_row(1)])
    runner.catch_up()
    catalog.unpublish(CHANNEL, "SKU-00001")
    runner.catch_up()
    assert OfferQueries(db).get(CHANNEL, "SKU-00001").values["quantity"] == 0
    assert runner.status().healthy
