"""The offer feed against the sandbox marketplace: files sent (OF01), imports followed (OF02),
lines refused (OF03), stock-outs at once, nothing lost between imports, operations, faults.

The sandbox processes an import only when a test says so (POST /control/offer-imports/{id}/
complete), so that a running import can be watched. The feed's clock is set by each test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.adapters.laredoute import marketplace as laredoute_marketplace
from app.api.app import create_app
from app.application import offer_feed
from app.application.offer_feed import NothingToSend, OfferFeed
from app.bootstrap import offer_service
from app.config import Settings
from app.domain.errors import OfferNotFound
from app.domain.offer import ean_is_valid
from app.projections.offers import OfferQueries, OfferRow, OffersProjection
from app.projections.runner import ProjectionRunner
from sandbox.config import Timings
from tests.e2e.harness import (
    Harness,
    eventually,
    manual_timings,
    sandbox_server,
    with_channels,
)
from tests.support import LiveServer, bearer, make_api_key

PARIS = ZoneInfo("Europe/Paris")
SHOP = 2001
CHANNEL = "laredoute"


def ean(n: int) -> str:
    body = f"360{n:09d}"
    return next(body + str(d) for d in range(10) if ean_is_valid(body + str(d)))


def source(sku: str, n: int, **values: Any) -> dict[str, Any]:
    row = {"sku": sku, "ean": ean(n), "price": "19.90", "quantity": "5", "delivery_fee": "4.90",
           "shipment_delay": "2", "delivery_days_min": "2", "delivery_days_max": "4"}
    row.update(values)
    return row


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Offers:
    """Our offers (catalogue, read model, feed) and the sandbox's view of them."""

    def __init__(self, market: Harness) -> None:
        self.market = market
        self.catalog = offer_service(market.service.store, market.db)
        self.queries = OfferQueries(market.db)
        self.projection = ProjectionRunner(market.db, OffersProjection(market.db.dialect))
        self.feed: OfferFeed = market.sync.feeds[CHANNEL]
        self.clock = Clock(datetime(2026, 6, 10, 9, 0, tzinfo=PARIS))
        self.feed.clock = self.clock
        # Imports wait until a test processes them.
        market.control.put("/settings", json={"offer_import_delay": None}).raise_for_status()

    def load(self, *rows: dict[str, Any]) -> None:
        self.catalog.upsert_many(CHANNEL, rows)
        self.project()

    def project(self) -> None:
        self.projection.catch_up()

    def round(self) -> offer_feed.FeedRound:
        self.project()
        return self.feed.run()

    def row(self, sku: str) -> OfferRow:
        found = self.queries.get(CHANNEL, sku)
        assert found is not None, sku
        return found

    def states(self, *skus: str) -> dict[str, str]:
        return {sku: self.row(sku).sync_state for sku in skus}

    def complete(self, import_id: str) -> dict[str, Any]:
        return self.market.post(f"/offer-imports/{import_id}/complete")

    def marketplace_imports(self) -> list[dict[str, Any]]:
        response = self.market.control.get("/offer-imports", params={"shop_id": SHOP})
        response.raise_for_status()
        return list(response.json()["imports"])

    def marketplace_offers(self) -> dict[str, dict[str, str]]:
        response = self.market.control.get("/offers", params={"shop_id": SHOP})
        response.raise_for_status()
        return {o["sku"]: o["line"] for o in response.json()["offers"]}

    def unknown_products(self, *eans: str) -> None:
        self.market.post("/catalogue/unknown-products", {"eans": list(eans)})

    def feed_all(self) -> str:
        """A feed of everything pending, processed by the marketplace and followed."""
        sent = self.round()
        assert sent.sent is not None, sent
        self.complete(sent.sent)
        followed = self.round()
        assert followed.completed == [sent.sent]
        return sent.sent


@pytest.fixture
def offers(market: Harness) -> Offers:
    return Offers(market)


def test_feed_jobs_are_scheduled_per_channel(market: Harness) -> None:
    assert {"offers:laredoute", "offers:labrandboutique"} <= set(market.sync.scheduler.jobs)
    assert set(market.sync.feeds) == {"laredoute", "labrandboutique"}
    assert market.sync.scheduler.run_once("offers:laredoute")


