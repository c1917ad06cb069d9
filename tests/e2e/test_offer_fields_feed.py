"""The offer feed against a shop declaring only some of La Redoute's additional fields: the
file carries the standard columns and the declared fields only, the fields left out are said
once, AF01 is read once a day, and a failed import has it read again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from app.adapters.laredoute.offer_files import COLUMNS
from app.config import Settings
from app.ports.marketplace import UpstreamUnavailable
from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.offer_file import DEFAULT_OFFER_ADDITIONAL_FIELDS
from tests.e2e.harness import Harness, manual_timings, with_channels
from tests.e2e.test_offer_feed import Offers, source
from tests.support import LiveServer

# The shop declares no relay terms.
DECLARED = tuple(f for f in DEFAULT_OFFER_ADDITIONAL_FIELDS if not f.code.startswith("relay-"))


@pytest.fixture
def market(settings: Settings) -> Iterator[Harness]:
    config = SandboxConfig(seed=7, timings=manual_timings(), offer_additional_fields=DECLARED)
    with LiveServer(create_sandbox_app(config)) as server:
        harness = Harness(with_channels(settings, server.url), server.url)
        yield harness
        harness.close()


@pytest.fixture
def offers(market: Harness, monkeypatch: pytest.MonkeyPatch) -> Offers:
    offers = Offers(market)
    marketplace = offers.feed.marketplace
    read = marketplace.offer_additional_fields
    offers.af01_calls = 0  # type: ignore[attr-defined]

    def counted() -> list[dict[str, Any]]:
        offers.af01_calls += 1  # type: ignore[attr-defined]
        return read()

    monkeypatch.setattr(marketplace, "offer_additional_fields", counted)
    return offers


def test_the_file_carries_only_standard_and_declared_columns(offers: Offers) -> None:
    offers.load(source("HOME", 1, parent_sku="PARENT-1"),
                source("RELAY", 2, relay="true", relay_fee="2.90", relay_delay="3",
                       relay_days_min="3", relay_days_max="5"))
    with capture_logs() as logs:
        import_id = offers.feed_all()
    assert offers.states("HOME", "RELAY") == {"HOME": "live", "RELAY": "live"}

    lines = offers.marketplace_offers()
    expected = [*COLUMNS, "delivery-fee", "delivery-days-range-min", "delivery-days-range-max",
                "partner-product-parent"]
    assert list(lines["RELAY"]) == expected
    assert (lines["RELAY"]["delivery-fee"], lines["HOME"]["partner-product-parent"]) == (
        "4.90", "PARENT-1")
    left_out = sorted(e["field_code"] for e in logs if e["event"] == "offer_field_not_sent")
    assert left_out == ["relay-days-range-max", "relay-days-range-min", "relay-delay",
                        "relay-fee"]
    assert all(e["log_level"] == "warning" and e["channel"] == "laredoute"
               and e["reason"] == "not_declared"
               for e in logs if e["event"] == "offer_field_not_sent")

    # The next file: AF01 not read again, nothing said again.
    offers.load(source("HOME", 1, price="18.90", parent_sku="PARENT-1"))
    with capture_logs() as again:
        sent = offers.feed.send_now()
    assert sent.sent is not None and sent.sent != import_id
    assert not [e for e in again if e["event"] == "offer_field_not_sent"]
    assert offers.af01_calls == 1  # type: ignore[attr-defined]


def test_a_failed_import_has_the_declared_fields_read_again(
        offers: Offers, monkeypatch: pytest.MonkeyPatch) -> None:
    offers.load(source("A", 1))
    first = offers.round()
    assert first.sent is not None and offers.af01_calls == 1  # type: ignore[attr-defined]
    # The marketplace fails the import; the fields are read again before the next file, once
    # the minute between two reads has passed.
    offers.feed.reference.clock = lambda: time.time() + 120  # type: ignore[method-assign]
    follow = offers.feed.marketplace.offer_import
    monkeypatch.setattr(offers.feed.marketplace, "offer_import",
                        lambda _id: {"status": "FAILED", "reason_status": "Unknown columns"})
    done = offers.feed.send_now()
    assert done.failed == [first.sent] and done.sent is not None
    assert offers.af01_calls == 2  # type: ignore[attr-defined]
    # Read: the next file does not read them again.
    offers.load(source("A", 1, price="18.90"))
    monkeypatch.setattr(offers.feed.marketplace, "offer_import", follow)
    offers.complete(done.sent)
    after = offers.feed.send_now()
    assert after.completed == [done.sent] and after.sent is not None
    assert offers.af01_calls == 2  # type: ignore[attr-defined]


def test_without_the_declared_fields_nothing_is_sent(
        offers: Offers, monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> list[dict[str, Any]]:
        raise UpstreamUnavailable("AF01", "HTTP 503: busy", status=503)

    monkeypatch.setattr(offers.feed.marketplace, "offer_additional_fields", down)
    offers.load(source("A", 1))
    failed = offers.round()
    assert failed.sent is None and failed.error is not None and "AF01" in failed.error
    assert offers.states("A") == {"A": "pending"}
    assert offers.marketplace_imports() == []

    monkeypatch.undo()  # AF01 answers again: the next round sends
    sent = offers.round()
    assert sent.sent is not None and offers.states("A") == {"A": "sent"}
