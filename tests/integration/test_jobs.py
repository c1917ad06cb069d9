"""Job leases: one holder at a time, taken over once the holder's lease expires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.adapters.db import PostgresDatabase, SQLiteDatabase
from app.adapters.jobs import JobLeases, JobScheduler, LeaseLost, PeriodicJob


class Ticker:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def leases(db: SQLiteDatabase | PostgresDatabase, ticker: Ticker) -> Iterator[tuple[JobLeases, JobLeases]]:
    yield JobLeases(db, holder="worker-a", clock=ticker), JobLeases(db, holder="worker-b", clock=ticker)


def test_a_lease_has_one_holder_until_it_expires(leases: tuple[JobLeases, JobLeases], ticker: Ticker) -> None:
    a, b = leases
    assert a.acquire("import:laredoute", ttl=30)
    assert not b.acquire("import:laredoute", ttl=30)
    assert a.acquire("import:laredoute", ttl=30)  # renewed by its holder
    ticker.now += 29
    assert not b.acquire("import:laredoute", ttl=30)
    ticker.now += 31  # a stopped renewing: its lease ran out
    assert b.acquire("import:laredoute", ttl=30)
    assert not a.acquire("import:laredoute", ttl=30)
    assert a.holders()["import:laredoute"][0] == "worker-b"


def test_a_released_lease_is_free_at_once_and_leases_are_per_job(
    leases: tuple[JobLeases, JobLeases],
) -> None:
    a, b = leases
    assert a.acquire("deliver", ttl=30)
    assert b.acquire("import:labrandboutique", ttl=30)
    b.release("deliver")  # not b's lease: nothing happens
    assert not b.acquire("deliver", ttl=30)
    a.release("deliver")
    assert b.acquire("deliver", ttl=30)


def test_the_scheduler_runs_a_job_only_under_its_lease_and_stops_a_round_that_lost_it(
    leases: tuple[JobLeases, JobLeases], ticker: Ticker,
) -> None:
    a, b = leases
    rounds: list[str] = []

    def long_round(heartbeat) -> None:
        rounds.append("started")
        ticker.now += 100  # the round outlived its lease, and b took the job over meanwhile
        assert b.acquire("import:laredoute", ttl=30)
        heartbeat()
        rounds.append("finished")

    scheduler = JobScheduler(a, [PeriodicJob("import:laredoute", 10, long_round)])
    with pytest.raises(LeaseLost):
        scheduler.run_once("import:laredoute")
    assert rounds == ["started"]
    assert scheduler.run_once("import:laredoute") is False  # b holds it now


def test_the_scheduler_threads_run_each_job_every_interval(
    db: SQLiteDatabase | PostgresDatabase,
) -> None:
    import threading

    ran = threading.Event()
    count = {"n": 0}

    def job(heartbeat) -> None:
        count["n"] += 1
        if count["n"] >= 3:
            ran.set()

    scheduler = JobScheduler(JobLeases(db), [PeriodicJob("tick", 0.01, job)])
    scheduler.start()
    try:
        assert ran.wait(5)
    finally:
        scheduler.stop()
    assert JobLeases(db).holders() == {}  # released at stop


def test_a_job_asking_for_its_next_round_sooner_gets_it(
    db: SQLiteDatabase | PostgresDatabase,
) -> None:
    import threading
    import time

    done = threading.Event()
    rounds: list[float] = []

    def job(heartbeat) -> None:
        rounds.append(time.monotonic())
        if len(rounds) >= 3:
            done.set()

    # An interval of a minute, but the job asks for its next round within 0.05 s.
    scheduler = JobScheduler(JobLeases(db), [PeriodicJob("soon", 60.0, job,
                                                         next_wait=lambda: 0.05)])
    scheduler.start()
    try:
        assert done.wait(10)
    finally:
        scheduler.stop()


def test_a_job_whose_next_wait_fails_or_has_none_waits_its_interval() -> None:
    def broken() -> float | None:
        raise RuntimeError("store down")

    assert JobScheduler._wait(PeriodicJob("a", 30.0, lambda _: None)) == 30.0
    assert JobScheduler._wait(PeriodicJob("b", 30.0, lambda _: None, next_wait=lambda: None)) == 30.0
    assert JobScheduler._wait(PeriodicJob("c", 30.0, lambda _: None, next_wait=broken)) == 30.0
    assert JobScheduler._wait(PeriodicJob("d", 30.0, lambda _: None, next_wait=lambda: 90.0)) == 30.0
    assert JobScheduler._wait(PeriodicJob("e", 30.0, lambda _: None, next_wait=lambda: -1.0)) == 0.0