def test_a_feed_imports_every_valid_offer(offers: Offers) -> None:
    offers.load(
        source("A", 1),
        source("B", 2, price="15.00", crossed_price="19.90"),
        source("C", 3, quantity="0"),
        source("BROKEN", 4, delivery_fee=""),
    )
    assert offers.row("BROKEN").errors

    sent = offers.round()  # no feed yet: one is due
    assert sent.sent is not None and sent.reason == "feed" and sent.offers == 3
    assert offers.states("A", "B", "C", "BROKEN") == {
        "A": "sent", "B": "sent", "C": "sent", "BROKEN": "blocked"}
    assert offers.row("A").import_id == sent.sent
    (record,) = offers.feed.imports()
    assert (record.import_id, record.reason, record.state, record.offers) == (
        sent.sent, "feed", "running", 3)

    # While it runs, nothing else is sent.
    waiting = offers.round()
    assert waiting.running == [sent.sent] and waiting.sent is None

    offers.complete(sent.sent)
    done = offers.round()
    assert done.completed == [sent.sent] and done.sent is None
    assert offers.states("A", "B", "C", "BROKEN") == {
        "A": "live", "B": "live", "C": "live", "BROKEN": "blocked"}
    (record,) = offers.feed.imports()
    assert (record.state, record.lines_in_error) == ("complete", 0)
    assert record.finished_at is not None

    on_marketplace = offers.marketplace_offers()
    assert set(on_marketplace) == {"A", "B", "C"}
    assert on_marketplace["A"]["product-id"] == ean(1)
    assert (on_marketplace["B"]["price"], on_marketplace["B"]["discount-price"]) == (
        "19.90", "15.00")
    assert on_marketplace["C"]["quantity"] == "0"
    assert on_marketplace["A"]["available-start-date"] == "2026-06-10T00:00:00"
    (imported,) = offers.marketplace_imports()
    assert imported["mode"] == "NORMAL" and imported["lines_read"] == 3

    # Nothing pending: the next forced feed sends nothing.
    assert offers.feed.send_now().sent is None


def test_lines_the_marketplace_refuses_are_rejected_with_its_message(offers: Offers) -> None:
    offers.load(*(source(f"S{i}", i) for i in range(1, 7)))
    offers.unknown_products(ean(2), ean(4), ean(6))

    sent = offers.round()
    assert sent.offers == 6
    offers.complete(sent.sent)
    done = offers.round()
    assert (done.live, done.rejected) == (3, 3)

    for sku in ("S2", "S4", "S6"):
        row = offers.row(sku)
        assert row.sync_state == "rejected"
        assert row.marketplace_message == "product not found"
        assert row.import_id == sent.sent
    for sku in ("S1", "S3", "S5"):
        assert offers.row(sku).sync_state == "live"
        assert offers.row(sku).marketplace_message is None
    (record,) = offers.feed.imports()
    assert (record.state, record.lines_in_error) == ("complete", 3)
    assert set(offers.marketplace_offers()) == {"S1", "S3", "S5"}

    # Refused offers are not resent unchanged; once changed they are pending again.
    assert offers.feed.send_now().sent is None
    offers.unknown_products()
    offers.catalog.put(CHANNEL, "S2", source("S2", 2, price="18.00"))
    offers.project()
    assert offers.row("S2").sync_state == "pending"
    again = offers.feed.send_now()
    assert again.offers == 1
    offers.complete(again.sent)
    offers.round()
    assert offers.row("S2").sync_state == "live"
    assert offers.marketplace_offers()["S2"]["price"] == "18.00"


def test_a_stock_out_is_sent_at_once_outside_the_cadence(offers: Offers) -> None:
    offers.load(source("A", 1), source("B", 2), source("NEW", 3))
    offers.feed_all()  # at 09:00, after the 08:00 slot

    offers.clock.set(datetime(2026, 6, 10, 9, 30, tzinfo=PARIS))
    offers.catalog.put(CHANNEL, "B", source("B", 2, price="17.00"))
    offers.catalog.upsert_many(CHANNEL, [source("NEW2", 4, quantity="0")])
    quiet = offers.round()
    assert quiet.sent is None and quiet.pending == 2  # not due; a new offer at 0 is no stock-out
    assert not offers.feed.cadence().due

    offers.catalog.unpublish(CHANNEL, "A")
    stock_out = offers.round()
    assert stock_out.reason == "stockout"
    assert stock_out.offers == 3  # with every other pending offer
    assert offers.states("A", "B", "NEW2") == {"A": "sent", "B": "sent", "NEW2": "sent"}
    assert offers.feed.imports()[0].reason == "stockout"
    offers.complete(stock_out.sent)
    offers.round()
    on_marketplace = offers.marketplace_offers()
    assert on_marketplace["A"]["quantity"] == "0"
    assert on_marketplace["B"]["price"] == "17.00"
    assert offers.states("A", "B") == {"A": "live", "B": "live"}


