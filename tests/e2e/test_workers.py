"""Import workers that die mid-round, and several running at once: every order exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from app.adapters.recorders import EVENTS_TABLE
from app.config import Settings
from tests.e2e.harness import LABRANDBOUTIQUE_KEY, LAREDOUTE_KEY, Harness, eventually

ROOT = Path(__file__).resolve().parents[2]


def _imports_per_order(market: Harness) -> dict[str, int]:
    rows = market.db.execute(
        f"SELECT originator_id, COUNT(*) FROM {EVENTS_TABLE}"
        " WHERE originator_version = 1 GROUP BY originator_id"
    )
    return {str(oid): int(n) for oid, n in rows}


def _worker_env(settings: Settings, sandbox_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "OMS_LAREDOUTE_BASE_URL": sandbox_url,
        "OMS_LAREDOUTE_API_KEY": LAREDOUTE_KEY,
        "OMS_LAREDOUTE_SHOP_ID": "2001",
        "OMS_LABRANDBOUTIQUE_BASE_URL": sandbox_url,
        "OMS_LABRANDBOUTIQUE_API_KEY": LABRANDBOUTIQUE_KEY,
        "OMS_LABRANDBOUTIQUE_SHOP_ID": "2002",
        "OMS_IMPORT_INTERVAL": "0.2",
        "OMS_IMPORT_PAGE_SIZE": "10",
        "OMS_LOG_LEVEL": "WARNING",
    }


def test_a_worker_killed_mid_round_loses_nothing_and_its_successor_imports_each_order_once(
    market: Harness,
) -> None:
    ordered = market.generate(300)
    # Each page answers slowly, so the round is still running when the worker is killed.
    market.fault("slow", method="GET", path_contains="/api/orders", delay=0.15, times=10_000)
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT, env=_worker_env(market.settings, market.url),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        eventually(lambda: len(_imports_per_order(market)) >= 30, timeout=60, interval=0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    done_before = len(_imports_per_order(market))
    assert 30 <= done_before < 300, "the worker was not stopped in the middle of its round"
    assert market.sync.store.cursor("laredoute") is None  # the round never finished

    market.clear_faults()
    run = market.import_round()
    assert run.errors == 0
    assert run.imported == 300 - done_before
    imports = _imports_per_order(market)
    assert len(imports) == 300 and set(imports.values()) == {1}
    assert {market.order(mid).marketplace_order_id for mid in ordered} == set(ordered)


def test_two_workers_importing_at_once_import_each_order_once(market: Harness) -> None:
    ordered = market.generate(150)
    other = Harness(market.settings, market.url)
    try:
        for harness in (market, other):
            harness.sync.importers["laredoute"].page_size = 10
        results: dict[str, object] = {}

        def run(name: str, harness: Harness) -> None:
            try:
                results[name] = harness.import_round()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results[name] = exc

        threads = [threading.Thread(target=run, args=(name, h))
                   for name, h in (("first", market), ("second", other))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not [r for r in results.values() if isinstance(r, Exception)], results
        assert sum(r.imported for r in results.values()) == 150  # type: ignore[attr-defined]
        assert all(r.errors == 0 for r in results.values())  # type: ignore[attr-defined]
    finally:
        other.close()
    imports = _imports_per_order(market)
    assert len(imports) == 150 and set(imports.values()) == {1}
    assert all(market.order(mid) for mid in ordered)


def test_two_schedulers_never_run_the_same_job_at_once(market: Harness) -> None:
    """Each job runs under its lease: of two processes' schedulers, one runs it, one waits."""
    other = Harness(market.settings, market.url)
    try:
        assert market.sync.scheduler.run_once("import:laredoute") is True
        assert other.sync.scheduler.run_once("import:laredoute") is False
        assert other.sync.scheduler.run_once("deliver") is True
        assert market.sync.scheduler.run_once("deliver") is False
        market.sync.scheduler.leases.release("import:laredoute")
        assert other.sync.scheduler.run_once("import:laredoute") is True
    finally:
        other.close()
