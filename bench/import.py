"""Order import from the sandbox marketplace into PostgreSQL, against plain page fetching.

    .venv/bin/python bench/import.py [--orders 10000] [--delay-minutes 4] [--interval 120]

1. Starts the sandbox marketplace (its own process, on loopback) and generates N orders.
2. Baseline: fetches every OR11 page (100 orders each) with the same client, storing nothing.
3. Imports the N orders from scratch into a fresh PostgreSQL database with the import job
   (one round: every page fetched, parsed, checked and written as events).
4. The baseline again, so that the ratio is taken against the mean of two fetch runs.
5. Delay from an order appearing in the sandbox to being in the New tab of the service's API:
   the service runs as `oms serve` does (embedded sync, import every --interval seconds, the
   default of OMS_IMPORT_INTERVAL unless told), orders are created at random moments over
   --delay-minutes, and each is polled for in GET /v1/orders?tab=new.
The sandbox dates its orders by its own clock, which is real time. Exits non-zero, saying why,
when a page or an order is missing, the import reports errors, a request to the sandbox or the
service gets an answer other than 2xx, or an order never reaches the New tab.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.adapters.db import open_database  # noqa: E402
from app.adapters.laredoute.client import MiraklClient  # noqa: E402
from app.adapters.laredoute.marketplace import LaRedouteMarketplace  # noqa: E402
from app.adapters.sync_store import SyncStore  # noqa: E402
from app.application.order_import import OrderImporter  # noqa: E402
from app.bootstrap import open_service  # noqa: E402
from app.config import Settings  # noqa: E402
from bench.commands import api_key_headers, fresh_database, migrated, percentile  # noqa: E402
from tests.support import free_port  # noqa: E402

KEY = "sandbox-laredoute-key"


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.1)


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str):
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(ready_url)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sandbox(port: int):
    return process(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--payment-delay", "none",
         "--seed", "11"],
        dict(os.environ), f"http://127.0.0.1:{port}/control/clock",
    )


def generate(url: str, count: int) -> list[str]:
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=120) as control:
        while len(ids) < count:
            chunk = min(500, count - len(ids))
            response = control.post("/control/orders", json={"count": chunk, "shop_id": 2001})
            response.raise_for_status()
            ids.extend(response.json()["orders"])
    return ids


def fetch_all(url: str) -> tuple[float, int]:
    with MiraklClient(url, KEY, 2001) as client:
        started = time.perf_counter()
        fetched = sum(len(page.orders) for page in client.iter_order_pages(page_size=100))
        return time.perf_counter() - started, fetched


def import_all(url: str, settings: Settings) -> tuple[float, int]:
    db = open_database(settings)
    service = open_service(settings)
    try:
        with LaRedouteMarketplace("laredoute", url, KEY, 2001) as marketplace:
            importer = OrderImporter(service, SyncStore(db), marketplace, page_size=100)
            started = time.perf_counter()
            run = importer.run()
            seconds = time.perf_counter() - started
        if run.errors:
            sys.exit(f"benchmark failed: the import reported {run.errors} errors")
        return seconds, run.imported
    finally:
        service.close()
        db.close()


def measure_delay(url: str, database_url: str, minutes: float, interval: float | None) -> list[float]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OMS_LAREDOUTE_BASE_URL": url,
        "OMS_LAREDOUTE_API_KEY": KEY,
        "OMS_LAREDOUTE_SHOP_ID": "2001",
        "OMS_LOG_LEVEL": "WARNING",
        # The poller reads the New tab many times a second: not what the key's limit is for.
        "OMS_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    auth = api_key_headers(database_url)
    if interval is not None:
        env["OMS_IMPORT_INTERVAL"] = str(interval)
    api = f"http://127.0.0.1:{port}"
    delays: list[float] = []
    pending: dict[str, float] = {}
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=api, timeout=10, headers=auth) as client:
            while not stop.is_set() or pending:
                with lock:
                    waiting = dict(pending)
                for mid, created in waiting.items():
                    try:
                        response = client.get("/v1/orders", params={"tab": "new", "q": mid})
                    except httpx.HTTPError as exc:
                        failures.append(f"GET /v1/orders failed: {exc!r}")
                        return
                    if not response.is_success:
                        failures.append(f"GET /v1/orders answered {response.status_code}")
                        return
                    if response.json()["items"]:
                        with lock:
                            delays.append(time.monotonic() - created)
                            pending.pop(mid)
                time.sleep(0.05)

    with process([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env,
                 api + "/healthz"):
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        end = time.monotonic() + minutes * 60
        rng = random.Random(5)
        with httpx.Client(base_url=url, timeout=10) as control:
            while time.monotonic() < end and not failures:
                time.sleep(rng.uniform(5, 25))
                response = control.post("/control/orders", json={"count": 1, "shop_id": 2001})
                response.raise_for_status()
                with lock:
                    pending[response.json()["orders"][0]] = time.monotonic()
        stop.set()
        poller.join(timeout=(interval or Settings().import_interval) * 2 + 30)
    if failures:
        sys.exit(f"benchmark failed: {failures[0]}")
    with lock:
        if pending:
            sys.exit(f"benchmark failed: {len(pending)} orders never reached the New tab")
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--delay-minutes", type=float, default=4.0)
    parser.add_argument("--interval", type=float, default=None,
                        help="import interval for the delay measure (default: the setting's)")
    parser.add_argument("--admin-url", default=os.environ.get(
        "OMS_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with sandbox(port):
        started = time.perf_counter()
        generate(url, args.orders)
        print(f"sandbox: {args.orders:,} orders generated in {time.perf_counter() - started:.1f} s")

        fetch_1, fetched = fetch_all(url)
        if fetched != args.orders:
            sys.exit(f"benchmark failed: {fetched} orders fetched of {args.orders} generated")
        with fresh_database(args.admin_url) as database_url:
            settings = migrated(database_url)
            seconds, imported = import_all(url, settings)
        if imported != args.orders:
            sys.exit(f"benchmark failed: {imported} orders imported of {args.orders} generated")
        fetch_2, _ = fetch_all(url)

        fetch_rate = args.orders / statistics.mean([fetch_1, fetch_2])
        import_rate = args.orders / seconds
        print(f"fetch only (OR11 pages of 100, nothing stored): {args.orders / fetch_1:,.0f} and "
              f"{args.orders / fetch_2:,.0f} orders/s (before and after the import)")
        print(f"import from scratch into PostgreSQL: {import_rate:,.0f} orders/s "
              f"({seconds:.1f} s for {imported:,} orders)")
        print(f"ratio import / fetch: {import_rate / fetch_rate:.2f} (target >= 0.8)")

        if args.delay_minutes > 0:
            with fresh_database(args.admin_url) as database_url:
                migrated(database_url)
                delays = measure_delay(url, database_url, args.delay_minutes, args.interval)
            interval = args.interval or Settings().import_interval
            print(f"sandbox -> New tab delay, import every {interval:g} s, {len(delays)} orders: "
                  f"mean {statistics.mean(delays):.1f} s, p50 {percentile(delays, 0.5):.1f} s, "
                  f"max {max(delays):.1f} s")


if __name__ == "__main__":
    main()