def test_an_offer_changed_while_its_import_runs_goes_in_the_next_import(offers: Offers) -> None:
    offers.load(source("A", 1), source("B", 2))
    first = offers.round()
    assert first.offers == 2
    sent_version = offers.row("A").sent_version

    offers.catalog.put(CHANNEL, "A", source("A", 1, price="21.00"))
    running = offers.round()
    assert running.running == [first.sent] and running.sent is None
    assert offers.row("A").sync_state == "pending"

    offers.complete(first.sent)
    done = offers.round()
    assert done.completed == [first.sent]
    assert done.sent is None  # not due before noon
    a = offers.row("A")
    assert a.sync_state == "pending" and a.sent_version == sent_version
    assert offers.row("B").sync_state == "live"
    assert offers.marketplace_offers()["A"]["price"] == "19.90"

    offers.clock.set(datetime(2026, 6, 10, 12, 0, 30, tzinfo=PARIS))
    second = offers.round()
    assert second.reason == "feed" and second.offers == 1
    assert offers.row("A").import_id == second.sent
    offers.complete(second.sent)
    offers.round()
    assert offers.states("A", "B") == {"A": "live", "B": "live"}
    assert offers.marketplace_offers()["A"]["price"] == "21.00"
    assert [i["lines_read"] for i in offers.marketplace_imports()] == [2, 1]


def test_an_operation_keeps_the_import_id_as_batch_id(offers: Offers) -> None:
    offers.load(source("A", 1), source("B", 2), source("C", 3),
                source("BROKEN", 4, delivery_fee=""))
    offers.feed_all()

    import_id = offers.feed.send_operation(["A", "B", "BROKEN"], "soldes-ete")
    for sku in ("A", "B"):
        offer = offers.catalog.get(CHANNEL, sku)
        assert offer.operation == {"name": "soldes-ete", "batch_id": import_id}
        joined = offers.market.service.history(offer.id)[-1]
        assert joined.type == "OperationJoined"
        assert joined.actor == {"name": "sync:offers:laredoute", "role": "worker"}
    assert offers.catalog.get(CHANNEL, "BROKEN").operation is None
    record = offers.feed.imports()[0]
    assert (record.import_id, record.reason, record.operation, record.offers) == (
        import_id, "operation", "soldes-ete", 2)

    offers.project()
    # Joining the operation changed nothing that was sent: the offers are not pending.
    assert offers.states("A", "B", "C") == {"A": "sent", "B": "sent", "C": "live"}
    assert offers.row("A").operation == {"name": "soldes-ete", "batch_id": import_id}
    assert offers.row("A").import_id == import_id
    offers.complete(import_id)
    offers.round()
    assert offers.states("A", "B") == {"A": "live", "B": "live"}
    (_, imported) = offers.marketplace_imports()
    assert str(imported["import_id"]) == import_id and imported["lines_read"] == 2

    with pytest.raises(OfferNotFound):
        offers.feed.send_operation(["A", "NOPE"], "soldes-ete")
    with pytest.raises(NothingToSend):
        offers.feed.send_operation(["BROKEN"], "soldes-ete")
    assert len(offers.marketplace_imports()) == 2


def test_an_of01_fault_leaves_the_offers_pending_for_the_next_round(offers: Offers) -> None:
    offers.load(source("A", 1), source("B", 2))
    offers.market.fault("error_503", method="POST", path_contains="/offers/imports")

    failed = offers.round()
    assert failed.sent is None and failed.error and "503" in failed.error
    assert offers.states("A", "B") == {"A": "pending", "B": "pending"}
    assert offers.feed.imports() == []
    assert offers.marketplace_imports() == []

    retried = offers.round()
    assert retried.sent is not None and retried.offers == 2
    offers.complete(retried.sent)
    offers.round()
    assert offers.states("A", "B") == {"A": "live", "B": "live"}


