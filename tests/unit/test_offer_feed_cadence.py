"""The offer feed's cadence: slots at wall-clock hours in Paris, across summer and winter time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.application.offer_feed import feed_cadence, poll_delay, product_unknown

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_first_feed_is_due_at_once() -> None:
    cadence = feed_cadence(paris(2026, 6, 10, 9, 30), None)
    assert cadence.due
    assert cadence.latest_slot == paris(2026, 6, 10, 8)
    assert cadence.next_slot == paris(2026, 6, 10, 12)


def test_a_feed_after_the_latest_slot_makes_the_next_wait() -> None:
    now = paris(2026, 6, 10, 9, 30)
    assert not feed_cadence(now, paris(2026, 6, 10, 8, 0, 1)).due
    assert not feed_cadence(now, paris(2026, 6, 10, 8)).due  # started right at the slot
    assert feed_cadence(now, paris(2026, 6, 10, 7, 59, 59)).due


def test_each_default_slot_of_a_day() -> None:
    last = paris(2026, 6, 10, 0, 5)
    for hour in (4, 8, 12, 16, 20):
        slot = paris(2026, 6, 10, hour)
        assert not feed_cadence(slot - timedelta(seconds=1), last).due
        cadence = feed_cadence(slot, last)
        assert cadence.due and cadence.latest_slot == slot
        last = slot + timedelta(seconds=5)


def test_after_the_last_slot_the_next_is_tomorrow_morning() -> None:
    cadence = feed_cadence(paris(2026, 6, 10, 23, 0), paris(2026, 6, 10, 20, 1))
    assert not cadence.due
    assert cadence.latest_slot == paris(2026, 6, 10, 20)
    assert cadence.next_slot == paris(2026, 6, 11, 4)


def test_before_the_first_slot_the_latest_is_last_evening() -> None:
    cadence = feed_cadence(paris(2026, 6, 11, 2, 0), paris(2026, 6, 10, 19, 0))
    assert cadence.due  # the 20:00 feed was missed
    assert cadence.latest_slot == paris(2026, 6, 10, 20)
    assert cadence.next_slot == paris(2026, 6, 11, 4)


def test_now_in_any_zone_is_the_same_instant() -> None:
    last = paris(2026, 6, 10, 8, 30)
    at_noon_paris = utc(2026, 6, 10, 10, 0)  # summer: UTC+2
    assert feed_cadence(at_noon_paris, last).due
    assert not feed_cadence(at_noon_paris - timedelta(seconds=1), last).due
    new_york = at_noon_paris.astimezone(timezone(timedelta(hours=-4)))
    assert feed_cadence(new_york, last) == feed_cadence(at_noon_paris, last)


# ---------------------------------------------------------------- summer time: 2026-03-29


def test_spring_forward_slots_are_paris_wall_clock() -> None:
    # Saturday 20:00 is 19:00 UTC (UTC+1); Sunday 04:00 is 02:00 UTC (UTC+2): 7 hours apart.
    last = utc(2026, 3, 28, 19, 0, 10)
    assert not feed_cadence(utc(2026, 3, 29, 1, 59, 59), last).due
    cadence = feed_cadence(utc(2026, 3, 29, 2, 0), last)
    assert cadence.due
    assert cadence.latest_slot == paris(2026, 3, 29, 4)
    assert cadence.latest_slot.utcoffset() == timedelta(hours=2)
    assert cadence.latest_slot.astimezone(UTC) == utc(2026, 3, 29, 2)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 3, 29, 6)  # 08:00 CEST


def test_spring_forward_next_slot_from_the_night_before() -> None:
    cadence = feed_cadence(utc(2026, 3, 28, 23, 30), utc(2026, 3, 28, 19, 5))
    assert not cadence.due
    assert cadence.latest_slot.astimezone(UTC) == utc(2026, 3, 28, 19)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 3, 29, 2)
    assert cadence.next_slot.astimezone(UTC) - cadence.latest_slot.astimezone(UTC) == timedelta(
        hours=7)


def test_spring_forward_an_hour_that_does_not_exist_is_an_hour_later() -> None:
    hours = [2, 3, 12]
    # 02:00 does not exist on 29 March: 02:00 and 03:00 are both 01:00 UTC, one slot.
    cadence = feed_cadence(utc(2026, 3, 29, 0, 59, 59), utc(2026, 3, 28, 11, 5), hours=hours)
    assert cadence.latest_slot.astimezone(UTC) == utc(2026, 3, 28, 11)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 3, 29, 1)
    cadence = feed_cadence(utc(2026, 3, 29, 1, 0), utc(2026, 3, 28, 11, 5), hours=hours)
    assert cadence.due
    assert cadence.latest_slot == paris(2026, 3, 29, 3)
    assert cadence.next_slot == paris(2026, 3, 29, 12)
    # Once fed at 03:00 CEST nothing else is due before noon.
    assert not feed_cadence(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 0, 5),
                            hours=hours).due


# ---------------------------------------------------------------- winter time: 2026-10-25


def test_fall_back_slots_are_paris_wall_clock() -> None:
    # Saturday 20:00 is 18:00 UTC (UTC+2); Sunday 04:00 is 03:00 UTC (UTC+1): 9 hours apart.
    last = utc(2026, 10, 24, 18, 0, 10)
    assert not feed_cadence(utc(2026, 10, 25, 2, 59, 59), last).due
    cadence = feed_cadence(utc(2026, 10, 25, 3, 0), last)
    assert cadence.due
    assert cadence.latest_slot == paris(2026, 10, 25, 4)
    assert cadence.latest_slot.utcoffset() == timedelta(hours=1)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 10, 25, 7)  # 08:00 CET


def test_fall_back_an_hour_that_happens_twice_is_one_slot() -> None:
    hours = [2, 12]
    # 02:00 happens at 00:00 UTC (CEST) and again at 01:00 UTC (CET): the first counts.
    last = utc(2026, 10, 24, 10, 5)
    cadence = feed_cadence(utc(2026, 10, 25, 0, 0), last, hours=hours)
    assert cadence.due
    assert cadence.latest_slot.astimezone(UTC) == utc(2026, 10, 25, 0)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 10, 25, 11)  # noon CET
    # Fed at the first 02:00: the second 02:00 is no new slot.
    fed = utc(2026, 10, 25, 0, 0, 5)
    assert not feed_cadence(utc(2026, 10, 25, 1, 30), fed, hours=hours).due


def test_slots_of_the_days_around_the_changes_are_all_found() -> None:
    for day in (paris(2026, 3, 28), paris(2026, 3, 29), paris(2026, 3, 30),
                paris(2026, 10, 24), paris(2026, 10, 25), paris(2026, 10, 26)):
        last = None
        seen = []
        moment = day.astimezone(UTC)
        end = (day + timedelta(days=1)).astimezone(UTC)
        while moment < end:
            cadence = feed_cadence(moment, last)
            if cadence.due:
                seen.append(cadence.latest_slot.astimezone(PARIS).hour)
                last = moment
            moment += timedelta(minutes=15)
        # The first round of the day finds last evening's slot missed, then one per slot.
        assert seen == [20, 4, 8, 12, 16, 20], (day, seen)


# ---------------------------------------------------------------- configuration and misuse


def test_other_hours_and_zone() -> None:
    cadence = feed_cadence(utc(2026, 6, 10, 13, 0), utc(2026, 6, 10, 9, 0), hours=[6, 18],
                           timezone="America/New_York")
    # 13:00 UTC is 09:00 in New York (UTC-4): the latest slot is 06:00 there, 10:00 UTC.
    assert cadence.due
    assert cadence.latest_slot.astimezone(UTC) == utc(2026, 6, 10, 10)
    assert cadence.next_slot.astimezone(UTC) == utc(2026, 6, 10, 22)


def test_one_slot_a_day() -> None:
    cadence = feed_cadence(paris(2026, 6, 10, 3), paris(2026, 6, 9, 5), hours=[4])
    assert not cadence.due
    assert cadence.latest_slot == paris(2026, 6, 9, 4)
    assert cadence.next_slot == paris(2026, 6, 10, 4)


@pytest.mark.parametrize("now, last, hours", [
    (datetime(2026, 6, 10, 9), None, [4]),
    (paris(2026, 6, 10, 9), datetime(2026, 6, 10, 8), [4]),
    (paris(2026, 6, 10, 9), None, []),
    (paris(2026, 6, 10, 9), None, [24]),
])
def test_misuse_is_refused(now: datetime, last: datetime | None, hours: list[int]) -> None:
    with pytest.raises(ValueError):
        feed_cadence(now, last, hours=hours)


# ---------------------------------------------------------------- following an import


def test_a_running_import_is_read_at_its_age_again_within_bounds() -> None:
    assert [poll_delay(age) for age in (0, 0.5, 1, 2, 4, 30, 59, 60, 3600)] == [
        1.0, 1.0, 1, 2, 4, 30, 59, 60, 60.0]
    assert poll_delay(10, first=2, cap=5) == 5


def test_the_marketplace_not_knowing_the_product_is_recognised_in_its_messages() -> None:
    assert product_unknown("product not found")  # the sandbox's line error
    assert product_unknown("The product does not exist")  # the OF03 example of the spec
    assert product_unknown("price must be a number | product not found")  # several joined
    assert not product_unknown("discount price must be lower than the price")
    assert not product_unknown(None)
