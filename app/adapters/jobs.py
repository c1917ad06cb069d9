"""Periodic jobs that run in one place at a time, across threads and processes.

Each job holds a lease row in `job_leases` while it runs; another process (or a second
worker in the same one) sees the lease and waits. A lease outlives its holder by at most its
time to live, so a killed worker's job is taken over soon after. The lease is a plain row
with an expiry, so the same rule works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from app.adapters.db import Database

log = structlog.get_logger(__name__)

_ACQUIRE = (
    "INSERT INTO job_leases (name, holder, expires_at) VALUES (%s, %s, %s)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
    " WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < %s"
    " RETURNING holder"
)


class JobLeases:
    """Who runs which job; `holder` names this process and thread group."""

    def __init__(
        self,
        db: Database,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.holder = holder or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.clock = clock

    def acquire(self, name: str, ttl: float) -> bool:
        """Take or renew the lease; False while another holder's lease is still valid."""
        now = self.clock()
        with self.db.transaction() as tx:
            rows = tx.execute(_ACQUIRE, (name, self.holder, now + ttl, now))
        return bool(rows)

    def release(self, name: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM job_leases WHERE name = %s AND holder = %s", (name, self.holder)
            )

    def holders(self) -> dict[str, tuple[str, float]]:
        rows = self.db.execute("SELECT name, holder, expires_at FROM job_leases")
        return {name: (holder, float(expires)) for name, holder, expires in rows}


@dataclass
class PeriodicJob:
    """`run(heartbeat)` does one round; it calls heartbeat() now and then on long rounds.
    `next_wait()`, when given, may ask for the next round sooner than `interval` (seconds;
    None for the interval)."""

    name: str
    interval: float
    run: Callable[[Callable[[], None]], object]
    ttl: float | None = None
    next_wait: Callable[[], float | None] | None = None
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def lease_ttl(self) -> float:
        return self.ttl or max(30.0, 3 * self.interval)

    def wake(self) -> None:
        self._wake.set()


class LeaseLost(Exception):
    """Another holder took the lease while this round was running."""


class JobScheduler:
    """Runs each job every `interval` seconds in its own thread, under its lease."""

    def __init__(self, leases: JobLeases, jobs: list[PeriodicJob]) -> None:
        self.leases = leases
        self.jobs = {job.name: job for job in jobs}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_once(self, name: str) -> bool:
        """One round of a job if this holder gets its lease; True when it ran."""
        job = self.jobs[name]
        if not self.leases.acquire(job.name, job.lease_ttl):
            return False

        def heartbeat() -> None:
            if not self.leases.acquire(job.name, job.lease_ttl):
                raise LeaseLost(job.name)

        job.run(heartbeat)
        return True

    def start(self) -> None:
        for job in self.jobs.values():
            thread = threading.Thread(target=self._loop, args=(job,), name=f"job-{job.name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for job in self.jobs.values():
            job.wake()
        for thread in self._threads:
            thread.join(timeout)
        for job in self.jobs.values():
            try:
                self.leases.release(job.name)
            except Exception:  # noqa: BLE001 - the store may be gone at shutdown; the lease expires
                log.warning("job_lease_release_failed", job=job.name)
        self._threads.clear()

    def _loop(self, job: PeriodicJob) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once(job.name)
                if not ran:
                    log.debug("job_held_elsewhere", job=job.name)
            except LeaseLost:
                log.warning("job_lease_lost", job=job.name)
            except Exception as exc:  # noqa: BLE001 - a failed round is retried next interval
                log.exception("job_failed", job=job.name, error=type(exc).__name__)
            job._wake.wait(self._wait(job))
            job._wake.clear()

    @staticmethod
    def _wait(job: PeriodicJob) -> float:
        if job.next_wait is None:
            return job.interval
        try:
            sooner = job.next_wait()
        except Exception as exc:  # noqa: BLE001 - the store may be down: wait the interval
            log.warning("job_next_wait_failed", job=job.name, error=type(exc).__name__)
            return job.interval
        return job.interval if sooner is None else min(job.interval, max(0.0, sooner))


__all__ = ["JobLeases", "JobScheduler", "LeaseLost", "PeriodicJob"]