def test_an_of01_answer_lost_after_the_import_is_sent_again(offers: Offers) -> None:
    offers.load(source("A", 1))
    offers.market.fault("drop_after_apply", method="POST", path_contains="/offers/imports")

    lost = offers.round()
    assert lost.sent is None and lost.error
    assert offers.row("A").sync_state == "pending"
    assert len(offers.marketplace_imports()) == 1  # the marketplace has it, we do not know

    again = offers.round()
    assert again.sent is not None
    offers.complete(again.sent)
    offers.round()
    assert offers.row("A").sync_state == "live"


def test_a_failed_import_puts_its_offers_back_to_pending(
        offers: Offers, monkeypatch: pytest.MonkeyPatch) -> None:
    offers.load(source("A", 1), source("B", 2))
    monkeypatch.setattr(laredoute_marketplace, "build_offer_file",
                        lambda rows, today, columns=None: b"sku;colour\nA;red\n")
    sent = offers.round()
    monkeypatch.undo()
    assert offers.states("A", "B") == {"A": "sent", "B": "sent"}

    failed = offers.complete(sent.sent)
    assert failed["status"] == "FAILED"
    done = offers.round()
    assert done.failed == [sent.sent]
    record = offers.feed.imports()[0]
    assert record.state == "failed"
    assert record.message == failed["reason_status"] and "colour" in record.message
    for sku in ("A", "B"):
        row = offers.row(sku)
        assert row.sync_state == "pending"
        assert row.marketplace_message == failed["reason_status"]

    # The cadence counts the failed feed; sending now resends them.
    assert done.sent is None
    again = offers.feed.send_now()
    assert again.sent is not None and again.offers == 2
    offers.complete(again.sent)
    offers.round()
    assert offers.states("A", "B") == {"A": "live", "B": "live"}


# ---------------------------------------------------------------- OF02 cadence, retries, blocked


def test_a_running_import_is_followed_soon_then_less_and_less_often(offers: Offers) -> None:
    offers.load(source("A", 1))
    assert offers.feed.next_round_in() is None  # nothing runs: the job's own interval
    sent = offers.round()
    assert sent.sent is not None

    # A second after the file, then at twice its age each time, at most a minute apart.
    waits = []
    for _ in range(9):
        wait = offers.feed.next_round_in()
        assert wait is not None
        waits.append(wait)
        offers.clock.advance(wait)
        assert offers.round().running == [sent.sent]
    assert waits == [1.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]

    offers.complete(sent.sent)
    assert offers.round().completed == [sent.sent]
    assert offers.feed.next_round_in() is None


def test_offers_of_products_the_marketplace_does_not_know_are_retried_the_next_day(
        offers: Offers) -> None:
    offers.load(source("NEW", 1), source("OLD", 2), source("OTHER", 3))
    offers.unknown_products(ean(1), ean(3))
    sent = offers.round()
    offers.complete(sent.sent)
    offers.round()
    assert offers.states("NEW", "OLD", "OTHER") == {
        "NEW": "rejected", "OLD": "live", "OTHER": "rejected"}
    # A refusal for another reason waits for the offer to change.
    offers.market.db.execute(
        "UPDATE offer_sync SET message = %s WHERE channel = %s AND sku = %s",
        ("price must be a number", CHANNEL, "OTHER"))

    # The marketplace creates the product; the guide says its offers go the next day.
    offers.unknown_products()
    offers.clock.advance(23 * 3600)  # 08:00 the next day: a feed is due, nothing to retry yet
    early = offers.round()
    assert early.retried == 0 and early.sent is None
    assert offers.row("NEW").sync_state == "rejected"

    offers.clock.advance(3600 + 60)
    retry = offers.round()
    assert retry.retried == 1 and retry.sent is not None and retry.offers == 1
    assert offers.row("NEW").import_id == retry.sent
    offers.complete(retry.sent)
    offers.round()
    assert offers.states("NEW", "OTHER") == {"NEW": "live", "OTHER": "rejected"}
    assert offers.marketplace_offers()["NEW"]["product-id"] == ean(1)


