"""`oms worker` serves its own metrics: its import rounds against the sandbox, and the gauges
read from the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import LAREDOUTE_KEY, Harness, eventually
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def _samples(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_the_worker_shows_its_import_rounds_and_the_store_on_its_metrics_port(
        market: Harness) -> None:
    market.generate(3)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": market.settings.database_url.get_secret_value(),
        "OMS_LAREDOUTE_BASE_URL": market.url,
        "OMS_LAREDOUTE_API_KEY": LAREDOUTE_KEY,
        "OMS_LAREDOUTE_SHOP_ID": "2001",
        "OMS_IMPORT_INTERVAL": "0.2",
        "OMS_LOG_LEVEL": "WARNING",
        "OMS_WORKER_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    laredoute = frozenset({("channel", "laredoute")})
    try:
        def imported() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            try:
                samples = _samples(port)
            except httpx.HTTPError:
                return None
            done = samples.get(("oms_import_orders_total",
                                laredoute | {("result", "imported")}), 0)
            lag = samples.get(("oms_projection_lag_events",
                               frozenset({("projection", "order_tabs")})))
            return samples if done >= 3 and lag == 0 else None

        samples = eventually(imported, timeout=60, interval=0.1)
        assert samples[("oms_import_rounds_total",
                        laredoute | {("outcome", "succeeded")})] >= 1
        assert samples[("oms_import_round_duration_seconds_count", laredoute)] >= 1
        assert samples[("oms_import_last_round_timestamp_seconds", laredoute)] > 0
        assert samples[("oms_import_last_round_failed", laredoute)] == 0
        assert samples[("oms_store_up", frozenset())] == 1
        assert samples[("oms_orders_near_deadline", laredoute)] == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert worker.returncode == 0, worker.stderr.read().decode() if worker.stderr else ""
    # Stopped with the worker.
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except httpx.HTTPError:
        pass
    else:
        raise AssertionError("the worker's metrics port still answers after it stopped")