def test_a_product_still_unknown_is_tried_again_each_day(offers: Offers) -> None:
    offers.load(source("NEW", 1))
    offers.unknown_products(ean(1))
    sent = offers.round()
    offers.complete(sent.sent)
    offers.round()
    for _ in range(2):
        offers.clock.advance(24 * 3600 + 60)
        retry = offers.round()
        assert retry.retried == 1 and retry.sent is not None
        assert offers.row("NEW").sync_state == "sent"
        offers.complete(retry.sent)
        offers.round()
        row = offers.row("NEW")
        assert row.sync_state == "rejected" and row.marketplace_message == "product not found"
        assert offers.round().retried == 0  # not again the same day


def test_an_offer_with_errors_is_blocked_not_pending(offers: Offers) -> None:
    offers.load(source("A", 1), source("BROKEN", 2, delivery_fee=""))
    assert offers.states("A", "BROKEN") == {"A": "pending", "BROKEN": "blocked"}
    assert [r.sku for r in offers.queries.list(sync="blocked")] == ["BROKEN"]
    assert [r.sku for r in offers.queries.list(sync="pending")] == ["A"]
    offers.feed_all()

    # A live offer changed into an invalid one is blocked; fixed, it is pending again.
    offers.catalog.put(CHANNEL, "A", source("A", 1, delivery_fee=""))
    offers.project()
    assert offers.row("A").sync_state == "blocked"
    offers.catalog.put(CHANNEL, "A", source("A", 1, price="18.00"))
    offers.project()
    assert offers.row("A").sync_state == "pending"


# ---------------------------------------------------------------- the running service


@pytest.fixture
def quick_imports() -> Iterator[LiveServer]:
    """A sandbox that processes an offer import half a second after it arrives."""
    timings = Timings(**{**manual_timings().as_dict(), "offer_import_delay": 0.5})
    with sandbox_server(timings=timings) as server:
        yield server


VALID = {"ean": ean(1), "price": "19.90", "quantity": 5, "delivery_fee": "4.90"}


def test_a_stock_out_reaches_the_marketplace_within_seconds(
        settings: Settings, quick_imports: LiveServer) -> None:
    synced = with_channels(settings, quick_imports.url, sync_mode="embedded",
                           projection_poll_interval=0.5, import_interval=60.0,
                           action_interval=60.0)
    server = LiveServer(create_app(synced), headers=bearer(make_api_key(synced)))
    with server, httpx.Client(base_url=server.url, headers=server.headers, timeout=20) as ours, \
            httpx.Client(base_url=quick_imports.url + "/control", timeout=20) as control:

        def imports() -> list[dict[str, Any]]:
            response = control.get("/offer-imports", params={"shop_id": SHOP})
            response.raise_for_status()
            return list(response.json()["imports"])

        def offer(sku: str) -> dict[str, Any]:
            response = ours.get(f"/v1/offers/laredoute/{sku}")
            assert response.status_code == 200, response.text
            return response.json()

        for n, sku in enumerate(("TUNIC-38", "TUNIC-40"), start=1):
            body = {**VALID, "ean": ean(n)}
            assert ours.put(f"/v1/offers/laredoute/{sku}", json=body).status_code == 201
        eventually(lambda: len(ours.get("/v1/offers", params={"sync_state": "pending"})
                               .json()["items"]) == 2, timeout=15)
        # A first feed, asked for; the job follows it until it is live.
        assert ours.post("/v1/offers/laredoute/feed").json()["offers"] == 2
        eventually(lambda: offer("TUNIC-38")["sync_state"] == "live"
                   and offer("TUNIC-40")["sync_state"] == "live", timeout=20)
        before = len(imports())

        started = time.monotonic()
        version = offer("TUNIC-38")["version"]
        out = ours.put("/v1/offers/laredoute/TUNIC-38", json={**VALID, "quantity": 0},
                       headers={"If-Match": f'"{version}"'})
        assert out.status_code == 200, out.text
        eventually(lambda: len(imports()) > before, timeout=10, interval=0.02)
        elapsed = time.monotonic() - started
        # Within seconds, not at the next minute's round (generous for a busy machine).
        assert elapsed < 5, elapsed
        eventually(lambda: offer("TUNIC-38")["sync_state"] == "live", timeout=10)
        assert offer("TUNIC-38")["values"]["quantity"] == 0
        assert imports()[-1]["lines_read"] == 1  # the stock-out alone
